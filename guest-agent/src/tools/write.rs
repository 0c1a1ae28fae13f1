//! `Write`: creates a file or replaces one the model has read, atomically.
//!
//! Also home of what `Edit` shares with it: the read-before-write check, the atomic write, and
//! the `structuredPatch` diff.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use similar::{ChangeTag, TextDiff};
use thiserror::Error;

use super::context::{FileStamp, ToolContext, ToolOutput};
use super::paths::{self, PathError};

pub const NAME: &str = "Write";

/// Lines of unchanged context around each hunk of `structuredPatch` (as `diff -u`).
const PATCH_CONTEXT_LINES: usize = 3;
/// A diff of two huge, very different files could take long; past this, `similar` gives a
/// coarser (still correct) diff.
const PATCH_TIMEOUT: Duration = Duration::from_secs(2);

pub fn description() -> &'static str {
    "Writes a file in the folders you were given.

Usage:
- This tool overwrites the existing file if there is one at the path
- If the file exists, you must Read it first, and it must not have changed since; otherwise this tool fails
- Prefer Edit for changing existing files: it only sends the changed part
- Missing parent folders are created
- The file is replaced atomically and keeps its permissions
- file_path should be absolute; a relative path is taken from the working folder
- Do not create documentation files (*.md, README) unless asked to"
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {
                "type": "string",
                "description": "The absolute path to the file to write (must be absolute, not relative)"
            },
            "content": {
                "type": "string",
                "description": "The content to write to the file"
            }
        },
        "required": ["file_path", "content"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    content: String,
}

#[derive(Debug, Error)]
enum WriteError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{0}")]
    Freshness(#[from] FreshnessError),
    #[error("{} is a directory; give the path of a file inside it.", .0.display())]
    Directory(PathBuf),
    #[error("{} is not a regular file (it may be a device, socket or pipe), so it cannot be overwritten.", .0.display())]
    NotRegular(PathBuf),
    #[error("Could not write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Why an existing file may not be changed: the model has not seen what it would overwrite.
#[derive(Debug, Error)]
pub(super) enum FreshnessError {
    #[error("File has not been read yet. Read it first before writing to it.")]
    NotRead,
    #[error("File has been modified since read, either by the user or by a linter. Read it again before attempting to write it.")]
    ModifiedSinceRead,
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    super::context::run_blocking(NAME, ctx, input, write).await
}

fn write(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, WriteError> {
    let path = paths::resolve(ctx, &args.file_path)?;
    let io_error = |source| WriteError::Io {
        path: path.clone(),
        source,
    };
    let original = read_existing(&path)?;
    if original.is_some() {
        ensure_read_and_unchanged(ctx, &path)?;
    }
    create_parent_dirs(&path).map_err(io_error)?;
    write_atomically(&path, args.content.as_bytes()).map_err(io_error)?;
    ctx.remember(&path);

    let shown = path.display().to_string();
    let (kind, text, patch) = match &original {
        None => (
            "create",
            format!("File created successfully at: {shown}"),
            json!([]),
        ),
        Some(old) => (
            "update",
            format!("The file {shown} has been updated successfully."),
            structured_patch(old, &args.content),
        ),
    };
    let structured = json!({
        "type": kind,
        "filePath": shown,
        "content": args.content,
        "structuredPatch": patch,
        "originalFile": original,
    });
    Ok(ToolOutput::ok(text, structured))
}

/// The current text of `path`, or `None` when there is no file there yet.
fn read_existing(path: &Path) -> Result<Option<String>, WriteError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(WriteError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if meta.is_dir() {
        return Err(WriteError::Directory(path.to_path_buf()));
    }
    if !meta.is_file() {
        return Err(WriteError::NotRegular(path.to_path_buf()));
    }
    let bytes = std::fs::read(path).map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The model read it, so it is text; lossy only guards the diff against odd bytes.
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Refuses to change `path` unless the model has read it and it has not changed since.
pub(super) fn ensure_read_and_unchanged(
    ctx: &ToolContext,
    path: &Path,
) -> Result<(), FreshnessError> {
    let seen = ctx.seen(path).ok_or(FreshnessError::NotRead)?;
    match FileStamp::of(path) {
        Ok(now) if now == seen => Ok(()),
        _ => Err(FreshnessError::ModifiedSinceRead),
    }
}

/// Creates the folders above `path`. `paths::resolve` already checked they are inside a root.
pub(super) fn create_parent_dirs(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent),
        None => Ok(()),
    }
}

/// Replaces `path` with `contents` so that a reader (or a crash) sees either the old file or
/// the new one, never half of it: write a temporary file beside it, flush it to disk, give it
/// the original's permissions and owner, then rename it over the original.
pub(super) fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no parent"))?;
    let original = std::fs::metadata(path).ok();
    let (temp_path, mut temp) = create_temp_beside(path)?;
    let result = (|| {
        temp.write_all(contents)?;
        if let Some(original) = &original {
            keep_permissions_and_owner(&temp, original)?;
        }
        temp.sync_all()?;
        std::fs::rename(&temp_path, path)?;
        // Make the rename itself durable; a failure here leaves a correct file, so ignore it.
        let _ = File::open(dir).and_then(|d| d.sync_all());
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}

/// A new, empty file next to `path` (same folder, hence same file system, so rename is atomic).
fn create_temp_beside(path: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn keep_permissions_and_owner(temp: &File, original: &std::fs::Metadata) -> io::Result<()> {
    let current = temp.metadata()?;
    // The agent may run as another user (e.g. root) than the file's owner: keep the owner, or
    // the person could no longer edit their own file. Only root may do this; others keep theirs.
    if current.uid() != original.uid() || current.gid() != original.gid() {
        let _ = std::os::unix::fs::fchown(temp, Some(original.uid()), Some(original.gid()));
    }
    temp.set_permissions(original.permissions())
}

/// The change from `old` to `new` as Claude Code's `structuredPatch`: unified-diff hunks
/// `{oldStart, oldLines, newStart, newLines, lines: [" same", "-old", "+new"]}`, 1-based.
pub(super) fn structured_patch(old: &str, new: &str) -> Value {
    let diff = TextDiff::configure()
        .timeout(PATCH_TIMEOUT)
        .diff_lines(old, new);
    let hunks: Vec<Value> = diff
        .unified_diff()
        .context_radius(PATCH_CONTEXT_LINES)
        .iter_hunks()
        .filter_map(|hunk| {
            let first = hunk.ops().first()?;
            let last = hunk.ops().last()?;
            let (old_start, new_start) = (first.old_range().start, first.new_range().start);
            let lines: Vec<String> = hunk
                .iter_changes()
                .map(|change| {
                    let sign = match change.tag() {
                        ChangeTag::Equal => ' ',
                        ChangeTag::Delete => '-',
                        ChangeTag::Insert => '+',
                    };
                    let text = change.value();
                    let text = text.strip_suffix('\n').unwrap_or(text);
                    format!("{sign}{}", text.strip_suffix('\r').unwrap_or(text))
                })
                .collect();
            Some(json!({
                "oldStart": old_start + 1,
                "oldLines": last.old_range().end - old_start,
                "newStart": new_start + 1,
                "newLines": last.new_range().end - new_start,
                "lines": lines,
            }))
        })
        .collect();
    Value::Array(hunks)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{setup, text};
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;
    use tempfile::TempDir;

    async fn write_file(ctx: &ToolContext, path: &Path, content: &str) -> ToolOutput {
        run(
            ctx,
            json!({"file_path": path.to_str().unwrap(), "content": content}),
        )
        .await
    }

    #[tokio::test]
    async fn creates_a_new_file_and_its_folders() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("a/b/new.txt");
        let out = write_file(&ctx, &path, "hello\n").await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            text(&out),
            format!("File created successfully at: {}", path.display())
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
        assert_eq!(
            out.structured,
            json!({"type": "create", "filePath": path.display().to_string(), "content": "hello\n",
                   "structuredPatch": [], "originalFile": null})
        );
        assert_eq!(ctx.seen(&path), Some(FileStamp::of(&path).unwrap()));
    }

    #[tokio::test]
    async fn overwriting_requires_a_read_first() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("x.txt");
        std::fs::write(&path, "old\n").unwrap();
        let out = write_file(&ctx, &path, "new\n").await;
        assert!(out.is_error);
        assert_eq!(
            text(&out),
            "File has not been read yet. Read it first before writing to it."
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
    }

    #[tokio::test]
    async fn overwriting_a_file_changed_since_read_is_refused() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("x.txt");
        std::fs::write(&path, "old\n").unwrap();
        ctx.remember(&path);
        std::fs::write(&path, "changed by someone\n").unwrap();
        let out = write_file(&ctx, &path, "new\n").await;
        assert!(out.is_error);
        assert!(text(&out).starts_with("File has been modified since read"));
    }

    #[tokio::test]
    async fn updates_a_read_file_with_a_patch_and_keeps_its_mode() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("run.sh");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).unwrap();
        ctx.remember(&path);
        let out = write_file(&ctx, &path, "a\nB\nc\n").await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            text(&out),
            format!("The file {} has been updated successfully.", path.display())
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nB\nc\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        assert_eq!(out.structured["type"], "update");
        assert_eq!(out.structured["originalFile"], "a\nb\nc\n");
        assert_eq!(
            out.structured["structuredPatch"],
            json!([{"oldStart": 1, "oldLines": 3, "newStart": 1, "newLines": 3,
                    "lines": [" a", "-b", "+B", " c"]}])
        );
        // The new content is what the model now knows: writing again needs no new read.
        assert!(!write_file(&ctx, &path, "again\n").await.is_error);
    }

    #[tokio::test]
    async fn leaves_no_temporary_files_behind() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("f.txt");
        assert!(!write_file(&ctx, &path, "1").await.is_error);
        assert!(!write_file(&ctx, &path, "2").await.is_error);
        let names: Vec<_> = std::fs::read_dir(ctx.cwd())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.txt")]);
    }

    #[tokio::test]
    async fn writes_through_an_inside_symlink_to_its_target() {
        let (_tmp, ctx) = setup();
        let real = ctx.cwd().join("real.txt");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink("real.txt", ctx.cwd().join("alias.txt")).unwrap();
        ctx.remember(&real);
        let out = write_file(&ctx, &ctx.cwd().join("alias.txt"), "new").await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert!(std::fs::symlink_metadata(ctx.cwd().join("alias.txt"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[tokio::test]
    async fn refuses_outside_paths_symlink_escapes_and_directories() {
        let (_tmp, ctx) = setup();
        let outside = TempDir::new().unwrap();
        let out = write_file(&ctx, &outside.path().join("x"), "x").await;
        assert!(out.is_error && text(&out).contains("outside the folders"));

        std::os::unix::fs::symlink(outside.path(), ctx.cwd().join("out")).unwrap();
        let out = write_file(&ctx, &ctx.cwd().join("out/sub/new.txt"), "x").await;
        assert!(
            out.is_error && text(&out).contains("symbolic link"),
            "{out:?}"
        );
        assert!(!outside.path().join("sub").exists());

        let out = write_file(&ctx, ctx.cwd(), "x").await;
        assert!(out.is_error && text(&out).contains("is a directory"));
    }

    #[tokio::test]
    async fn bad_input_is_explained() {
        let (_tmp, ctx) = setup();
        let out = run(&ctx, json!({"file_path": "a"})).await;
        assert!(
            out.is_error && text(&out).contains("missing field `content`"),
            "{out:?}"
        );
    }

    #[test]
    fn structured_patch_has_context_and_one_based_lines() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("10\n", "ten\n");
        assert_eq!(
            structured_patch(&old, &new),
            json!([{"oldStart": 7, "oldLines": 7, "newStart": 7, "newLines": 7,
                    "lines": [" 7", " 8", " 9", "-10", "+ten", " 11", " 12", " 13"]}])
        );
        assert_eq!(structured_patch("same\n", "same\n"), json!([]));
    }
}
