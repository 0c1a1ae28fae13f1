//! `CreateDocument`: a Word document (`.docx`): the smallest valid WordprocessingML package
//! (content types, relationships, styles, the document) written with the `zip` crate. Headings use
//! Word's built-in heading styles, so the navigation pane and a table of contents work.

use std::io::Write as _;

use serde_json::Value;

use super::blocks::{self, Block};
use super::{xml_text, DocumentError};
use crate::tools::context::{ToolContext, ToolOutput};

pub const NAME: &str = "CreateDocument";

pub fn description() -> &'static str {
    "Create a Word document (.docx) in the folders from headings, paragraphs, bulleted and numbered lists, tables and page breaks. Use it for reports, letters and notes the person will open in Word, Pages or LibreOffice. Refuses to replace an existing file unless \"overwrite\" is true."
}

pub fn input_schema() -> Value {
    blocks::input_schema("docx")
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    crate::tools::context::run_blocking(NAME, ctx, input, create).await
}

fn create(ctx: &ToolContext, args: &blocks::Args) -> Result<ToolOutput, DocumentError> {
    blocks::create(ctx, args, "docx", "Document", build)
}

/// A paragraph of `text` in `style` (lines of the text become line breaks).
fn paragraph(style: Option<&str>, text: &str) -> String {
    let props = style
        .map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>"))
        .unwrap_or_default();
    let runs: Vec<String> = text
        .split('\n')
        .map(|line| format!("<w:t xml:space=\"preserve\">{}</w:t>", xml_text(line)))
        .collect();
    format!("<w:p>{props}<w:r>{}</w:r></w:p>", runs.join("<w:br/>"))
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    // Page width between margins is 9026 twentieths of a point on A4 with Word's default margins.
    let width = 9026 / columns;
    let grid: String = (0..columns)
        .map(|_| format!("<w:gridCol w:w=\"{width}\"/>"))
        .collect();
    let mut out = format!(
        "<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/><w:tblW w:w=\"0\" w:type=\"auto\"/>\
         <w:tblBorders><w:top w:val=\"single\" w:sz=\"4\"/><w:left w:val=\"single\" w:sz=\"4\"/>\
         <w:bottom w:val=\"single\" w:sz=\"4\"/><w:right w:val=\"single\" w:sz=\"4\"/>\
         <w:insideH w:val=\"single\" w:sz=\"4\"/><w:insideV w:val=\"single\" w:sz=\"4\"/></w:tblBorders>\
         </w:tblPr><w:tblGrid>{grid}</w:tblGrid>"
    );
    for (r, row) in rows.iter().enumerate() {
        out.push_str("<w:tr>");
        for c in 0..columns {
            let text = row.get(c).map(String::as_str).unwrap_or("");
            let run_props = if r == 0 { "<w:rPr><w:b/></w:rPr>" } else { "" };
            out.push_str(&format!(
                "<w:tc><w:tcPr><w:tcW w:w=\"{width}\" w:type=\"dxa\"/></w:tcPr><w:p><w:r>{run_props}<w:t xml:space=\"preserve\">{}</w:t></w:r></w:p></w:tc>",
                xml_text(text)
            ));
        }
        out.push_str("</w:tr>");
    }
    out.push_str("</w:tbl><w:p/>");
    out
}

fn body(title: Option<&str>, blocks: &[Block]) -> String {
    let mut out = String::new();
    if let Some(title) = title {
        out.push_str(&paragraph(Some("Title"), title));
    }
    for block in blocks {
        match block {
            Block::Heading { text, level } => {
                out.push_str(&paragraph(Some(&format!("Heading{level}")), text))
            }
            Block::Paragraph(text) => out.push_str(&paragraph(None, text)),
            Block::Bullets(items) => {
                for item in items {
                    out.push_str(&paragraph(Some("ListBullet"), &format!("•\t{item}")));
                }
            }
            Block::Numbered(items) => {
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&paragraph(
                        Some("ListNumber"),
                        &format!("{}.\t{item}", i + 1),
                    ));
                }
            }
            Block::Table(rows) => out.push_str(&table(rows)),
            Block::PageBreak => out.push_str("<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>"),
        }
    }
    out
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;

const DOCUMENT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

/// Word's built-in names, so headings are real headings to Word (navigation, table of contents).
fn styles() -> String {
    let heading = |level: u8, size: u8| {
        format!(
            "<w:style w:type=\"paragraph\" w:styleId=\"Heading{level}\"><w:name w:val=\"heading {level}\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before=\"240\" w:after=\"80\"/><w:outlineLvl w:val=\"{}\"/></w:pPr><w:rPr><w:b/><w:sz w:val=\"{size}\"/></w:rPr></w:style>",
            level - 1
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:styles xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii=\"Calibri\" w:hAnsi=\"Calibri\" w:cs=\"Calibri\"/><w:sz w:val=\"22\"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after=\"120\"/></w:pPr></w:pPrDefault></w:docDefaults>\
<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/><w:qFormat/></w:style>\
<w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/><w:basedOn w:val=\"Normal\"/><w:qFormat/><w:pPr><w:spacing w:after=\"240\"/></w:pPr><w:rPr><w:b/><w:sz w:val=\"48\"/></w:rPr></w:style>\
{}{}{}\
<w:style w:type=\"paragraph\" w:styleId=\"ListBullet\"><w:name w:val=\"List Bullet\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:ind w:left=\"720\" w:hanging=\"360\"/><w:spacing w:after=\"40\"/></w:pPr></w:style>\
<w:style w:type=\"paragraph\" w:styleId=\"ListNumber\"><w:name w:val=\"List Number\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:ind w:left=\"720\" w:hanging=\"360\"/><w:spacing w:after=\"40\"/></w:pPr></w:style>\
<w:style w:type=\"table\" w:styleId=\"TableGrid\"><w:name w:val=\"Table Grid\"/></w:style>\
</w:styles>",
        heading(1, 36),
        heading(2, 30),
        heading(3, 26)
    )
}

fn core_properties(title: Option<&str>) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title><dc:creator>Workroom</dc:creator></cp:coreProperties>",
        xml_text(title.unwrap_or(""))
    )
}

/// The document's bytes.
fn build(title: Option<&str>, blocks: &[Block]) -> Result<Vec<u8>, String> {
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1440\" w:right=\"1440\" w:bottom=\"1440\" w:left=\"1440\" w:header=\"708\" w:footer=\"708\" w:gutter=\"0\"/></w:sectPr></w:body></w:document>",
        body(title, blocks)
    );
    let parts: [(&str, String); 6] = [
        ("[Content_Types].xml", CONTENT_TYPES.to_string()),
        ("_rels/.rels", ROOT_RELS.to_string()),
        ("word/_rels/document.xml.rels", DOCUMENT_RELS.to_string()),
        ("word/document.xml", document),
        ("word/styles.xml", styles()),
        ("docProps/core.xml", core_properties(title)),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in parts {
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        zip.write_all(content.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let cursor = zip.finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_every_block_becomes_xml() {
        let blocks = vec![
            Block::Heading {
                text: "Q1 & Q2".into(),
                level: 2,
            },
            Block::Paragraph("line one\nline <two>".into()),
            Block::Bullets(vec!["a".into()]),
            Block::Table(vec![vec!["h".into(), "i".into()], vec!["1".into()]]),
            Block::PageBreak,
        ];
        let xml = body(Some("Title"), &blocks);
        assert!(xml.contains("<w:pStyle w:val=\"Heading2\"/></w:pPr><w:r><w:t xml:space=\"preserve\">Q1 &amp; Q2</w:t>"));
        assert!(xml.contains("line one</w:t><w:br/><w:t xml:space=\"preserve\">line &lt;two&gt;"));
        assert_eq!(xml.matches("<w:tc>").count(), 4, "short rows are padded");
        let bytes = build(Some("T"), &blocks).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
