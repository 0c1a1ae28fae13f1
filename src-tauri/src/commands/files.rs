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
/// Most text sent to the window.
const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Rows and columns of each sheet shown.
const MAX_ROWS: usize = 200;
const MAX_COLUMNS: usize = 40;
/// Largest `word/document.xml` read.
const MAX_DOCX_XML: u64 = 32 << 20;

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

/// One sheet of a table preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
    pub truncated: bool,
}

/// One block of a document preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocBlock {
    Heading { level: u8, text: String },
    Paragraph { text: String },
    ListItem { text: String },
    Table { rows: Vec<Vec<String>> },
}

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
        "xlsx" | "xlsm" | "xls" | "ods" => match sheets(file) {
            Ok(sheets) => FilePreview::Table {
                name,
                sheets,
                bytes,
            },
            Err(e) => unreadable("spreadsheet", e),
        },
        "csv" => match read_text(file) {
            Ok((text, truncated)) => FilePreview::Table {
                name: name.clone(),
                sheets: vec![Sheet {
                    name: name.clone(),
                    rows: csv_rows(&text),
                    truncated: truncated || text.lines().count() > MAX_ROWS,
                }],
                bytes,
            },
            Err(e) => unreadable("file", e),
        },
        "docx" => match docx_blocks(file) {
            Ok(blocks) => FilePreview::Document {
                name,
                blocks,
                bytes,
            },
            Err(e) => unreadable("document", e),
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
        "pdf" => unsupported("PDFs open in your PDF viewer.".into()),
        _ => unsupported("There is no preview for this kind of file.".into()),
    })
}

fn read_text(file: &Path) -> Result<(String, bool), String> {
    let mut buf = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_TEXT_BYTES as u64 + 1).read_to_end(&mut buf))
        .map_err(|e| e.to_string())?;
    let truncated = buf.len() > MAX_TEXT_BYTES;
    buf.truncate(MAX_TEXT_BYTES);
    Ok((String::from_utf8_lossy(&buf).into_owned(), truncated))
}

/// Display text of a cell: numbers without a useless `.0`.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        other => other.to_string(),
    }
}

fn sheets(file: &Path) -> Result<Vec<Sheet>, String> {
    use calamine::Reader as _;
    let mut workbook = calamine::open_workbook_auto(file).map_err(|e| e.to_string())?;
    let names = workbook.sheet_names().to_vec();
    let mut out = Vec::new();
    for name in names {
        let range = workbook.worksheet_range(&name).map_err(|e| e.to_string())?;
        // A formula without a stored value shows as its formula rather than as nothing.
        let formulas = workbook.worksheet_formula(&name).ok();
        let (height, width) = range.get_size();
        let start = range.start().unwrap_or((0, 0));
        let mut rows = Vec::new();
        for r in 0..height.min(MAX_ROWS) {
            let mut row = Vec::new();
            for c in 0..width.min(MAX_COLUMNS) {
                let mut text = range.get((r, c)).map(cell_text).unwrap_or_default();
                if text.is_empty() {
                    if let Some(f) = formulas
                        .as_ref()
                        .and_then(|f| f.get_value((start.0 + r as u32, start.1 + c as u32)))
                        .filter(|f| !f.is_empty())
                    {
                        text = format!("={f}");
                    }
                }
                row.push(text);
            }
            rows.push(row);
        }
        out.push(Sheet {
            name,
            rows,
            truncated: height > MAX_ROWS || width > MAX_COLUMNS,
        });
    }
    Ok(out)
}

/// CSV rows (quoted fields with commas, doubled quotes and newlines), first rows only.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                if rows.len() >= MAX_ROWS {
                    return rows;
                }
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn docx_blocks(file: &Path) -> Result<Vec<DocBlock>, String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(file).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| "it has no word/document.xml".to_string())?;
    let mut xml = String::new();
    entry
        .take(MAX_DOCX_XML)
        .read_to_string(&mut xml)
        .map_err(|e| e.to_string())?;
    Ok(parse_document_xml(&xml))
}

/// Headings, paragraphs, list items and tables of WordprocessingML, in order.
pub(crate) fn parse_document_xml(xml: &str) -> Vec<DocBlock> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut blocks = Vec::new();
    let mut text = String::new();
    let mut style = String::new();
    let mut in_table = 0usize;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match e.local_name().into_inner() {
                "p" => {
                    text.clear();
                    style.clear();
                }
                "pStyle" => {
                    if let Some(v) = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().into_inner() == "val")
                    {
                        style = v.value.to_string();
                    }
                }
                "t" => in_text = true,
                "tab" => text.push('\t'),
                "br" => text.push('\n'),
                "tbl" => {
                    in_table += 1;
                    if in_table == 1 {
                        rows.clear();
                    }
                }
                "tr" if in_table == 1 => rows.push(Vec::new()),
                "tc" if in_table == 1 => {
                    if let Some(row) = rows.last_mut() {
                        row.push(String::new());
                    }
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_text => {
                text.push_str(&t.xml10_content());
            }
            Ok(Event::GeneralRef(r)) if in_text => {
                let entity = r.into_inner().to_string();
                text.push_str(match entity.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Ok(Event::End(e)) => match e.local_name().into_inner() {
                "t" => in_text = false,
                "p" => {
                    let content = std::mem::take(&mut text);
                    if in_table > 0 {
                        if let Some(cell) = rows.last_mut().and_then(|r| r.last_mut()) {
                            if !cell.is_empty() {
                                cell.push('\n');
                            }
                            cell.push_str(&content);
                        }
                    } else if !content.trim().is_empty() {
                        blocks.push(block(&style, content));
                    }
                }
                "tbl" => {
                    in_table = in_table.saturating_sub(1);
                    if in_table == 0 {
                        blocks.push(DocBlock::Table {
                            rows: std::mem::take(&mut rows),
                        });
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    blocks
}

fn block(style: &str, text: String) -> DocBlock {
    let lower = style.to_ascii_lowercase();
    if lower == "title" {
        return DocBlock::Heading { level: 1, text };
    }
    if let Some(level) = lower
        .strip_prefix("heading")
        .and_then(|l| l.trim().parse::<u8>().ok())
    {
        return DocBlock::Heading {
            level: level.clamp(1, 3),
            text,
        };
    }
    if lower.starts_with("list") {
        return DocBlock::ListItem {
            text: text.trim_start_matches(['•', '\t', ' ']).to_string(),
        };
    }
    DocBlock::Paragraph { text }
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
    fn word_xml_becomes_blocks_and_csv_becomes_rows() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Report &amp; notes</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Costs</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Plain </w:t></w:r><w:r><w:t>text</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="ListBullet"/></w:pPr><w:r><w:t>•</w:t><w:tab/><w:t>item</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>A</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>B</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        assert_eq!(
            parse_document_xml(xml),
            vec![
                DocBlock::Heading {
                    level: 1,
                    text: "Report & notes".into()
                },
                DocBlock::Heading {
                    level: 2,
                    text: "Costs".into()
                },
                DocBlock::Paragraph {
                    text: "Plain text".into()
                },
                DocBlock::ListItem {
                    text: "item".into()
                },
                DocBlock::Table {
                    rows: vec![vec!["A".into(), "B".into()]]
                },
            ]
        );
        assert_eq!(
            csv_rows("a,\"b, c\",\"say \"\"hi\"\"\"\n1,2,3"),
            vec![vec!["a", "b, c", "say \"hi\""], vec!["1", "2", "3"]]
        );
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
