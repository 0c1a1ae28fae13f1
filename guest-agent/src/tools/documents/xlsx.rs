//! `CreateSpreadsheet`: an `.xlsx` workbook (via `rust_xlsxwriter`) with text, numbers,
//! formulas, a bold frozen header row, number formats, column widths and charts.

use serde::Deserialize;
use serde_json::{json, Value};

use rust_xlsxwriter::{Chart, ChartType, Format, Formula, Workbook, Worksheet, XlsxError};

use super::{file_name, save, DocumentError};
use crate::tools::context::{ToolContext, ToolOutput};

pub const NAME: &str = "CreateSpreadsheet";

pub fn description() -> &'static str {
    "Create an Excel spreadsheet (.xlsx) in the folders: one or more sheets of rows, with formulas, a bold header row, number formats, column widths and charts. Use it for tables of numbers (expenses, budgets, lists) that the person will open in Excel, Numbers or LibreOffice.

Each row is a list of cells. A cell is text, a number, true/false, null (empty), or an object: {\"formula\": \"=SUM(C2:C9)\"} for a formula, or {\"value\": 12.5, \"bold\": true, \"number_format\": \"0.00\"} for a formatted value. Prefer formulas over computed numbers for totals and derived values, so the sheet stays correct when the person edits it.

Refuses to replace an existing file unless \"overwrite\" is true."
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": "Where to save it (ends in .xlsx)"},
            "sheets": {
                "type": "array", "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "Sheet name (max 31 characters)"},
                        "rows": {"type": "array", "items": {"type": "array"}, "description": "Rows of cells, top to bottom"},
                        "header": {"type": "boolean", "description": "The first row is a bold header, frozen when scrolling (default true)"},
                        "column_widths": {"type": "array", "items": {"type": "number"}, "description": "Widths in characters, from column A"},
                        "number_formats": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Number format by column letter, e.g. {\"C\": \"#,##0.00\", \"A\": \"yyyy-mm-dd\"}"},
                        "charts": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string", "enum": ["column", "bar", "line", "pie"]},
                                    "title": {"type": "string"},
                                    "categories": {"type": "string", "description": "Range of labels, e.g. A2:A9"},
                                    "values": {"type": "string", "description": "Range of numbers, e.g. C2:C9"},
                                    "anchor": {"type": "string", "description": "Top-left cell of the chart, e.g. E2"}
                                },
                                "required": ["type", "values"]
                            }
                        }
                    },
                    "required": ["rows"]
                }
            },
            "overwrite": {"type": "boolean", "description": "Replace the file if it exists"}
        },
        "required": ["file_path", "sheets"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    sheets: Vec<Sheet>,
    #[serde(default)]
    overwrite: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sheet {
    name: Option<String>,
    rows: Vec<Vec<Value>>,
    header: Option<bool>,
    #[serde(default)]
    column_widths: Vec<f64>,
    #[serde(default)]
    number_formats: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    charts: Vec<ChartSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChartSpec {
    #[serde(rename = "type")]
    kind: String,
    title: Option<String>,
    categories: Option<String>,
    values: String,
    anchor: Option<String>,
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    crate::tools::context::run_blocking(NAME, ctx, input, create).await
}

fn create(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, DocumentError> {
    let bytes = build(&args.sheets).map_err(DocumentError::Content)?;
    let cells: usize = args
        .sheets
        .iter()
        .map(|s| s.rows.iter().map(Vec::len).sum::<usize>())
        .sum();
    let summary = format!(
        "Spreadsheet {} ({} sheet{}, {cells} cells)",
        file_name(&args.file_path),
        args.sheets.len(),
        if args.sheets.len() == 1 { "" } else { "s" }
    );
    save(
        ctx,
        &args.file_path,
        "xlsx",
        args.overwrite,
        &bytes,
        &summary,
    )
}

/// `A` → 0, `AB` → 27; `None` for anything but letters.
fn column_index(letters: &str) -> Option<u16> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    letters
        .chars()
        .try_fold(0u32, |acc, c| {
            c.is_ascii_alphabetic()
                .then(|| acc * 26 + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1))
        })
        .and_then(|n| u16::try_from(n - 1).ok())
}

/// `C7` → (row 6, column 2).
fn cell_ref(reference: &str) -> Option<(u32, u16)> {
    let reference = reference.trim().trim_start_matches('$').replace('$', "");
    let split = reference.find(|c: char| c.is_ascii_digit())?;
    let col = column_index(&reference[..split])?;
    let row: u32 = reference[split..].parse().ok()?;
    Some((row.checked_sub(1)?, col))
}

/// The value of `=SUM(X1:Y9)` over this sheet's numbers, so viewers that do not recalculate
/// (previews, quick looks) show the right total; other formulas are computed when opened.
fn cached_sum(formula: &str, rows: &[Vec<Value>]) -> Option<f64> {
    let inner = formula.trim().strip_prefix("=SUM(")?.strip_suffix(')')?;
    let (from, to) = inner.split_once(':')?;
    let ((r1, c1), (r2, c2)) = (cell_ref(from)?, cell_ref(to)?);
    let mut total = 0.0;
    for row in rows.get(r1 as usize..=(r2 as usize).min(rows.len().saturating_sub(1)))? {
        for cell in row
            .get(c1 as usize..=(c2 as usize).min(row.len().saturating_sub(1)))
            .unwrap_or_default()
        {
            let value = cell.get("value").unwrap_or(cell);
            if value.get("formula").is_some() {
                return None;
            }
            total += value.as_f64().unwrap_or(0.0);
        }
    }
    Some(total)
}

fn chart_type(kind: &str) -> Result<ChartType, String> {
    Ok(match kind {
        "column" => ChartType::Column,
        "bar" => ChartType::Bar,
        "line" => ChartType::Line,
        "pie" => ChartType::Pie,
        other => {
            return Err(format!(
                "unknown chart type {other:?}; use column, bar, line or pie"
            ))
        }
    })
}

fn xlsx(e: XlsxError) -> String {
    e.to_string()
}

/// The workbook's bytes.
fn build(sheets: &[Sheet]) -> Result<Vec<u8>, String> {
    let mut workbook = Workbook::new();
    for (index, sheet) in sheets.iter().enumerate() {
        let name = sheet
            .name
            .clone()
            .unwrap_or_else(|| format!("Sheet{}", index + 1));
        let worksheet = workbook.add_worksheet();
        worksheet
            .set_name(&name)
            .map_err(|e| format!("sheet name {name:?}: {e}"))?;
        fill(worksheet, &name, sheet)?;
    }
    workbook.save_to_buffer().map_err(xlsx)
}

fn fill(worksheet: &mut Worksheet, name: &str, sheet: &Sheet) -> Result<(), String> {
    let header = sheet.header.unwrap_or(true) && !sheet.rows.is_empty();
    let bold = Format::new().set_bold();
    let mut column_formats = std::collections::HashMap::new();
    for (letters, format) in &sheet.number_formats {
        let col = column_index(letters)
            .ok_or_else(|| format!("number_formats: {letters:?} is not a column letter"))?;
        column_formats.insert(col, Format::new().set_num_format(format));
    }
    for (r, row) in sheet.rows.iter().enumerate() {
        let r = u32::try_from(r).map_err(|_| "too many rows".to_string())?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|_| "too many columns".to_string())?;
            let is_header = header && r == 0;
            let mut format = if is_header {
                Some(bold.clone())
            } else {
                column_formats.get(&c).cloned()
            };
            let (value, cell_bold, cell_format) = match cell {
                Value::Object(o) => (
                    o.get("value").cloned().unwrap_or(Value::Null),
                    o.get("bold").and_then(Value::as_bool).unwrap_or(false),
                    o.get("number_format").and_then(Value::as_str),
                ),
                other => (other.clone(), false, None),
            };
            if cell_bold || cell_format.is_some() {
                let mut f = format.unwrap_or_default();
                if cell_bold {
                    f = f.set_bold();
                }
                if let Some(nf) = cell_format {
                    f = f.set_num_format(nf);
                }
                format = Some(f);
            }
            let default = Format::new();
            let f = format.as_ref().unwrap_or(&default);
            if let Some(formula) = cell.get("formula").and_then(Value::as_str) {
                let mut formula_value = Formula::new(formula);
                if let Some(total) = cached_sum(formula, &sheet.rows) {
                    formula_value = formula_value.set_result(total.to_string());
                }
                worksheet
                    .write_formula_with_format(r, c, formula_value, f)
                    .map_err(xlsx)?;
                continue;
            }
            match value {
                Value::Null => {}
                Value::Number(n) => {
                    worksheet
                        .write_number_with_format(r, c, n.as_f64().unwrap_or(0.0), f)
                        .map_err(xlsx)?;
                }
                Value::Bool(b) => {
                    worksheet
                        .write_boolean_with_format(r, c, b, f)
                        .map_err(xlsx)?;
                }
                Value::String(s) => {
                    worksheet
                        .write_string_with_format(r, c, &s, f)
                        .map_err(xlsx)?;
                }
                other => {
                    worksheet
                        .write_string_with_format(r, c, other.to_string(), f)
                        .map_err(xlsx)?;
                }
            }
        }
    }
    if header {
        worksheet.set_freeze_panes(1, 0).map_err(xlsx)?;
    }
    for (c, width) in sheet.column_widths.iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| "too many column widths".to_string())?;
        worksheet.set_column_width(c, *width).map_err(xlsx)?;
    }
    for spec in &sheet.charts {
        let mut chart = Chart::new(chart_type(&spec.kind)?);
        let range = |r: &str| format!("='{}'!{}", name.replace('\'', "''"), r.replace('$', ""));
        let series = chart.add_series();
        series.set_values(range(&spec.values).as_str());
        if let Some(categories) = &spec.categories {
            series.set_categories(range(categories).as_str());
        }
        if let Some(title) = &spec.title {
            chart.title().set_name(title);
        }
        let (row, col) = spec
            .anchor
            .as_deref()
            .map(|a| cell_ref(a).ok_or_else(|| format!("chart anchor {a:?} is not a cell like E2")))
            .transpose()?
            .unwrap_or((
                1,
                sheet.rows.iter().map(Vec::len).max().unwrap_or(0) as u16 + 1,
            ));
        worksheet.insert_chart(row, col, &chart).map_err(xlsx)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_and_cached_sums() {
        assert_eq!(column_index("A"), Some(0));
        assert_eq!(column_index("AB"), Some(27));
        assert_eq!(cell_ref("$C$7"), Some((6, 2)));
        assert_eq!(cell_ref("7C"), None);
        let rows = vec![
            vec![json!("Item"), json!("Amount")],
            vec![json!("a"), json!(12.5)],
            vec![json!("b"), json!({"value": 7.5, "bold": true})],
            vec![json!("Total"), json!({"formula": "=SUM(B2:B3)"})],
        ];
        assert_eq!(cached_sum("=SUM(B2:B3)", &rows), Some(20.0));
        assert_eq!(
            cached_sum("=SUM(B2:B4)", &rows),
            None,
            "a formula in the range"
        );
        assert_eq!(cached_sum("=AVERAGE(B2:B3)", &rows), None);
    }

    #[test]
    fn a_workbook_with_a_chart_is_a_zip_of_xml() {
        let sheet: Sheet = serde_json::from_value(json!({
            "name": "Expenses",
            "rows": [["Item", "Amount"], ["a", 1], ["b", 2], ["Total", {"formula": "=SUM(B2:B3)"}]],
            "number_formats": {"B": "0.00"},
            "column_widths": [20, 10],
            "charts": [{"type": "column", "values": "B2:B3", "categories": "A2:A3", "title": "By item"}]
        }))
        .unwrap();
        let bytes = build(&[sheet]).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        let bad: Sheet = serde_json::from_value(
            json!({"rows": [], "charts": [{"type": "radar3d", "values": "A1:A2"}]}),
        )
        .unwrap();
        assert!(build(&[bad]).unwrap_err().contains("unknown chart type"));
    }
}
