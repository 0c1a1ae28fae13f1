//! Turning the paths a model writes into real paths inside the folders it was given.
//!
//! Every file tool, and the permission code, goes through [`resolve`]: it is the one place that
//! decides whether a path is inside the session's roots. Symbolic links are followed *before*
//! that decision, so a link inside a root that points elsewhere cannot be used to read or write
//! outside it, whether its target exists or not.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use super::context::ToolContext;

/// How many symbolic links one path may go through before we call it a loop (Linux's `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Why a path was refused. The messages are written for the model: they say what to do instead.
#[derive(Debug, Error)]
pub enum PathError {
    /// The path was an empty string.
    #[error("the path is empty; give an absolute path to a file or folder")]
    Empty,
    /// The path contains a NUL byte, which no file name can hold.
    #[error("the path {0:?} contains a NUL byte, which is not allowed in file names")]
    NulByte(String),
    /// The path lies outside every root.
    #[error("{} is outside the folders you were given ({})", .path.display(), list(.roots))]
    Outside { path: PathBuf, roots: Vec<PathBuf> },
    /// The path is inside a root, but a symbolic link on the way leads outside.
    #[error(
        "{} leads through a symbolic link to {}, which is outside the folders you were given ({})",
        .path.display(), .target.display(), list(.roots)
    )]
    LinkEscapes {
        path: PathBuf,
        target: PathBuf,
        roots: Vec<PathBuf>,
    },
    /// Too many symbolic links (or a cycle of them).
    #[error("{} goes through too many symbolic links (is there a loop?)", .0.display())]
    SymlinkLoop(PathBuf),
    /// The file system refused to tell us about a component (e.g. permission denied).
    #[error("cannot examine {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn list(roots: &[PathBuf]) -> String {
    let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    shown.join(", ")
}

/// Resolves `raw` (absolute, `~/...`, or relative to the working folder) to a real path inside
/// one of `ctx.roots`. The file itself, and any of its parent folders, need not exist yet.
pub fn resolve(ctx: &ToolContext, raw: &str) -> Result<PathBuf, PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.contains('\0') {
        return Err(PathError::NulByte(raw.to_owned()));
    }
    let requested = normalize_lexically(&absolutize(ctx, raw));
    let real = resolve_symlinks(&requested)?;
    if root_of(ctx, &real).is_some() {
        return Ok(real);
    }
    let roots = ctx.roots.clone();
    if real != requested && root_of(ctx, &requested).is_some() {
        return Err(PathError::LinkEscapes {
            path: requested,
            target: real,
            roots,
        });
    }
    Err(PathError::Outside {
        path: requested,
        roots,
    })
}

/// The root `path` lies in (the innermost one when roots are nested).
pub fn root_of<'a>(ctx: &'a ToolContext, path: &Path) -> Option<&'a Path> {
    ctx.roots
        .iter()
        .filter(|root| path.starts_with(root))
        .max_by_key(|root| root.components().count())
        .map(PathBuf::as_path)
}

/// `path` relative to its root, for short descriptions ("src/main.rs"); the root itself is
/// shown as ".", and a path in no root is shown whole.
pub fn display(ctx: &ToolContext, path: &Path) -> String {
    let Some(root) = root_of(ctx, path) else {
        return path.display().to_string();
    };
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Makes `raw` absolute: `~` means the home folder (models write it), anything relative is
/// taken from the working folder.
fn absolutize(ctx: &ToolContext, raw: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if raw == "~" {
        if let Some(home) = home() {
            return home;
        }
    }
    if let Some(rest) = raw.strip_prefix("~/") {
        if let Some(home) = home() {
            return home.join(rest);
        }
    }
    let path = Path::new(raw);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ctx.cwd().join(path)
    }
}

/// Removes `.` and folds `..` into its parent without touching the disk, like Node's
/// `path.resolve` (which is what models expect from Claude Code). `..` never climbs above `/`.
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Follows every symbolic link in the absolute, normalised `path`, one component at a time
/// (like `realpath`), but lets the tail be missing. Doing it component by component, instead of
/// canonicalising the longest existing prefix, matters for *dangling* links: `root/link -> /elsewhere/new`
/// does not exist yet, yet writing to it would create `/elsewhere/new`.
fn resolve_symlinks(path: &Path) -> Result<PathBuf, PathError> {
    let mut resolved = PathBuf::from("/");
    // Components still to visit, last one first, so a link's target can be pushed in front.
    let mut pending: Vec<OsString> = components_reversed(path);
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            // `resolved` never contains links, so dropping its last component is exact.
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(PathError::SymlinkLoop(path.to_path_buf()));
                }
                let target = std::fs::read_link(&candidate).map_err(|source| PathError::Io {
                    path: candidate.clone(),
                    source,
                })?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                pending.extend(components_reversed(&target));
            }
            Ok(_) => resolved = candidate,
            // Missing (or under a regular file): nothing below can be a link, keep going lexically.
            Err(e) if is_missing(&e) => resolved = candidate,
            Err(source) => {
                return Err(PathError::Io {
                    path: candidate,
                    source,
                })
            }
        }
    }
    Ok(resolved)
}

/// The normal and `..` components of `path`, last first (`.` and the root are dropped).
fn components_reversed(path: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    names.reverse();
    names
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use tempfile::TempDir;

    /// A root folder and a sibling folder outside it, both in one temp dir.
    fn setup() -> (TempDir, ToolContext, PathBuf, PathBuf) {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let ctx = ToolContext::new(vec![root.clone()]).unwrap();
        let root = ctx.roots[0].clone();
        let outside = outside.canonicalize().unwrap();
        (tmp, ctx, root, outside)
    }

    #[test]
    fn absolute_path_inside_root_is_accepted() {
        let (_tmp, ctx, root, _) = setup();
        std::fs::write(root.join("a.txt"), "x").unwrap();
        let raw = root.join("a.txt");
        assert_eq!(resolve(&ctx, raw.to_str().unwrap()).unwrap(), raw);
    }

    #[test]
    fn relative_path_is_taken_from_the_working_folder() {
        let (_tmp, ctx, root, _) = setup();
        assert_eq!(
            resolve(&ctx, "src/new.rs").unwrap(),
            root.join("src/new.rs")
        );
        assert_eq!(resolve(&ctx, ".").unwrap(), root);
    }

    #[test]
    fn dot_dot_is_folded_lexically_and_cannot_leave_the_root() {
        let (_tmp, ctx, root, _) = setup();
        assert_eq!(
            resolve(&ctx, "a/./b/../c.txt").unwrap(),
            root.join("a/c.txt")
        );
        let err = resolve(&ctx, "../outside/x").unwrap_err();
        assert!(matches!(err, PathError::Outside { .. }), "{err}");
    }

    #[test]
    fn outside_path_is_refused_with_a_readable_message() {
        let (_tmp, ctx, root, _) = setup();
        let err = resolve(&ctx, "/etc/passwd").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "/etc/passwd is outside the folders you were given ({})",
                root.display()
            )
        );
    }

    #[test]
    fn empty_and_nul_paths_are_refused() {
        let (_tmp, ctx, _, _) = setup();
        assert!(matches!(resolve(&ctx, ""), Err(PathError::Empty)));
        assert!(matches!(resolve(&ctx, "a\0b"), Err(PathError::NulByte(_))));
    }

    #[test]
    fn symlink_to_a_file_outside_is_refused() {
        let (_tmp, ctx, root, outside) = setup();
        std::fs::write(outside.join("secret"), "s").unwrap();
        symlink(outside.join("secret"), root.join("link")).unwrap();
        let err = resolve(&ctx, root.join("link").to_str().unwrap()).unwrap_err();
        assert!(matches!(err, PathError::LinkEscapes { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[test]
    fn new_file_through_a_symlinked_directory_outside_is_refused() {
        let (_tmp, ctx, root, outside) = setup();
        symlink(&outside, root.join("dir")).unwrap();
        let err = resolve(&ctx, root.join("dir/new/file.txt").to_str().unwrap()).unwrap_err();
        assert!(matches!(err, PathError::LinkEscapes { .. }), "{err}");
    }

    #[test]
    fn dangling_symlink_pointing_outside_is_refused() {
        let (_tmp, ctx, root, outside) = setup();
        symlink(outside.join("not-yet"), root.join("dangling")).unwrap();
        let err = resolve(&ctx, root.join("dangling").to_str().unwrap()).unwrap_err();
        assert!(matches!(err, PathError::LinkEscapes { .. }), "{err}");
    }

    #[test]
    fn relative_symlink_climbing_out_is_refused() {
        let (_tmp, ctx, root, _) = setup();
        std::fs::create_dir(root.join("sub")).unwrap();
        symlink("../../outside", root.join("sub/up")).unwrap();
        let err = resolve(&ctx, root.join("sub/up/x").to_str().unwrap()).unwrap_err();
        assert!(matches!(err, PathError::LinkEscapes { .. }), "{err}");
    }

    #[test]
    fn symlink_staying_inside_the_root_resolves_to_its_target() {
        let (_tmp, ctx, root, _) = setup();
        std::fs::create_dir(root.join("real")).unwrap();
        symlink("real", root.join("alias")).unwrap();
        assert_eq!(
            resolve(&ctx, root.join("alias/f.txt").to_str().unwrap()).unwrap(),
            root.join("real/f.txt")
        );
    }

    #[test]
    fn symlink_loop_is_reported() {
        let (_tmp, ctx, root, _) = setup();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        let err = resolve(&ctx, root.join("a").to_str().unwrap()).unwrap_err();
        assert!(matches!(err, PathError::SymlinkLoop(_)), "{err}");
    }

    #[test]
    fn path_under_a_regular_file_is_kept_for_the_tool_to_report() {
        let (_tmp, ctx, root, _) = setup();
        std::fs::write(root.join("file"), "x").unwrap();
        assert_eq!(
            resolve(&ctx, "file/below").unwrap(),
            root.join("file/below")
        );
    }

    #[test]
    fn display_and_root_of_pick_the_innermost_root() {
        let (tmp, _, root, outside) = setup();
        std::fs::create_dir(root.join("inner")).unwrap();
        let ctx =
            ToolContext::new(vec![root.clone(), root.join("inner"), outside.clone()]).unwrap();
        let file = root.join("inner/x.rs");
        assert_eq!(root_of(&ctx, &file), Some(root.join("inner").as_path()));
        assert_eq!(display(&ctx, &file), "x.rs");
        assert_eq!(display(&ctx, &root), ".");
        assert_eq!(display(&ctx, &outside.join("o")), "o");
        assert_eq!(display(&ctx, Path::new("/etc/hosts")), "/etc/hosts");
        assert_eq!(root_of(&ctx, tmp.path()), None);
    }
}
