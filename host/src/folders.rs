//! The folders a session shares: where each lives on the host, where it appears in the guest
//! (`/sessions/<id>/mnt/<name>`, as in Cowork), and its VirtioFS tag.

use std::path::{Path, PathBuf};

use workroom_protocol::vm::{cmdline, encode_cmdline_value, AGENT_STATE_DIR, USERLAND_DIR};

use crate::vm::Share;

/// One shared folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The folder on the host (canonical).
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Its VirtioFS tag.
    pub tag: String,
    /// The name a person knows it by (the folder's own name).
    pub name: String,
}

/// The session's folders, first one being the working folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMap {
    folders: Vec<Folder>,
}

/// Tag of the agent state share.
pub const AGENT_STATE_TAG: &str = "state";

impl FolderMap {
    /// Maps `hosts` for session `session_id`; names are made unique (`Notes`, `Notes-2`).
    pub fn new(session_id: &str, hosts: &[PathBuf]) -> Self {
        let mut folders: Vec<Folder> = Vec::new();
        for (i, host) in hosts.iter().enumerate() {
            let base = host
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "folder".into());
            let mut name = base.clone();
            let mut n = 2;
            while folders.iter().any(|f| f.name == name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            folders.push(Folder {
                host: host.clone(),
                guest: format!("/sessions/{session_id}/mnt/{name}"),
                tag: format!("f{i}"),
                name,
            });
        }
        Self { folders }
    }

    /// The folders in order.
    pub fn folders(&self) -> &[Folder] {
        &self.folders
    }

    /// The working folder.
    pub fn first(&self) -> Option<&Folder> {
        self.folders.first()
    }

    /// The VirtioFS shares, plus the agent's state folder.
    pub fn shares(&self, agent_state: &Path) -> Vec<Share> {
        let mut shares: Vec<Share> = self
            .folders
            .iter()
            .map(|f| Share {
                tag: f.tag.clone(),
                host_path: f.host.clone(),
                read_only: false,
            })
            .collect();
        shares.push(Share {
            tag: AGENT_STATE_TAG.into(),
            host_path: agent_state.to_path_buf(),
            read_only: false,
        });
        shares
    }

    /// Kernel command-line words that mount every share at boot.
    pub fn cmdline(&self) -> Vec<String> {
        let mut words: Vec<String> = self
            .folders
            .iter()
            .map(|f| {
                format!(
                    "{}={}:{}",
                    cmdline::SHARE,
                    f.tag,
                    encode_cmdline_value(&f.guest)
                )
            })
            .collect();
        words.push(format!(
            "{}={AGENT_STATE_TAG}:{}",
            cmdline::SHARE,
            encode_cmdline_value(AGENT_STATE_DIR)
        ));
        words
    }

    /// The folder a guest (or host) path lies in, with the path relative to it. Relative paths are
    /// taken from the working folder, as the agent does.
    pub fn locate(&self, path: &str) -> Option<(&Folder, PathBuf)> {
        let joined;
        let path = match (Path::new(path).is_relative(), self.first()) {
            (true, Some(first)) => {
                joined = Path::new(&first.guest).join(path);
                joined.as_path()
            }
            _ => Path::new(path),
        };
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            // `..` could climb out of the folder; the agent refuses such paths anyway.
            return None;
        }
        self.folders.iter().find_map(|f| {
            path.strip_prefix(&f.guest)
                .or_else(|_| path.strip_prefix(&f.host))
                .ok()
                .map(|rel| (f, rel.to_path_buf()))
        })
    }

    /// The host path for a guest (or host) path inside the folders.
    pub fn to_host(&self, path: &str) -> Option<PathBuf> {
        self.locate(path).map(|(f, rel)| f.host.join(rel))
    }
}

/// The VirtioFS tag of the full userland's share.
pub const USERLAND_TAG: &str = "userland";

/// The full userland as a read-only share, and the kernel command-line words that mount it and
/// make it the shell's root.
pub fn userland_share(root: PathBuf) -> (Share, Vec<String>) {
    let share = Share {
        tag: USERLAND_TAG.into(),
        host_path: root,
        read_only: true,
    };
    let path = encode_cmdline_value(USERLAND_DIR);
    let words = vec![
        format!("{}={USERLAND_TAG}:{path}", cmdline::SHARE),
        format!("{}={path}", cmdline::USERLAND),
    ];
    (share, words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_with_unique_names() {
        let map = FolderMap::new(
            "s1",
            &[
                PathBuf::from("/home/u/Taxes 2026"),
                PathBuf::from("/x/Taxes 2026"),
            ],
        );
        let names: Vec<_> = map.folders().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["Taxes 2026", "Taxes 2026-2"]);
        let (folder, rel) = map
            .locate("/sessions/s1/mnt/Taxes 2026/build/out.txt")
            .unwrap();
        assert_eq!(folder.tag, "f0");
        assert_eq!(rel, PathBuf::from("build/out.txt"));
        assert_eq!(
            map.to_host("/sessions/s1/mnt/Taxes 2026-2/a").unwrap(),
            PathBuf::from("/x/Taxes 2026/a")
        );
        assert!(map.locate("/etc/passwd").is_none());
        assert_eq!(map.locate("notes.md").unwrap().1, PathBuf::from("notes.md"));
        assert!(map.locate("../escape").is_none());
        let words = map.cmdline();
        assert_eq!(words[0], "workroom.share=f0:/sessions/s1/mnt/Taxes%202026");
        assert!(words.last().unwrap().ends_with("state:/run/workroom/state"));
    }
}
