//! Reading the documents people keep in their folders: spreadsheets (xlsx, xls, ods through
//! `calamine`; csv) as tables of display text, Word documents (docx) as headings, paragraphs,
//! list items and tables, PowerPoint decks (pptx) slide by slide, and PDFs as the text of their pages (`lopdf`; scanned pages have none). Used by the agent's `ReadDocument` tool and by the app's previews, so
//! both see a file the same way.
//!
//! Everything is bounded by [`Limits`]: a huge workbook costs its first rows, not its size.

use std::io::Read as _;
use std::path::Path;

use serde::Serialize;

/// Errors reading a document, in words.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Spreadsheet(String),
    #[error("this is not a Word document: {0}")]
    NotDocx(String),
    #[error("this PDF could not be read: {0}")]
    Pdf(String),
    #[error("this is not a PowerPoint deck: {0}")]
    NotPptx(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How much of a document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub rows: usize,
    pub columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rows: 200,
            columns: 40,
        }
    }
}

/// Most bytes a PDF's content streams may inflate to while reading one page's text.
const MAX_PDF_STREAM: usize = 64 << 20;

/// The text of the first `max_pages` pages of a PDF, one string per page, and the page count.
/// Pages that are images (scans) give empty text.
pub fn read_pdf(file: &Path, max_pages: usize) -> Result<(Vec<String>, usize), ReadError> {
    read_pdf_bytes(&std::fs::read(file)?, max_pages)
}

/// [`read_pdf`] for a PDF already in memory (the app sends the bytes to the window too).
pub fn read_pdf_bytes(data: &[u8], max_pages: usize) -> Result<(Vec<String>, usize), ReadError> {
    let document = lopdf::Document::load_mem(data).map_err(|e| ReadError::Pdf(e.to_string()))?;
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let texts = pages
        .iter()
        .take(max_pages)
        .map(|&n| {
            document
                .extract_text_with_limit(&[n], MAX_PDF_STREAM)
                .map(|t| t.trim_end().to_string())
                .unwrap_or_default()
        })
        .collect();
    Ok((texts, pages.len()))
}

/// Largest `word/document.xml` read.
const MAX_DOCX_XML: u64 = 32 << 20;

/// One sheet: its rows as display text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
    /// More rows or columns than [`Limits`] allowed.
    pub truncated: bool,
}

/// One block of a Word document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocBlock {
    Heading { level: u8, text: String },
    Paragraph { text: String },
    ListItem { text: String },
    Table { rows: Vec<Vec<String>> },
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

/// The sheets of a workbook (xlsx, xlsm, xls, ods). A formula without a stored value shows as
/// its formula.
pub fn read_sheets(file: &Path, limits: Limits) -> Result<Vec<Sheet>, ReadError> {
    use calamine::Reader as _;
    let mut workbook =
        calamine::open_workbook_auto(file).map_err(|e| ReadError::Spreadsheet(e.to_string()))?;
    let names = workbook.sheet_names().to_vec();
    let mut out = Vec::new();
    for name in names {
        let range = workbook
            .worksheet_range(&name)
            .map_err(|e| ReadError::Spreadsheet(e.to_string()))?;
        // A formula without a stored value shows as its formula rather than as nothing.
        let formulas = workbook.worksheet_formula(&name).ok();
        let (height, width) = range.get_size();
        let start = range.start().unwrap_or((0, 0));
        let mut rows = Vec::new();
        for r in 0..height.min(limits.rows) {
            let mut row = Vec::new();
            for c in 0..width.min(limits.columns) {
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
            truncated: height > limits.rows || width > limits.columns,
        });
    }
    Ok(out)
}

/// CSV rows (quoted fields with commas, doubled quotes and newlines), first rows only.
pub fn csv_rows(text: &str, limits: Limits) -> Vec<Vec<String>> {
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
                if rows.len() >= limits.rows {
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

/// The blocks of a Word document.
pub fn read_docx(file: &Path) -> Result<Vec<DocBlock>, ReadError> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(file)?)
        .map_err(|e| ReadError::NotDocx(e.to_string()))?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| ReadError::NotDocx("it has no word/document.xml".into()))?;
    let mut xml = String::new();
    entry.take(MAX_DOCX_XML).read_to_string(&mut xml)?;
    Ok(parse_document_xml(&xml))
}

/// Headings, paragraphs, list items and tables of WordprocessingML, in order.
pub fn parse_document_xml(xml: &str) -> Vec<DocBlock> {
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
            Ok(Event::GeneralRef(r)) if in_text => push_entity(&mut text, &r.into_inner()),
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

/// The character an XML entity reference (`amp`, `lt`, …) stands for.
fn push_entity(text: &mut String, name: &str) {
    text.push_str(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    });
}

/// Most slides of a deck read.
const MAX_SLIDES: usize = 500;

/// The text of a PowerPoint deck, slide by slide in the deck's order: a heading per slide
/// (`Slide 2: Costs`, from its title placeholder) followed by its other paragraphs.
pub fn read_pptx(file: &Path) -> Result<Vec<DocBlock>, ReadError> {
    let not_pptx = |why: String| ReadError::NotPptx(why);
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(file)?).map_err(|e| not_pptx(e.to_string()))?;
    let mut read = |name: &str| -> Result<Option<String>, ReadError> {
        let Ok(entry) = archive.by_name(name) else {
            return Ok(None);
        };
        let mut xml = String::new();
        entry.take(MAX_DOCX_XML).read_to_string(&mut xml)?;
        Ok(Some(xml))
    };
    let presentation = read("ppt/presentation.xml")?
        .ok_or_else(|| not_pptx("it has no ppt/presentation.xml".into()))?;
    let rels = read("ppt/_rels/presentation.xml.rels")?.unwrap_or_default();
    let mut blocks = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // One budget for the whole deck: a slide listed many times, or many huge slides, cost their
    // first MAX_DOCX_XML bytes together, not each.
    let mut budget = MAX_DOCX_XML as usize;
    for (number, target) in slide_order(&presentation, &rels)
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .take(MAX_SLIDES)
        .enumerate()
    {
        if budget == 0 {
            blocks.push(DocBlock::Paragraph {
                text: "(the rest of the deck is too large to read)".into(),
            });
            break;
        }
        let Some(xml) = read(&format!(
            "ppt/{}",
            target.trim_start_matches('/').trim_start_matches("ppt/")
        ))?
        else {
            continue;
        };
        budget = budget.saturating_sub(xml.len());
        let (title, paragraphs) = parse_slide_xml(&xml);
        blocks.push(DocBlock::Heading {
            level: 2,
            text: match title {
                Some(title) => format!("Slide {}: {title}", number + 1),
                None => format!("Slide {}", number + 1),
            },
        });
        blocks.extend(
            paragraphs
                .into_iter()
                .map(|text| DocBlock::Paragraph { text }),
        );
    }
    Ok(blocks)
}

/// The slides' part names (`slides/slide3.xml`) in the order `presentation.xml` lists them.
fn slide_order(presentation: &str, rels: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let attribute = |e: &quick_xml::events::BytesStart<'_>, name: &str| {
        e.attributes()
            .flatten()
            .find(|a| a.key.local_name().into_inner() == name)
            .map(|a| a.value.to_string())
    };
    let mut targets = std::collections::HashMap::new();
    let mut reader = quick_xml::Reader::from_str(rels);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if e.local_name().into_inner() == "Relationship" =>
            {
                if let (Some(id), Some(target)) = (attribute(&e, "Id"), attribute(&e, "Target")) {
                    targets.insert(id, target);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    let mut order = Vec::new();
    let mut reader = quick_xml::Reader::from_str(presentation);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().into_inner() == "sldId" => {
                // `r:id` names the relationship; the plain `id` is a number.
                let relationship = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.prefix().is_some() && a.key.local_name().into_inner() == "id")
                    .map(|a| a.value.to_string());
                if let Some(target) = relationship.and_then(|rid| targets.get(&rid).cloned()) {
                    order.push(target);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    order
}

/// A slide's title (the text of its title placeholder) and its other paragraphs, in order.
pub fn parse_slide_xml(xml: &str) -> (Option<String>, Vec<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut title, mut paragraphs) = (None::<String>, Vec::new());
    let mut shape: Vec<String> = Vec::new();
    let mut shape_is_title = false;
    let mut text = String::new();
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match e.local_name().into_inner() {
                "sp" => {
                    shape.clear();
                    shape_is_title = false;
                }
                // A title placeholder, or a shape named as PowerPoint names titles ("Title 1").
                "ph" | "cNvPr" => {
                    shape_is_title |=
                        e.attributes()
                            .flatten()
                            .any(|a| match a.key.local_name().into_inner() {
                                "type" => matches!(a.value.as_ref(), "title" | "ctrTitle"),
                                "name" => a.value.starts_with("Title"),
                                _ => false,
                            });
                }
                "p" => text.clear(),
                "t" => in_text = true,
                "br" => text.push('\n'),
                _ => {}
            },
            Ok(Event::Text(t)) if in_text => text.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if in_text => push_entity(&mut text, &r.into_inner()),
            Ok(Event::End(e)) => match e.local_name().into_inner() {
                "t" => in_text = false,
                "p" => {
                    let line = std::mem::take(&mut text);
                    if !line.trim().is_empty() {
                        shape.push(line);
                    }
                }
                "sp" => {
                    if shape_is_title && title.is_none() {
                        title = Some(shape.join(" "));
                    } else {
                        paragraphs.append(&mut shape);
                    }
                    shape.clear();
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    (title, paragraphs)
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
            csv_rows("a,\"b, c\",\"say \"\"hi\"\"\"\n1,2,3", Limits::default()),
            vec![vec!["a", "b, c", "say \"hi\""], vec!["1", "2", "3"]]
        );
        assert_eq!(
            csv_rows(
                "1\n2\n3\n",
                Limits {
                    rows: 2,
                    columns: 9
                }
            )
            .len(),
            2
        );
    }

    #[test]
    fn files_that_are_not_what_they_claim_are_errors_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake.docx");
        std::fs::write(&fake, "not a zip").unwrap();
        assert!(read_docx(&fake)
            .unwrap_err()
            .to_string()
            .contains("not a Word document"));
        let fake = dir.path().join("fake.xlsx");
        std::fs::write(&fake, "not a zip").unwrap();
        assert!(read_sheets(&fake, Limits::default()).is_err());
    }

    #[test]
    fn a_deck_reads_slide_by_slide_in_the_decks_order() {
        use std::io::Write as _;
        let slide = |title: &str, body: &[&str]| {
            let paragraphs: String = body
                .iter()
                .map(|t| format!("<a:p><a:r><a:t>{t}</a:t></a:r></a:p>"))
                .collect();
            format!(
                r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>
                <p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{title}</a:t></a:r></a:p></p:txBody></p:sp>
                <p:sp><p:nvSpPr><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody>{paragraphs}</p:txBody></p:sp>
                </p:spTree></p:cSld></p:sld>"#
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deck.pptx");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        // The deck shows slide2.xml first: its order comes from presentation.xml, not file names.
        let parts = [
            ("ppt/presentation.xml", r#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId3"/><p:sldId id="257" r:id="rId2"/></p:sldIdLst></p:presentation>"#.to_string()),
            ("ppt/_rels/presentation.xml.rels", r#"<Relationships><Relationship Id="rId2" Target="slides/slide1.xml"/><Relationship Id="rId3" Target="slides/slide2.xml"/></Relationships>"#.to_string()),
            ("ppt/slides/slide1.xml", slide("Costs &amp; totals", &["Rent 1200", "Food 300"])),
            ("ppt/slides/slide2.xml", slide("Overview", &["Spending is down"])),
        ];
        for (name, xml) in parts {
            zip.start_file(name, options).unwrap();
            zip.write_all(xml.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        let heading = |text: &str| DocBlock::Heading {
            level: 2,
            text: text.into(),
        };
        let paragraph = |text: &str| DocBlock::Paragraph { text: text.into() };
        assert_eq!(
            read_pptx(&path).unwrap(),
            vec![
                heading("Slide 1: Overview"),
                paragraph("Spending is down"),
                heading("Slide 2: Costs & totals"),
                paragraph("Rent 1200"),
                paragraph("Food 300"),
            ]
        );
        assert!(matches!(
            read_pptx(dir.path().join("nope.pptx").as_path()),
            Err(ReadError::Io(_))
        ));
    }
}
