//! Agent Skills in the open `SKILL.md` format: a folder with a `SKILL.md` whose front matter has a
//! `name` and a `description`, then instructions (and any helper files beside it). The agent
//! lists them in the `Skill` tool's description; calling `Skill` with a name loads its
//! instructions into the conversation, as Claude Code does.
//!
//! Skills come from the agent itself (built in: spreadsheets, Word documents, PDFs, which use the
//! native document tools) and from `.claude/skills/<name>/SKILL.md` in the working folder, which
//! replace built-in ones of the same name.

use std::path::{Path, PathBuf};

use crate::front_matter::{read_small, FrontMatter};

/// One skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// The instructions (the file without its front matter).
    pub body: String,
    /// The folder of the skill, for its helper files (`None` for built-in skills until loaded:
    /// see [`materialize_built_in`]).
    pub dir: Option<PathBuf>,
}

/// A built-in skill: its `SKILL.md` and its helper files (path in the skill's folder, contents).
struct BuiltIn {
    skill_md: &'static str,
    files: &'static [(&'static str, &'static str)],
}

const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        skill_md: include_str!("../skills/xlsx/SKILL.md"),
        files: &[(
            "scripts/recalc.py",
            include_str!("../skills/xlsx/scripts/recalc.py"),
        )],
    },
    BuiltIn {
        skill_md: include_str!("../skills/docx/SKILL.md"),
        files: &[(
            "scripts/to_pdf.sh",
            include_str!("../skills/docx/scripts/to_pdf.sh"),
        )],
    },
    BuiltIn {
        skill_md: include_str!("../skills/pdf/SKILL.md"),
        files: &[
            (
                "scripts/pdf_to_images.py",
                include_str!("../skills/pdf/scripts/pdf_to_images.py"),
            ),
            (
                "scripts/extract_tables.py",
                include_str!("../skills/pdf/scripts/extract_tables.py"),
            ),
        ],
    },
];

/// Where built-in skills' helper files are written when a skill is loaded: under the temporary
/// directory, which the full userland's shell sees at the same path.
pub fn built_in_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join("workroom-skills").join(name)
}

/// Writes the helper files of built-in skill `name` (executable) and returns its folder; `None`
/// for a skill that is not built in or has no files.
///
/// The folder is in the shared temporary directory, where a shell command could have put links:
/// every directory on the way must be a real one (not a link), and each file is created afresh
/// without following a link, so loading a skill can never write through one into a person's files.
pub fn materialize_built_in(name: &str) -> std::io::Result<Option<PathBuf>> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let Some(built_in) = BUILT_IN
        .iter()
        .find(|b| parse(b.skill_md, None).is_some_and(|s| s.name == name))
        .filter(|b| !b.files.is_empty())
    else {
        return Ok(None);
    };
    let dir = built_in_dir(name);
    for (rel, contents) in built_in.files {
        let path = dir.join(rel);
        // The directories from the temporary one down to the file's, as `built_in_dir` names them.
        let mut walked = std::env::temp_dir();
        let inside = Path::new("workroom-skills").join(name).join(rel);
        for part in inside.parent().into_iter().flat_map(Path::components) {
            walked.push(part);
            real_dir(&walked)?;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(std::io::Error::other(format!(
                    "{} is a directory",
                    path.display()
                )))
            }
            Ok(_) => std::fs::remove_file(&path)?,
            Err(_) => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o755)
            .open(&path)?;
        file.write_all(contents.as_bytes())?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(Some(dir))
}

/// `path` is a directory and not a link to one; created when missing.
fn real_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not a directory (a link?)",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(path),
        Err(e) => Err(e),
    }
}

/// Largest `SKILL.md` read from a folder.
const MAX_SKILL_BYTES: u64 = 256 * 1024;

/// Parses a `SKILL.md`; `None` without front matter naming and describing it.
pub fn parse(text: &str, dir: Option<PathBuf>) -> Option<Skill> {
    let front = FrontMatter::parse(text)?;
    Some(Skill {
        name: front.field("name")?,
        description: front.field("description")?,
        body: front.body.trim().to_string(),
        dir,
    })
}

/// Every skill available in `cwd`: built-in ones, then the folder's.
pub fn available(cwd: &Path) -> Vec<Skill> {
    let mut all: Vec<Skill> = BUILT_IN
        .iter()
        .filter_map(|b| parse(b.skill_md, None))
        .collect();
    let root = cwd.join(".claude").join("skills");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let file = dir.join("SKILL.md");
        let Some(text) = read_small(&file, MAX_SKILL_BYTES) else {
            continue;
        };
        match parse(&text, Some(dir.clone())) {
            Some(skill) => {
                all.retain(|s| s.name != skill.name);
                all.push(skill);
            }
            None => {
                tracing::warn!(file = %file.display(), "skill skipped: no front matter with name and description")
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_skills_parse_and_the_folder_adds_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let names = |s: &[Skill]| s.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&available(dir.path())), ["xlsx", "docx", "pdf"]);
        let mine = dir.path().join(".claude/skills/receipts");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(
            mine.join("SKILL.md"),
            "---\nname: receipts\ndescription: How this office files receipts\n---\nPut them in Receipts/YYYY-MM.\n",
        )
        .unwrap();
        let pdf = dir.path().join(".claude/skills/pdf");
        std::fs::create_dir_all(&pdf).unwrap();
        std::fs::write(
            pdf.join("SKILL.md"),
            "---\nname: pdf\ndescription: Ours\n---\nUse our template.",
        )
        .unwrap();
        let all = available(dir.path());
        assert_eq!(names(&all), ["xlsx", "docx", "pdf", "receipts"]);
        assert_eq!(all[3].body, "Put them in Receipts/YYYY-MM.");
        assert_eq!(all[3].dir.as_deref(), Some(mine.as_path()));
        assert_eq!(
            all[2].description, "Ours",
            "the folder's replaces the built-in one"
        );
        assert!(parse("no front matter", None).is_none());
    }

    #[test]
    fn built_in_helper_files_are_written_when_loaded() {
        let dir = materialize_built_in("pdf").unwrap().unwrap();
        let script = dir.join("scripts/pdf_to_images.py");
        assert!(std::fs::read_to_string(&script)
            .unwrap()
            .contains("pypdfium2"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&script).unwrap().permissions().mode() & 0o111,
            0o111
        );
        assert!(materialize_built_in("nope").unwrap().is_none());
    }

    #[test]
    fn a_planted_link_is_replaced_not_written_through() {
        let victim = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(victim.path(), "the person's file").unwrap();
        let dir = built_in_dir("docx").join("scripts");
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("to_pdf.sh");
        let _ = std::fs::remove_file(&script);
        std::os::unix::fs::symlink(victim.path(), &script).unwrap();
        materialize_built_in("docx").unwrap();
        assert_eq!(
            std::fs::read_to_string(victim.path()).unwrap(),
            "the person's file"
        );
        assert!(!std::fs::symlink_metadata(&script)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(std::fs::read_to_string(&script)
            .unwrap()
            .contains("soffice"));
    }
}
