//! `CreatePdf`: a PDF from the same blocks as `CreateDocument`, written directly: A4 pages, the
//! standard Helvetica fonts (every reader has them, so nothing is embedded), words wrapped by the
//! fonts' real widths, tables as ruled rows, pages broken as needed. Text stays text (searchable,
//! copyable, extractable).

use serde_json::Value;

use super::blocks::{self, Block};
use super::DocumentError;
use crate::tools::context::{ToolContext, ToolOutput};

pub const NAME: &str = "CreatePdf";

pub fn description() -> &'static str {
    "Create a PDF in the folders from headings, paragraphs, bulleted and numbered lists, tables and page breaks (A4, Helvetica, text stays selectable). Use it for documents meant to be read or printed as they are. Refuses to replace an existing file unless \"overwrite\" is true."
}

pub fn input_schema() -> Value {
    blocks::input_schema("pdf")
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    crate::tools::context::run_blocking(NAME, ctx, input, create).await
}

fn create(ctx: &ToolContext, args: &blocks::Args) -> Result<ToolOutput, DocumentError> {
    blocks::create(ctx, args, "pdf", "PDF", |title, blocks| {
        Ok(build(title, blocks))
    })
}

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// Helvetica's advance widths (thousandths of the font size) for ASCII 32..=126, from the
/// standard font metrics; wrapping by them keeps lines inside the margins.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

#[derive(Clone, Copy, PartialEq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
        }
    }
}

fn text_width(text: &str, size: f32, font: Font) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| {
            let code = c as u32;
            if (32..=126).contains(&code) {
                u32::from(HELVETICA[(code - 32) as usize])
            } else {
                556
            }
        })
        .sum();
    // Bold glyphs are a little wider; a margin of safety is enough for wrapping.
    let bold = if font == Font::Bold { 1.06 } else { 1.0 };
    units as f32 * size / 1000.0 * bold
}

/// Splits `text` into lines no wider than `width` (a word longer than a line is cut).
fn wrap(text: &str, size: f32, font: Font, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size, font) <= width || line.is_empty() {
                line = candidate;
                // A single word wider than the line: cut it.
                while text_width(&line, size, font) > width && line.chars().count() > 1 {
                    let mut cut = line.chars().count() - 1;
                    while cut > 1
                        && text_width(&line.chars().take(cut).collect::<String>(), size, font)
                            > width
                    {
                        cut -= 1;
                    }
                    let head: String = line.chars().take(cut).collect();
                    let tail: String = line.chars().skip(cut).collect();
                    lines.push(head);
                    line = tail;
                }
            } else {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            }
        }
        lines.push(line);
    }
    lines
}

/// A PDF string literal in WinAnsiEncoding (Latin-1 plus typographic quotes, dashes, bullet,
/// euro); other characters become `?`.
fn pdf_string(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in text.chars() {
        let byte = match c {
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            c if (c as u32) < 0x20 => b' ',
            c if (c as u32) < 0x7f || (0xa0..=0xff).contains(&(c as u32)) => c as u8,
            _ => b'?',
        };
        match byte {
            b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
            b if b >= 0x80 => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b')');
    out
}

/// Lays text out on pages.
struct Layout {
    pages: Vec<Vec<u8>>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn page(&mut self) -> &mut Vec<u8> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Room for `height` more points, on a new page if needed.
    fn need(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f32, font: Font, size: f32, text: &str) {
        let mut op = format!(
            "BT /{} {size} Tf {x:.1} {:.1} Td ",
            font.resource(),
            self.y - size
        )
        .into_bytes();
        op.extend(pdf_string(text));
        op.extend_from_slice(b" Tj ET\n");
        self.page().extend(op);
    }

    fn rule(&mut self, y: f32) {
        let line = format!(
            "0.5 w {MARGIN:.1} {y:.1} m {:.1} {y:.1} l S\n",
            PAGE_WIDTH - MARGIN
        );
        self.page().extend(line.into_bytes());
    }

    /// Wrapped text at `indent`, with `first` before the first line (a bullet or number).
    fn lines(&mut self, text: &str, font: Font, size: f32, indent: f32, first: Option<&str>) {
        let leading = size * 1.35;
        let width = PAGE_WIDTH - 2.0 * MARGIN - indent;
        for (i, line) in wrap(text, size, font, width).iter().enumerate() {
            self.need(leading);
            if i == 0 {
                if let Some(marker) = first {
                    self.text_at(MARGIN + indent - 14.0, font, size, marker);
                }
            }
            self.text_at(MARGIN + indent, font, size, line);
            self.y -= leading;
        }
    }

    fn table(&mut self, rows: &[Vec<String>]) {
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let column_width = (PAGE_WIDTH - 2.0 * MARGIN) / columns as f32;
        let size = 10.0;
        for (r, row) in rows.iter().enumerate() {
            let font = if r == 0 { Font::Bold } else { Font::Regular };
            let cells: Vec<Vec<String>> = (0..columns)
                .map(|c| {
                    wrap(
                        row.get(c).map(String::as_str).unwrap_or(""),
                        size,
                        font,
                        column_width - 6.0,
                    )
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * size * 1.3 + 6.0;
            self.need(height);
            let top = self.y;
            self.rule(top);
            for (c, lines) in cells.iter().enumerate() {
                self.y = top - 3.0;
                for line in lines {
                    self.text_at(MARGIN + c as f32 * column_width + 3.0, font, size, line);
                    self.y -= size * 1.3;
                }
            }
            self.y = top - height;
        }
        let bottom = self.y;
        self.rule(bottom);
        self.y -= 10.0;
    }
}

/// The PDF's bytes.
fn build(title: Option<&str>, blocks: &[Block]) -> Vec<u8> {
    let mut layout = Layout::new();
    if let Some(title) = title {
        layout.lines(title, Font::Bold, 22.0, 0.0, None);
        layout.y -= 8.0;
    }
    for block in blocks {
        match block {
            Block::Heading { text, level } => {
                let size = match level {
                    1 => 18.0,
                    2 => 15.0,
                    _ => 12.5,
                };
                layout.y -= size * 0.5;
                layout.need(size * 3.0);
                layout.lines(text, Font::Bold, size, 0.0, None);
                layout.y -= 2.0;
            }
            Block::Paragraph(text) => {
                layout.lines(text, Font::Regular, 11.0, 0.0, None);
                layout.y -= 6.0;
            }
            Block::Bullets(items) => {
                for item in items {
                    layout.lines(item, Font::Regular, 11.0, 18.0, Some("•"));
                }
                layout.y -= 6.0;
            }
            Block::Numbered(items) => {
                for (i, item) in items.iter().enumerate() {
                    layout.lines(
                        item,
                        Font::Regular,
                        11.0,
                        18.0,
                        Some(&format!("{}.", i + 1)),
                    );
                }
                layout.y -= 6.0;
            }
            Block::Table(rows) => layout.table(rows),
            Block::PageBreak => layout.new_page(),
        }
    }
    assemble(title, &layout.pages)
}

/// Objects: 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then a page and its content per page.
fn assemble(title: Option<&str>, pages: &[Vec<u8>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", 6 + 2 * i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    for base in ["Helvetica", "Helvetica-Bold"] {
        objects.push(
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>"
            )
            .into_bytes(),
        );
    }
    let mut info = b"<< /Producer (Workroom) /Title ".to_vec();
    info.extend(pdf_string(title.unwrap_or("")));
    info.extend_from_slice(b" >>");
    objects.push(info);
    for (i, content) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                7 + 2 * i
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content);
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).into_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").into_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .into_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_wraps_inside_the_margins_and_long_documents_get_pages() {
        let width = PAGE_WIDTH - 2.0 * MARGIN;
        let long = "word ".repeat(400);
        for line in wrap(&long, 11.0, Font::Regular, width) {
            assert!(text_width(&line, 11.0, Font::Regular) <= width);
        }
        let unbroken = "x".repeat(500);
        assert!(wrap(&unbroken, 11.0, Font::Regular, width).len() > 1);
        let blocks: Vec<Block> = (0..200)
            .map(|i| Block::Paragraph(format!("Paragraph {i}: {long}")))
            .collect();
        let pdf = build(Some("Long"), &blocks);
        assert!(pdf.starts_with(b"%PDF-1.4"));
        let count = String::from_utf8_lossy(&pdf)
            .matches("/Type /Page ")
            .count();
        assert!(count > 10, "{count} pages");
    }

    #[test]
    fn strings_are_escaped_in_win_ansi() {
        assert_eq!(pdf_string("a(b)\\"), b"(a\\(b\\)\\\\)".to_vec());
        assert_eq!(pdf_string("café €"), b"(caf\\351 \\200)".to_vec());
        assert_eq!(pdf_string("日"), b"(?)".to_vec());
    }
}
