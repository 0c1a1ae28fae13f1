//! The content of a Word document or PDF: a list of blocks, as the model writes them, and the
//! input and saving the two tools share.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{file_name, save, DocumentError};
use crate::tools::context::{ToolContext, ToolOutput};

/// One block of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading, level 1 (largest) to 3.
    Heading {
        text: String,
        level: u8,
    },
    Paragraph(String),
    Bullets(Vec<String>),
    Numbered(Vec<String>),
    /// Rows of cells; the first row is the header.
    Table(Vec<Vec<String>>),
    PageBreak,
}

/// The JSON schema of `blocks`, shared by the document and PDF tools.
pub fn schema() -> Value {
    json!({
        "type": "array",
        "description": "The content, in order. Each block is one of: {\"heading\": text, \"level\": 1-3}, {\"paragraph\": text}, {\"bullets\": [text, ...]}, {\"numbered\": [text, ...]}, {\"table\": [[header cells], [cells], ...]}, {\"page_break\": true}.",
        "items": {"type": "object"}
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list(v: &Value, what: &str, i: usize) -> Result<Vec<String>, String> {
    v.as_array()
        .map(|items| items.iter().map(text_of).collect())
        .ok_or_else(|| format!("block {i}: \"{what}\" must be a list of strings"))
}

/// The input of `CreateDocument` and `CreatePdf`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    file_path: String,
    title: Option<String>,
    blocks: Vec<Value>,
    #[serde(default)]
    overwrite: bool,
}

/// The input schema of a tool writing blocks to a `.extension` file.
pub fn input_schema(extension: &str) -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": format!("Where to save it (ends in .{extension})")},
            "title": {"type": "string", "description": "The document's title (shown first, and in its properties)"},
            "blocks": schema(),
            "overwrite": {"type": "boolean", "description": "Replace the file if it exists"}
        },
        "required": ["file_path", "blocks"],
        "additionalProperties": false
    })
}

/// Parses the blocks, renders them with `build` and saves the result as `.extension`;
/// `kind` names the file in the result ("Document", "PDF").
pub fn create(
    ctx: &ToolContext,
    args: &Args,
    extension: &'static str,
    kind: &str,
    build: impl FnOnce(Option<&str>, &[Block]) -> Result<Vec<u8>, String>,
) -> Result<ToolOutput, DocumentError> {
    let blocks = parse(&args.blocks).map_err(DocumentError::Content)?;
    let bytes = build(args.title.as_deref(), &blocks).map_err(DocumentError::Content)?;
    let summary = format!(
        "{kind} {} ({} blocks)",
        file_name(&args.file_path),
        blocks.len()
    );
    save(
        ctx,
        &args.file_path,
        extension,
        args.overwrite,
        &bytes,
        &summary,
    )
}

/// Reads the blocks; the error names the block and says what is expected.
pub fn parse(blocks: &[Value]) -> Result<Vec<Block>, String> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if let Some(text) = b.get("heading") {
                let level = b.get("level").and_then(Value::as_u64).unwrap_or(1).clamp(1, 3);
                return Ok(Block::Heading {
                    text: text_of(text),
                    level: level as u8,
                });
            }
            if let Some(text) = b.get("paragraph") {
                return Ok(Block::Paragraph(text_of(text)));
            }
            if let Some(items) = b.get("bullets") {
                return list(items, "bullets", i).map(Block::Bullets);
            }
            if let Some(items) = b.get("numbered") {
                return list(items, "numbered", i).map(Block::Numbered);
            }
            if let Some(rows) = b.get("table") {
                let rows = rows
                    .as_array()
                    .ok_or_else(|| format!("block {i}: \"table\" must be a list of rows"))?;
                return rows
                    .iter()
                    .map(|r| list(r, "table", i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Block::Table);
            }
            if b.get("page_break").is_some() {
                return Ok(Block::PageBreak);
            }
            Err(format!(
                "block {i} is not one of heading, paragraph, bullets, numbered, table, page_break: {b}"
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_and_mistakes_are_named() {
        let blocks = parse(&[
            json!({"heading": "Report", "level": 7}),
            json!({"paragraph": "Hello"}),
            json!({"bullets": ["a", 2]}),
            json!({"table": [["Month", "Total"], ["May", 12.5]]}),
        ])
        .unwrap();
        assert_eq!(
            blocks[0],
            Block::Heading {
                text: "Report".into(),
                level: 3
            }
        );
        assert_eq!(blocks[2], Block::Bullets(vec!["a".into(), "2".into()]));
        assert_eq!(
            blocks[3],
            Block::Table(vec![
                vec!["Month".into(), "Total".into()],
                vec!["May".into(), "12.5".into()]
            ])
        );
        assert!(parse(&[json!({"image": "x"})])
            .unwrap_err()
            .contains("block 0"));
        assert!(parse(&[json!({"bullets": "x"})])
            .unwrap_err()
            .contains("list of strings"));
    }
}
