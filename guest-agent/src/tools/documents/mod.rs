//! Native document tools: spreadsheets (`.xlsx`, with formulas, formats and charts), Word
//! documents (`.docx`), presentations (`.pptx`) and PDFs, written in Rust so they work in the minimal image, without Python
//! or LibreOffice, and fast.
//!
//! They share how a generated file is saved ([`save`]): inside the folders only, never over an
//! existing file unless asked (`overwrite`), atomically (the person's file is never half-written),
//! and with the same `tool_use_result` shape as `Write`.

pub mod docx;
pub mod pdf;
pub mod pptx;
pub mod read;
pub mod xlsx;

mod blocks;

use std::path::Path;

use serde_json::json;
use thiserror::Error;

use super::context::{ToolContext, ToolOutput};
use super::paths::{self, PathError};
use super::write;

/// Why a document could not be written.
#[derive(Debug, Error)]
pub enum DocumentError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{} already exists; to replace it, call again with \"overwrite\": true.", .0)]
    Exists(String),
    #[error("{path} must end in .{extension}")]
    Extension {
        path: String,
        extension: &'static str,
    },
    #[error("{0}")]
    Content(String),
    #[error("Could not write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `bytes` to `raw_path` (checked to be inside the folders and to end in `.extension`),
/// and describes the result for the model.
pub(crate) fn save(
    ctx: &ToolContext,
    raw_path: &str,
    extension: &'static str,
    overwrite: bool,
    bytes: &[u8],
    summary: &str,
) -> Result<ToolOutput, DocumentError> {
    let path = paths::resolve(ctx, raw_path)?;
    let shown = path.display().to_string();
    let matches = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(extension));
    if !matches {
        return Err(DocumentError::Extension {
            path: shown,
            extension,
        });
    }
    let existed = path.exists();
    if existed && !overwrite {
        return Err(DocumentError::Exists(shown));
    }
    let io = |source| DocumentError::Io {
        path: shown.clone(),
        source,
    };
    write::create_parent_dirs(&path).map_err(io)?;
    write::write_atomically(&path, bytes).map_err(io)?;
    ctx.remember(&path);
    let verb = if existed { "replaced" } else { "created" };
    let text = format!("{summary} {verb} at: {shown} ({} bytes)", bytes.len());
    Ok(ToolOutput::ok(
        text,
        json!({"type": if existed { "update" } else { "create" }, "filePath": shown, "bytes": bytes.len()}),
    ))
}

/// Text for an XML element or attribute: the five special characters escaped, and the control
/// characters XML 1.0 cannot carry at all dropped.
pub(crate) fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `tool` writes a whole document (the list the host shares,
/// `workroom_protocol::tools::DOCUMENT_WRITERS`).
pub fn is_writer(tool: &str) -> bool {
    workroom_protocol::tools::DOCUMENT_WRITERS.contains(&tool)
}

/// A file name for messages (`report.xlsx`).
pub(crate) fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shared_list_names_exactly_these_tools() {
        let mut ours = [
            super::xlsx::NAME,
            super::docx::NAME,
            super::pdf::NAME,
            super::pptx::NAME,
        ];
        let mut shared = workroom_protocol::tools::DOCUMENT_WRITERS.to_vec();
        ours.sort_unstable();
        shared.sort_unstable();
        assert_eq!(ours.to_vec(), shared);
    }
}
