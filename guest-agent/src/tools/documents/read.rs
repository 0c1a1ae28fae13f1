//! `ReadDocument`: the content of a spreadsheet (xlsx, xls, ods, csv), a Word document (docx), a
//! PowerPoint deck (pptx) or a PDF as Markdown, through the same reader as the app's previews (`workroom-documents`). `Read` sees
//! these files as binary; this is how the agent reads what the person gave it.

use serde::Deserialize;
use serde_json::{json, Value};
use workroom_documents::{DocBlock, Limits, Sheet};

use crate::tools::context::{ToolContext, ToolOutput};
use crate::tools::paths;

pub const NAME: &str = "ReadDocument";

pub fn description() -> &'static str {
    "Read a spreadsheet (.xlsx, .xls, .ods, .csv), a Word document (.docx), a PowerPoint deck (.pptx) or a PDF in the folders, as Markdown: each sheet as a table (formulas without a stored value show as formulas), a document as headings, paragraphs, lists and tables, a deck slide by slide, a PDF as the text of each page (max_rows is then the number of pages, default 50; scanned pages have no text). For plain text use Read."
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": "The document to read"},
            "sheet": {"type": "string", "description": "Only this sheet of a workbook"},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": 2000, "description": "Rows per sheet (default 200)"}
        },
        "required": ["file_path"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    sheet: Option<String>,
    max_rows: Option<usize>,
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    crate::tools::context::run_blocking(NAME, ctx, input, read).await
}

/// One Markdown table row.
fn row(cells: &[String]) -> String {
    let cells: Vec<String> = cells
        .iter()
        .map(|c| c.replace('|', "\\|").replace('\n', " "))
        .collect();
    format!("| {} |", cells.join(" | "))
}

fn table(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return "(empty)".into();
    }
    let pad = |r: &Vec<String>| {
        let mut r = r.clone();
        r.resize(width, String::new());
        r
    };
    let mut out = vec![row(&pad(&rows[0])), row(&vec!["---".to_string(); width])];
    out.extend(rows[1..].iter().map(|r| row(&pad(r))));
    out.join("\n")
}

fn sheets_markdown(sheets: &[Sheet]) -> String {
    sheets
        .iter()
        .map(|s| {
            let note = if s.truncated {
                "\n\n(more rows or columns than shown; ask for more with max_rows)"
            } else {
                ""
            };
            format!("## Sheet: {}\n\n{}{note}", s.name, table(&s.rows))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn document_markdown(blocks: &[DocBlock]) -> String {
    let mut out: Vec<String> = Vec::new();
    for block in blocks {
        out.push(match block {
            DocBlock::Heading { level, text } => {
                format!("{} {text}", "#".repeat(usize::from(*level)))
            }
            DocBlock::Paragraph { text } => text.clone(),
            DocBlock::ListItem { text } => format!("- {text}"),
            DocBlock::Table { rows } => table(rows),
        });
    }
    out.join("\n\n")
}

fn read(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, String> {
    let path = paths::resolve(ctx, &args.file_path).map_err(|e| e.to_string())?;
    let shown = path.display().to_string();
    let limits = Limits {
        rows: args.max_rows.unwrap_or(200).clamp(1, 2000),
        columns: 60,
    };
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (markdown, structured) = match extension.as_str() {
        "xlsx" | "xlsm" | "xls" | "ods" => {
            let mut sheets = workroom_documents::read_sheets(&path, limits)
                .map_err(|e| format!("{shown} could not be read: {e}"))?;
            if let Some(only) = &args.sheet {
                let names: Vec<String> = sheets.iter().map(|s| s.name.clone()).collect();
                sheets.retain(|s| &s.name == only);
                if sheets.is_empty() {
                    return Err(format!("{shown} has no sheet {only:?}; its sheets: {}", names.join(", ")));
                }
            }
            (sheets_markdown(&sheets), json!({"type": "spreadsheet", "filePath": shown, "sheets": sheets}))
        }
        "csv" => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{shown} could not be read: {e}"))?;
            let sheet = Sheet {
                name: paths::display(ctx, &path),
                rows: workroom_documents::csv_rows(&text, limits),
                truncated: text.lines().count() > limits.rows,
            };
            let sheets = vec![sheet];
            (sheets_markdown(&sheets), json!({"type": "spreadsheet", "filePath": shown, "sheets": sheets}))
        }
        "docx" => {
            let blocks = workroom_documents::read_docx(&path)
                .map_err(|e| format!("{shown} could not be read: {e}"))?;
            (document_markdown(&blocks), json!({"type": "document", "filePath": shown, "blocks": blocks}))
        }
        "pptx" => {
            let blocks = workroom_documents::read_pptx(&path)
                .map_err(|e| format!("{shown} could not be read: {e}"))?;
            (document_markdown(&blocks), json!({"type": "presentation", "filePath": shown, "blocks": blocks}))
        }
        "pdf" => {
            let max = args.max_rows.unwrap_or(50).clamp(1, 500);
            let (pages, count) = workroom_documents::read_pdf(&path, max)
                .map_err(|e| format!("{shown} could not be read: {e}"))?;
            let mut text: Vec<String> = pages
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = if t.trim().is_empty() { "(no text: an image or a scan)" } else { t };
                    format!("## Page {}\n\n{t}", i + 1)
                })
                .collect();
            if count > pages.len() {
                text.push(format!("({} more pages; ask for them with max_rows)", count - pages.len()));
            }
            (text.join("\n\n"), json!({"type": "pdf", "filePath": shown, "pages": pages, "pageCount": count}))
        }
        other => {
            return Err(format!(
                "ReadDocument reads .xlsx, .xls, .ods, .csv, .docx, .pptx and .pdf, not .{other}; use Read for text."
            ))
        }
    };
    ctx.remember(&path);
    Ok(ToolOutput::ok(markdown, structured))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_documents_become_markdown() {
        let rows = vec![
            vec!["Vendor".to_string(), "Amount".to_string()],
            vec!["A|B".to_string()],
        ];
        assert_eq!(
            table(&rows),
            "| Vendor | Amount |\n| --- | --- |\n| A\\|B |  |"
        );
        let doc = document_markdown(&[
            DocBlock::Heading {
                level: 2,
                text: "Costs".into(),
            },
            DocBlock::ListItem {
                text: "item".into(),
            },
        ]);
        assert_eq!(doc, "## Costs\n\n- item");
    }
}
