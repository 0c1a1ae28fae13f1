//! `Edit`: exact string replacement in a file the model has read.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;

use super::context::{ToolContext, ToolOutput};
use super::paths::{self, PathError};
use super::read::{numbered_line, truncate_line};
use super::write::{
    create_parent_dirs, ensure_read_and_unchanged, structured_patch, write_atomically,
    FreshnessError,
};

pub const NAME: &str = "Edit";

/// Unchanged lines shown above and below the edit in the result snippet.
const SNIPPET_CONTEXT_LINES: usize = 4;
/// A huge `new_string` is not echoed back whole.
const MAX_SNIPPET_LINES: usize = 200;
/// Snippet lines are cut like Read's, but shorter: they are only a confirmation.
const MAX_SNIPPET_LINE_CHARS: usize = 500;

pub fn description() -> &'static str {
    "Performs exact string replacements in files.

Usage:
- You must use Read on the file at least once before editing; this tool fails if you have not, or if the file changed since you read it
- When copying text from Read output, keep the exact indentation (tabs/spaces) that follows the line-number prefix. The prefix (spaces, line number, tab) is not part of the file: never include it in old_string or new_string
- Prefer editing existing files; do not create new files unless required
- The edit fails if old_string is not in the file
- The edit fails if old_string occurs more than once, unless replace_all is true: give a larger string with more surrounding context to make it unique
- Use replace_all to change every occurrence, e.g. to rename a variable
- An empty old_string with a file_path that does not exist creates the file with new_string as its content"
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {
                "type": "string",
                "description": "The absolute path to the file to modify"
            },
            "old_string": {
                "type": "string",
                "description": "The text to replace"
            },
            "new_string": {
                "type": "string",
                "description": "The text to replace it with (must be different from old_string)"
            },
            "replace_all": {
                "type": "boolean",
                "default": false,
                "description": "Replace all occurences of old_string (default false)"
            }
        },
        "required": ["file_path", "old_string", "new_string"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

#[derive(Debug, Error)]
enum EditError {
    #[error("No changes to make: old_string and new_string are exactly the same.")]
    NoChange,
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{0}")]
    Freshness(#[from] FreshnessError),
    #[error("File does not exist: {}. Create it with Write, or with Edit and an empty old_string.", .0.display())]
    NotFound(PathBuf),
    #[error("Cannot create new file - file already exists: {}. Give the text to replace in old_string.", .0.display())]
    AlreadyExists(PathBuf),
    #[error("{} is a directory, not a file.", .0.display())]
    Directory(PathBuf),
    #[error("{} is not a UTF-8 text file, so it cannot be edited.", .0.display())]
    NotText(PathBuf),
    #[error("String to replace not found in file.\nString: {0}\nMake sure old_string matches the file exactly, including whitespace and indentation, and contains no line-number prefix from Read.")]
    StringNotFound(String),
    #[error("Found {count} matches of the string to replace, but replace_all is false. To replace all occurrences, set replace_all to true. To replace only one occurrence, please provide more context to uniquely identify the instance.\nString: {old}")]
    Ambiguous { count: usize, old: String },
    #[error("Could not edit {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    super::context::run_blocking(NAME, ctx, input, edit).await
}

fn edit(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, EditError> {
    if args.old_string == args.new_string {
        return Err(EditError::NoChange);
    }
    let path = paths::resolve(ctx, &args.file_path)?;
    let io_error = |source| EditError::Io {
        path: path.clone(),
        source,
    };
    let Some(original) = read_text(&path)? else {
        if !args.old_string.is_empty() {
            return Err(EditError::NotFound(path));
        }
        create_parent_dirs(&path).map_err(io_error)?;
        write_atomically(&path, args.new_string.as_bytes()).map_err(io_error)?;
        ctx.remember(&path);
        let text = format!("File created successfully at: {}", path.display());
        return Ok(ToolOutput::ok(
            text,
            structured(&path, args, "", &args.new_string),
        ));
    };
    ensure_read_and_unchanged(ctx, &path)?;
    if args.old_string.is_empty() && !original.is_empty() {
        return Err(EditError::AlreadyExists(path));
    }
    let replacement = replace(
        &original,
        &args.old_string,
        &args.new_string,
        args.replace_all,
    )?;
    write_atomically(&path, replacement.updated.as_bytes()).map_err(io_error)?;
    ctx.remember(&path);
    let text = result_text(&path, args, &replacement);
    Ok(ToolOutput::ok(
        text,
        structured(&path, args, &original, &replacement.updated),
    ))
}

/// The text of `path`, or `None` when there is no file there.
fn read_text(path: &Path) -> Result<Option<String>, EditError> {
    let io_error = |source| EditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(e)),
    };
    if meta.is_dir() {
        return Err(EditError::Directory(path.to_path_buf()));
    }
    // Reading a FIFO or a device could block forever or never end.
    if !meta.is_file() {
        return Err(EditError::NotText(path.to_path_buf()));
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| EditError::NotText(path.to_path_buf()))
}

/// A planned edit: the new text and where the (first) replacement landed.
#[derive(Debug)]
struct Replacement {
    updated: String,
    /// Byte offset of the first replacement, the same in the old and the new text.
    first_at: usize,
    /// The replacement text actually used (line endings may have been adapted).
    inserted: String,
    count: usize,
}

fn replace(
    original: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<Replacement, EditError> {
    let (old, new) = match_line_endings(original, old, new);
    let count = if old.is_empty() {
        1 // Only reached for an empty file: the whole (empty) text is replaced.
    } else {
        original.matches(old.as_ref()).count()
    };
    match count {
        0 => return Err(EditError::StringNotFound(old.into_owned())),
        n if n > 1 && !replace_all => {
            return Err(EditError::Ambiguous {
                count: n,
                old: old.into_owned(),
            })
        }
        _ => {}
    }
    let first_at = original.find(old.as_ref()).unwrap_or(0);
    let updated = if old.is_empty() {
        new.to_string()
    } else if replace_all {
        original.replace(old.as_ref(), &new)
    } else {
        original.replacen(old.as_ref(), &new, 1)
    };
    Ok(Replacement {
        updated,
        first_at,
        inserted: new.into_owned(),
        count,
    })
}

/// Read shows CRLF files with bare `\n` line ends, so the model's strings use `\n`. When such
/// a string is not in the file as is but is with `\r\n`, use the `\r\n` form (for both strings,
/// so the file keeps one style).
fn match_line_endings<'a>(
    original: &str,
    old: &'a str,
    new: &'a str,
) -> (Cow<'a, str>, Cow<'a, str>) {
    let to_crlf = |s: &str| s.replace("\r\n", "\n").replace('\n', "\r\n");
    if old.contains('\n') && !original.contains(old) && original.contains("\r\n") {
        let crlf_old = to_crlf(old);
        if original.contains(&crlf_old) {
            return (crlf_old.into(), to_crlf(new).into());
        }
    }
    (old.into(), new.into())
}

fn result_text(path: &Path, args: &Args, replacement: &Replacement) -> String {
    let shown = path.display();
    if args.replace_all {
        return format!(
            "The file {shown} has been updated. All {} occurrences of '{}' were successfully replaced with '{}'.",
            replacement.count, args.old_string, args.new_string
        );
    }
    format!(
        "The file {shown} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n{}",
        snippet(replacement)
    )
}

/// The edited lines with a few lines of context, numbered like Read's output.
fn snippet(replacement: &Replacement) -> String {
    let text = &replacement.updated;
    let first_line = text[..replacement.first_at].matches('\n').count();
    // A trailing newline ends the inserted text's last line; it does not start another.
    let inserted = replacement
        .inserted
        .strip_suffix('\n')
        .unwrap_or(&replacement.inserted);
    let last_line = first_line + inserted.matches('\n').count();
    let start = first_line.saturating_sub(SNIPPET_CONTEXT_LINES);
    let end = last_line + SNIPPET_CONTEXT_LINES;
    let wanted = (end - start + 1).min(MAX_SNIPPET_LINES);
    let mut lines: Vec<String> = text
        .lines()
        .enumerate()
        .skip(start)
        .take(wanted)
        .map(|(index, line)| {
            numbered_line(
                index as u64 + 1,
                &truncate_line(line, MAX_SNIPPET_LINE_CHARS),
            )
        })
        .collect();
    if end - start + 1 > MAX_SNIPPET_LINES {
        lines.push("    ...".to_owned());
    }
    lines.join("\n")
}

fn structured(path: &Path, args: &Args, original: &str, updated: &str) -> Value {
    json!({
        "filePath": path.display().to_string(),
        "oldString": args.old_string,
        "newString": args.new_string,
        "originalFile": original,
        "structuredPatch": structured_patch(original, updated),
        "userModified": false,
        "replaceAll": args.replace_all,
    })
}

#[cfg(test)]
mod tests {
    use super::super::context::FileStamp;
    use super::super::test_support::{setup, text};
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A file with `body` that the model has read.
    fn read_file(ctx: &ToolContext, name: &str, body: &str) -> PathBuf {
        let path = ctx.cwd().join(name);
        std::fs::write(&path, body).unwrap();
        ctx.remember(&path);
        path
    }

    async fn edit_file(
        ctx: &ToolContext,
        path: &Path,
        old: &str,
        new: &str,
        all: bool,
    ) -> ToolOutput {
        let input = json!({"file_path": path.to_str().unwrap(), "old_string": old,
                           "new_string": new, "replace_all": all});
        run(ctx, input).await
    }

    #[tokio::test]
    async fn replaces_a_unique_string_and_shows_a_snippet() {
        let (_tmp, ctx) = setup();
        let body: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let path = read_file(&ctx, "f.txt", &body);
        let out = edit_file(&ctx, &path, "line 10\n", "line ten\nline ten bis\n", false).await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            body.replace("line 10\n", "line ten\nline ten bis\n")
        );
        let shown = text(&out);
        let expected_head = format!(
            "The file {} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n     6\tline 6\n",
            path.display()
        );
        assert!(shown.starts_with(&expected_head), "{shown}");
        assert!(shown.contains("    10\tline ten\n    11\tline ten bis\n"));
        assert!(shown.ends_with("    15\tline 14"), "{shown}");
        assert_eq!(out.structured["oldString"], "line 10\n");
        assert_eq!(out.structured["originalFile"], body);
        assert_eq!(out.structured["userModified"], false);
        assert_eq!(out.structured["replaceAll"], false);
        assert_eq!(out.structured["structuredPatch"][0]["lines"][3], "-line 10");
        assert_eq!(ctx.seen(&path), Some(FileStamp::of(&path).unwrap()));
    }

    #[tokio::test]
    async fn refuses_unread_and_stale_files() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("f.txt");
        std::fs::write(&path, "a").unwrap();
        let out = edit_file(&ctx, &path, "a", "b", false).await;
        assert!(out.is_error && text(&out).starts_with("File has not been read yet"));

        ctx.remember(&path);
        std::fs::write(&path, "abc").unwrap();
        let out = edit_file(&ctx, &path, "a", "b", false).await;
        assert!(out.is_error && text(&out).starts_with("File has been modified since read"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc");
    }

    #[tokio::test]
    async fn refuses_a_missing_string_and_an_ambiguous_one() {
        let (_tmp, ctx) = setup();
        let path = read_file(&ctx, "f.txt", "x = 1\nx = 1\n");
        let out = edit_file(&ctx, &path, "y = 1", "y = 2", false).await;
        assert!(out.is_error && text(&out).starts_with("String to replace not found in file."));

        let out = edit_file(&ctx, &path, "x = 1", "x = 2", false).await;
        assert!(out.is_error);
        assert!(
            text(&out).starts_with("Found 2 matches of the string to replace"),
            "{}",
            text(&out)
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x = 1\nx = 1\n");
    }

    #[tokio::test]
    async fn replace_all_changes_every_occurrence() {
        let (_tmp, ctx) = setup();
        let path = read_file(&ctx, "f.rs", "let foo = foo + foo;\n");
        let out = edit_file(&ctx, &path, "foo", "bar", true).await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "let bar = bar + bar;\n"
        );
        assert!(text(&out)
            .contains("All 3 occurrences of 'foo' were successfully replaced with 'bar'."));
        assert_eq!(out.structured["replaceAll"], true);
    }

    #[tokio::test]
    async fn identical_strings_are_refused() {
        let (_tmp, ctx) = setup();
        let path = read_file(&ctx, "f.txt", "a");
        let out = edit_file(&ctx, &path, "a", "a", false).await;
        assert!(out.is_error && text(&out).starts_with("No changes to make"));
    }

    #[tokio::test]
    async fn empty_old_string_creates_a_missing_file_only() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("new/dir/f.txt");
        let out = edit_file(&ctx, &path, "", "hello\n", false).await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
        assert_eq!(out.structured["originalFile"], "");

        let out = edit_file(&ctx, &path, "", "again\n", false).await;
        assert!(
            out.is_error && text(&out).starts_with("Cannot create new file"),
            "{out:?}"
        );

        let out = edit_file(&ctx, &ctx.cwd().join("missing.txt"), "a", "b", false).await;
        assert!(out.is_error && text(&out).starts_with("File does not exist"));
    }

    #[tokio::test]
    async fn crlf_files_accept_lf_strings_and_stay_crlf() {
        let (_tmp, ctx) = setup();
        let path = read_file(&ctx, "win.txt", "one\r\ntwo\r\nthree\r\n");
        let out = edit_file(&ctx, &path, "one\ntwo", "1\n2", false).await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "1\r\n2\r\nthree\r\n"
        );
    }

    #[tokio::test]
    async fn keeps_the_file_mode() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("run.sh");
        std::fs::write(&path, "echo hi\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        ctx.remember(&path);
        assert!(!edit_file(&ctx, &path, "hi", "ho", false).await.is_error);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755);
    }

    #[tokio::test]
    async fn refuses_paths_outside_and_bad_input() {
        let (_tmp, ctx) = setup();
        let out = edit_file(&ctx, Path::new("/etc/hosts"), "a", "b", false).await;
        assert!(out.is_error && text(&out).contains("outside the folders"));
        let out = run(&ctx, json!({"file_path": "x", "old_string": "a"})).await;
        assert!(
            out.is_error && text(&out).starts_with("Edit: invalid input:"),
            "{out:?}"
        );
    }
}
