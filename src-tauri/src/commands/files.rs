//! Previews of the files a session's agent made, and "open in the default app".
//!
//! Only files inside the session's folders are served (the path is resolved, symlinks included,
//! before the check), and every preview is bounded: the window never receives a whole large file.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt as _;

use crate::error::{CommandError, CommandResult, ErrorCode};
use crate::state::AppState;

/// Largest image sent to the window.
const MAX_IMAGE_BYTES: u64 = 10 << 20;
/// Largest PDF sent to the window to be drawn page by page (larger ones show their text).
const MAX_PDF_BYTES: u64 = 25 << 20;
/// Most text sent to the window.
const MAX_TEXT_BYTES: usize = 256 * 1024;

/// What the window shows for a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FilePreview {
    Image {
        name: String,
        data_url: String,
        bytes: u64,
    },
    Table {
        name: String,
        sheets: Vec<Sheet>,
        bytes: u64,
    },
    Document {
        name: String,
        blocks: Vec<DocBlock>,
        bytes: u64,
    },
    /// Drawn by the page (pdf.js); `pages` is the text of the first pages, shown if drawing fails.
    Pdf {
        name: String,
        data_url: String,
        pages: Vec<String>,
        page_count: usize,
        bytes: u64,
    },
    Text {
        name: String,
        text: String,
        truncated: bool,
        bytes: u64,
    },
    Unsupported {
        name: String,
        reason: String,
        bytes: u64,
    },
}

pub use workroom_documents::{DocBlock, Sheet};

/// `path` (absolute, or relative to the first folder) resolved inside one of `folders`.
fn inside(folders: &[PathBuf], path: &str) -> CommandResult<PathBuf> {
    let raw = Path::new(path);
    let joined = match (raw.is_absolute(), folders.first()) {
        (true, _) => raw.to_path_buf(),
        (false, Some(first)) => first.join(raw),
        (false, None) => raw.to_path_buf(),
    };
    let outside = || {
        CommandError::new(
            ErrorCode::FolderNotShareable,
            format!("{path} is not a file in this session's folders"),
        )
    };
    let real = joined.canonicalize().map_err(|_| outside())?;
    let ok = folders.iter().any(|f| {
        f.canonicalize()
            .map(|f| real.starts_with(&f))
            .unwrap_or(false)
    });
    if !ok || !real.is_file() {
        return Err(outside());
    }
    Ok(real)
}

fn session_file(state: &AppState, id: &str, path: &str) -> CommandResult<PathBuf> {
    let record = state.host().store().session(id)?;
    inside(&record.folders, path)
}

/// A preview of a file the agent made.
#[tauri::command]
pub async fn preview_file(
    state: State<'_, AppState>,
    id: String,
    path: String,
) -> CommandResult<FilePreview> {
    let file = session_file(&state, &id, &path)?;
    tauri::async_runtime::spawn_blocking(move || preview(&file))
        .await
        .map_err(|e| CommandError::unknown(format!("the preview failed: {e}")))?
}

/// Opens a file of the session in the person's default app for its type.
#[tauri::command]
pub async fn open_file<R: tauri::Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    path: String,
) -> CommandResult<()> {
    let file = session_file(&state, &id, &path)?;
    app.opener()
        .open_path(file.to_string_lossy(), None::<&str>)
        .map_err(|e| CommandError::unknown(format!("{} could not be opened: {e}", file.display())))
}

pub(crate) fn preview(file: &Path) -> CommandResult<FilePreview> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::metadata(file)
        .map(|m| m.len())
        .map_err(|e| CommandError::unknown(format!("{name} cannot be read: {e}")))?;
    let extension = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let unsupported = |reason: String| FilePreview::Unsupported {
        name: name.clone(),
        reason,
        bytes,
    };
    let unreadable =
        |what: &str, e: String| unsupported(format!("This {what} could not be read: {e}"));
    let limits = workroom_documents::Limits::default();
    Ok(match extension.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" => {
            if bytes > MAX_IMAGE_BYTES {
                return Ok(unsupported("This image is too large to preview.".into()));
            }
            let mime = match extension.as_str() {
                "jpg" | "jpeg" => "image/jpeg",
                other => match other {
                    "png" => "image/png",
                    "gif" => "image/gif",
                    _ => "image/webp",
                },
            };
            let data = std::fs::read(file).map_err(|e| CommandError::unknown(e.to_string()))?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            FilePreview::Image {
                name,
                data_url: format!("data:{mime};base64,{encoded}"),
                bytes,
            }
        }
        "xlsx" | "xlsm" | "xls" | "ods" => match workroom_documents::read_sheets(file, limits) {
            Ok(sheets) => FilePreview::Table {
                name,
                sheets,
                bytes,
            },
            Err(e) => unreadable("spreadsheet", e.to_string()),
        },
        "csv" => match read_text(file) {
            Ok((text, truncated)) => FilePreview::Table {
                name: name.clone(),
                sheets: vec![Sheet {
                    name: name.clone(),
                    rows: workroom_documents::csv_rows(&text, limits),
                    truncated: truncated || text.lines().count() > limits.rows,
                }],
                bytes,
            },
            Err(e) => unreadable("file", e),
        },
        "docx" => match workroom_documents::read_docx(file) {
            Ok(blocks) => FilePreview::Document {
                name,
                blocks,
                bytes,
            },
            Err(e) => unreadable("document", e.to_string()),
        },
        "pptx" => match workroom_documents::read_pptx(file) {
            Ok(blocks) => FilePreview::Document {
                name,
                blocks,
                bytes,
            },
            Err(e) => unreadable("presentation", e.to_string()),
        },
        "txt" | "md" | "markdown" | "json" | "log" | "yaml" | "yml" | "toml" | "xml" | "html" => {
            match read_text(file) {
                Ok((text, truncated)) => FilePreview::Text {
                    name,
                    text,
                    truncated,
                    bytes,
                },
                Err(e) => unreadable("file", e),
            }
        }
        // The file itself for the page to draw, with the text of the first pages as a fallback;
        // a large one shows only its text.
        "pdf" if bytes <= MAX_PDF_BYTES => {
            // Read at most the budget: the file may have grown since its size was taken.
            let data = match read_at_most(file, MAX_PDF_BYTES) {
                Ok((data, false)) => data,
                Err(e) => return Ok(unreadable("PDF", e.to_string())),
                Ok((_, true)) => {
                    return Ok(unsupported(
                        "This PDF grew too large to preview while it was read.".into(),
                    ))
                }
            };
            let (pages, page_count) = workroom_documents::read_pdf_bytes(&data, 20)
                .unwrap_or_else(|e| (vec![format!("(the text could not be read: {e})")], 0));
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            FilePreview::Pdf {
                name,
                data_url: format!("data:application/pdf;base64,{encoded}"),
                pages,
                page_count,
                bytes,
            }
        }
        "pdf" => match workroom_documents::read_pdf(file, 20) {
            Ok((pages, count)) => FilePreview::Text {
                name,
                text: pages
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("— Page {} —\n{t}", i + 1))
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                truncated: count > pages.len(),
                bytes,
            },
            Err(e) => unreadable("PDF", e.to_string()),
        },
        _ => unsupported("There is no preview for this kind of file.".into()),
    })
}

fn read_text(file: &Path) -> Result<(String, bool), String> {
    let (buf, truncated) = read_at_most(file, MAX_TEXT_BYTES as u64).map_err(|e| e.to_string())?;
    Ok((String::from_utf8_lossy(&buf).into_owned(), truncated))
}

/// The first `cap` bytes of `file`, and whether there was more.
fn read_at_most(file: &Path, cap: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    std::fs::File::open(file)?
        .take(cap + 1)
        .read_to_end(&mut buf)?;
    let more = buf.len() as u64 > cap;
    buf.truncate(cap as usize);
    Ok((buf, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_folders_are_refused_even_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Taxes");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("a.txt"), "hi").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), folder.join("link.txt")).unwrap();
        let folders = vec![folder.clone()];
        assert!(inside(&folders, "a.txt").is_ok());
        assert!(inside(&folders, &folder.join("a.txt").to_string_lossy()).is_ok());
        for bad in [
            "link.txt",
            "../secret.txt",
            "/etc/passwd",
            "missing.txt",
            ".",
        ] {
            assert_eq!(
                inside(&folders, bad).unwrap_err().code,
                ErrorCode::FolderNotShareable,
                "{bad}"
            );
        }
    }

    #[test]
    fn images_become_data_urls_and_unknown_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("dot.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n").unwrap();
        match preview(&png).unwrap() {
            FilePreview::Image {
                data_url, bytes, ..
            } => {
                assert!(data_url.starts_with("data:image/png;base64,"));
                assert_eq!(bytes, 8);
            }
            other => panic!("{other:?}"),
        }
        let bin = dir.path().join("x.bin");
        std::fs::write(&bin, [0u8; 4]).unwrap();
        assert!(matches!(
            preview(&bin).unwrap(),
            FilePreview::Unsupported { .. }
        ));
    }
}
