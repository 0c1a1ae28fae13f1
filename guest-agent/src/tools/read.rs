//! `Read`: shows a text file with line numbers, or an image as an image block.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read as _, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;

use super::context::{ToolContent, ToolContext, ToolOutput};
use super::paths::{self, PathError};

pub const NAME: &str = "Read";

/// Lines shown when the model gives no `limit`.
const DEFAULT_LIMIT: u64 = 2000;
/// Longer lines are cut: minified files would otherwise flood the context.
const MAX_LINE_CHARS: usize = 2000;
/// Ceiling on the text sent back, whatever `limit` says.
const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// How much of the file is sniffed for NUL bytes and image signatures.
const SNIFF_BYTES: usize = 8192;
/// The API takes images whose base64 form is at most 5 MiB; base64 grows data by 4/3.
const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024 / 4 * 3;

const EMPTY_FILE_NOTE: &str =
    "<system-reminder>Warning: the file exists but the contents are empty.</system-reminder>";

pub fn description() -> &'static str {
    "Reads a file from the folders you were given.

Usage:
- file_path should be an absolute path; a relative path is taken from the working folder
- By default it reads up to 2000 lines from the start of the file
- You can give offset (the 1-based line to start at) and limit (how many lines), which is handy for long files; otherwise read the whole file
- Lines longer than 2000 characters are truncated
- Results are shown like `cat -n`: each line is prefixed with its line number (starting at 1) and a tab. The number and tab are not part of the file: never include them in old_string for Edit
- Images (PNG, JPEG, GIF, WebP) are shown to you as images
- Binary files are refused; inspect them with Bash (`file`, `xxd`, `strings`)
- This tool reads files, not folders: list a folder with Glob or with `ls` through Bash
- You can call several tools in one response: read several possibly useful files in parallel
- An existing but empty file gives a warning instead of contents
- You must Read a file before you Edit or overwrite it"
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {
                "type": "string",
                "description": "The absolute path to the file to read"
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "The line number to start reading from (1-based). Only provide if the file is too large to read at once"
            },
            "limit": {
                "type": "integer",
                "exclusiveMinimum": 0,
                "description": "The number of lines to read. Only provide if the file is too large to read at once"
            }
        },
        "required": ["file_path"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Debug, Error)]
enum ReadError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("File does not exist: {}", .0.display())]
    NotFound(PathBuf),
    #[error("{} is a directory, not a file. Use Glob, or `ls` through Bash, to list it.", .0.display())]
    Directory(PathBuf),
    #[error("{} is not a regular file (it may be a device, socket or pipe), so it cannot be read.", .0.display())]
    NotRegular(PathBuf),
    #[error("{} appears to be a binary file (it contains NUL bytes), which Read cannot show. Inspect it with Bash (`file`, `xxd`, `strings`).", .0.display())]
    Binary(PathBuf),
    #[error("{} is not UTF-8 text (line {line} holds bytes that are not valid UTF-8). It may be binary or in another encoding; inspect it with Bash (`file`, `iconv`).", .path.display())]
    NotUtf8 { path: PathBuf, line: u64 },
    #[error("{} is an image of {size} bytes, more than the {MAX_IMAGE_BYTES} bytes that can be shown. Make a smaller copy with Bash (e.g. ImageMagick `convert in.png -resize 50% /tmp/small.png`) and read that.", .path.display())]
    ImageTooLarge { path: PathBuf, size: u64 },
    #[error("Read: limit must be at least 1")]
    ZeroLimit,
    #[error("Could not read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    super::context::run_blocking(NAME, ctx, input, read).await
}

fn read(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, ReadError> {
    if args.limit == Some(0) {
        return Err(ReadError::ZeroLimit);
    }
    let path = paths::resolve(ctx, &args.file_path)?;
    let mut file = open_regular_file(&path)?;
    let head = read_head(&mut file).map_err(ReadError::io(&path))?;
    let output = if let Some(media_type) = image_media_type(&head) {
        read_image(&path, &mut file, media_type)?
    } else if head.contains(&0) {
        return Err(ReadError::Binary(path));
    } else {
        file.seek(SeekFrom::Start(0))
            .map_err(ReadError::io(&path))?;
        // Claude Code treats offset 0 like 1: both mean "from the first line".
        let first_line = args.offset.unwrap_or(1).max(1);
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
        read_text(&path, BufReader::new(file), first_line, limit)?
    };
    ctx.remember(&path);
    Ok(output)
}

/// Opens `path` for reading, refusing folders and special files (a FIFO would block forever).
fn open_regular_file(path: &Path) -> Result<File, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            ReadError::NotFound(path.to_path_buf())
        }
        _ => ReadError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    if meta.is_dir() {
        return Err(ReadError::Directory(path.to_path_buf()));
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular(path.to_path_buf()));
    }
    File::open(path).map_err(ReadError::io(path))
}

/// The first [`SNIFF_BYTES`] of the file (fewer if it is shorter).
fn read_head(file: &mut File) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// The media type of an image the API can show, judged by its signature (not its name, which
/// may be missing or wrong).
fn image_media_type(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn read_image(path: &Path, file: &mut File, media_type: &str) -> Result<ToolOutput, ReadError> {
    let size = file.metadata().map_err(ReadError::io(path))?.len();
    if size > MAX_IMAGE_BYTES {
        return Err(ReadError::ImageTooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.take(MAX_IMAGE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(ReadError::io(path))?;
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let block = json!({
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    });
    Ok(ToolOutput {
        content: ToolContent::Blocks(vec![block]),
        is_error: false,
        structured: json!({
            "type": "image",
            "file": {"base64": data, "type": media_type, "originalSize": bytes.len()},
        }),
    })
}

/// The lines of a text file that fall in the requested window, plus the file's line count.
#[derive(Debug, Default)]
struct TextWindow {
    /// The shown lines as they are in the file (long lines cut), joined with `\n`.
    raw: String,
    /// The shown lines in `cat -n` form.
    numbered: String,
    /// Number of lines shown.
    shown: u64,
    /// Lines in the whole file.
    total: u64,
    /// Set when [`MAX_OUTPUT_BYTES`] stopped the window early.
    cut_by_size: bool,
}

impl TextWindow {
    fn push(&mut self, number: u64, line: &str) -> bool {
        let line = truncate_line(line, MAX_LINE_CHARS);
        let numbered = numbered_line(number, &line);
        if self.numbered.len() + numbered.len() > MAX_OUTPUT_BYTES {
            self.cut_by_size = true;
            return false;
        }
        if self.shown > 0 {
            self.raw.push('\n');
            self.numbered.push('\n');
        }
        self.raw.push_str(&line);
        self.numbered.push_str(&numbered);
        self.shown += 1;
        true
    }
}

fn read_text(
    path: &Path,
    reader: impl BufRead,
    first_line: u64,
    limit: u64,
) -> Result<ToolOutput, ReadError> {
    let window = collect_window(path, reader, first_line, limit)?;
    let text = window_text(&window, first_line);
    let structured = json!({
        "type": "text",
        "file": {
            "filePath": path.display().to_string(),
            "content": window.raw,
            "numLines": window.shown,
            "startLine": first_line,
            "totalLines": window.total,
        },
    });
    Ok(ToolOutput::ok(text, structured))
}

/// Reads the whole file line by line, keeping only the window: the total line count is needed,
/// but a huge log must not be held in memory.
fn collect_window(
    path: &Path,
    mut reader: impl BufRead,
    first_line: u64,
    limit: u64,
) -> Result<TextWindow, ReadError> {
    let mut window = TextWindow::default();
    let mut buf = Vec::new();
    let mut accepting = true;
    loop {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(ReadError::io(path))?
            == 0
        {
            break;
        }
        window.total += 1;
        let number = window.total;
        if accepting && number >= first_line && window.shown < limit {
            let line =
                std::str::from_utf8(strip_line_ending(&buf)).map_err(|_| ReadError::NotUtf8 {
                    path: path.to_path_buf(),
                    line: number,
                })?;
            accepting = window.push(number, line);
        }
    }
    Ok(window)
}

/// What the model sees: the numbered lines, or a note when there are none, plus a pointer to
/// the rest of the file when the window did not reach its end.
fn window_text(window: &TextWindow, first_line: u64) -> String {
    if window.total == 0 {
        return EMPTY_FILE_NOTE.to_owned();
    }
    if window.shown == 0 && !window.cut_by_size {
        return format!(
            "<system-reminder>Warning: the file exists but is shorter than the provided offset ({first_line}). The file has {} lines.</system-reminder>",
            window.total
        );
    }
    let last_shown = first_line + window.shown - 1;
    let mut text = window.numbered.clone();
    if window.cut_by_size {
        text.push_str(&format!(
            "\n\n[Output truncated at {} KB after line {last_shown} of {}. Read the rest with offset={} and a smaller limit.]",
            MAX_OUTPUT_BYTES / 1024,
            window.total,
            last_shown + 1
        ));
    } else if last_shown < window.total {
        text.push_str(&format!(
            "\n\n(Showing lines {first_line}-{last_shown} of {}. Use offset and limit to read more.)",
            window.total
        ));
    }
    text
}

fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `line` cut to `max_chars` characters, with a marker saying how long it really was.
pub(super) fn truncate_line(line: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(max_chars) {
        None => line.into(),
        Some((cut, _)) => format!(
            "{}... [line truncated, {} characters in all]",
            &line[..cut],
            line.chars().count()
        )
        .into(),
    }
}

/// One line in `cat -n` form: the number right-aligned in six columns, a tab, the text.
pub(super) fn numbered_line(number: u64, line: &str) -> String {
    format!("{number:>6}\t{line}")
}

#[cfg(test)]
mod tests {
    use super::super::context::FileStamp;
    use super::super::test_support::{setup, text};
    use super::*;
    use tempfile::TempDir;

    async fn read_path(ctx: &ToolContext, path: &Path, extra: Value) -> ToolOutput {
        let mut input = json!({"file_path": path.to_str().unwrap()});
        if let (Some(obj), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            obj.extend(extra.clone());
        }
        run(ctx, input).await
    }

    #[tokio::test]
    async fn reads_text_with_line_numbers_and_remembers_the_file() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("a.txt");
        std::fs::write(&path, "one\r\ntwo\nthree\n").unwrap();
        let out = read_path(&ctx, &path, json!({})).await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(text(&out), "     1\tone\n     2\ttwo\n     3\tthree");
        assert_eq!(
            out.structured,
            json!({"type": "text", "file": {
                "filePath": path.display().to_string(), "content": "one\ntwo\nthree",
                "numLines": 3, "startLine": 1, "totalLines": 3}})
        );
        assert_eq!(ctx.seen(&path), Some(FileStamp::of(&path).unwrap()));
    }

    #[tokio::test]
    async fn offset_and_limit_select_a_window_and_point_to_the_rest() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("n.txt");
        let body: String = (1..=10).map(|i| format!("line{i}\n")).collect();
        std::fs::write(&path, body).unwrap();
        let out = read_path(&ctx, &path, json!({"offset": 4, "limit": 2})).await;
        assert!(text(&out).starts_with("     4\tline4\n     5\tline5\n\n(Showing lines 4-5 of 10."));
        assert_eq!(out.structured["file"]["startLine"], 4);
        assert_eq!(out.structured["file"]["numLines"], 2);
        assert_eq!(out.structured["file"]["totalLines"], 10);
        let zero = read_path(&ctx, &path, json!({"offset": 0, "limit": 1})).await;
        assert!(text(&zero).starts_with("     1\tline1"));
    }

    #[tokio::test]
    async fn offset_past_the_end_gives_a_warning() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("s.txt");
        std::fs::write(&path, "a\nb\n").unwrap();
        let out = read_path(&ctx, &path, json!({"offset": 9})).await;
        assert!(!out.is_error);
        assert!(text(&out).contains("shorter than the provided offset (9). The file has 2 lines"));
    }

    #[tokio::test]
    async fn empty_file_gives_a_reminder() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("empty");
        std::fs::write(&path, "").unwrap();
        let out = read_path(&ctx, &path, json!({})).await;
        assert!(!out.is_error);
        assert_eq!(text(&out), EMPTY_FILE_NOTE);
        assert_eq!(out.structured["file"]["totalLines"], 0);
    }

    #[tokio::test]
    async fn long_lines_are_truncated() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("long.txt");
        std::fs::write(&path, "é".repeat(2500)).unwrap();
        let out = read_path(&ctx, &path, json!({})).await;
        let shown = text(&out);
        assert!(shown.contains("[line truncated, 2500 characters in all]"));
        assert_eq!(shown.matches('é').count(), 2000);
    }

    #[tokio::test]
    async fn output_is_capped_with_a_pointer_to_offset() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("big.txt");
        let line = "x".repeat(1000);
        let body: String = (0..1000).map(|_| format!("{line}\n")).collect();
        std::fs::write(&path, body).unwrap();
        let out = read_path(&ctx, &path, json!({})).await;
        let shown = text(&out);
        assert!(shown.len() < MAX_OUTPUT_BYTES + 200);
        assert!(
            shown.contains("[Output truncated at 256 KB after line"),
            "{}",
            &shown[shown.len() - 200..]
        );
        assert_eq!(out.structured["file"]["totalLines"], 1000);
    }

    #[tokio::test]
    async fn png_is_returned_as_an_image_block() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("pic.dat");
        let bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        std::fs::write(&path, &bytes).unwrap();
        let out = read_path(&ctx, &path, json!({})).await;
        assert!(!out.is_error, "{out:?}");
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(
            out.content,
            ToolContent::Blocks(vec![json!({"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": data}})])
        );
        assert_eq!(out.structured["type"], "image");
        assert_eq!(out.structured["file"]["type"], "image/png");
        assert_eq!(out.structured["file"]["originalSize"], bytes.len());
        assert!(ctx.seen(&path).is_some());
    }

    #[test]
    fn image_signatures_are_recognised() {
        assert_eq!(
            image_media_type(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(image_media_type(b"GIF89a...."), Some("image/gif"));
        assert_eq!(
            image_media_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(image_media_type(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(image_media_type(b"plain text"), None);
    }

    #[tokio::test]
    async fn oversized_image_is_refused() {
        let (_tmp, ctx) = setup();
        let path = ctx.cwd().join("huge.gif");
        let mut bytes = b"GIF89a".to_vec();
        bytes.resize(MAX_IMAGE_BYTES as usize + 1, 0);
        std::fs::write(&path, &bytes).unwrap();
        let out = read_path(&ctx, &path, json!({})).await;
        assert!(out.is_error);
        assert!(text(&out).contains("resize"), "{}", text(&out));
    }

    #[tokio::test]
    async fn binary_and_non_utf8_files_are_refused() {
        let (_tmp, ctx) = setup();
        let bin = ctx.cwd().join("a.out");
        std::fs::write(&bin, b"\x7fELF\0\0\x01").unwrap();
        let out = read_path(&ctx, &bin, json!({})).await;
        assert!(out.is_error);
        assert!(text(&out).contains("binary file"));
        assert_eq!(ctx.seen(&bin), None);

        let latin1 = ctx.cwd().join("latin1.txt");
        std::fs::write(&latin1, b"ok\ncaf\xe9\n").unwrap();
        let out = read_path(&ctx, &latin1, json!({})).await;
        assert!(out.is_error);
        assert!(text(&out).contains("line 2"), "{}", text(&out));
    }

    #[tokio::test]
    async fn directories_missing_files_and_outside_paths_are_refused() {
        let (_tmp, ctx) = setup();
        let out = read_path(&ctx, ctx.cwd(), json!({})).await;
        assert!(
            out.is_error && text(&out).contains("is a directory"),
            "{out:?}"
        );
        assert!(out.structured.as_str().unwrap().starts_with("Error: "));

        let out = read_path(&ctx, &ctx.cwd().join("nope.txt"), json!({})).await;
        assert!(out.is_error && text(&out).starts_with("File does not exist"));

        let out = run(&ctx, json!({"file_path": "/etc/hostname"})).await;
        assert!(out.is_error && text(&out).contains("outside the folders"));
    }

    #[tokio::test]
    async fn symlink_escape_is_refused() {
        let (tmp, ctx) = setup();
        let outside = TempDir::new().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(outside.path().join("secret"), &link).unwrap();
        let out = read_path(&ctx, &link, json!({})).await;
        assert!(
            out.is_error && text(&out).contains("symbolic link"),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn bad_input_is_explained() {
        let (_tmp, ctx) = setup();
        let out = run(&ctx, json!({"path": "/x"})).await;
        assert!(
            out.is_error && text(&out).starts_with("Read: invalid input:"),
            "{out:?}"
        );
        let out = run(&ctx, json!({"file_path": "x", "limit": 0})).await;
        assert!(out.is_error && text(&out).contains("limit"));
    }
}
