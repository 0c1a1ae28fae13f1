//! `CreatePresentation`: a PowerPoint deck (`.pptx`), 16:9, one slide per entry with a title and
//! a bulleted body (or a paragraph). The package is the smallest complete PresentationML set: a
//! presentation, one master with one blank layout, a theme (required by PowerPoint), the slides.

use std::io::Write as _;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{file_name, save, xml_text, DocumentError};
use crate::tools::context::{ToolContext, ToolOutput};

pub const NAME: &str = "CreatePresentation";

pub fn description() -> &'static str {
    "Create a PowerPoint presentation (.pptx, 16:9) in the folders: one slide per entry, each with a title and bullet points (or a paragraph of text). Keep slides short: a title and three to six bullets. Refuses to replace an existing file unless \"overwrite\" is true."
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": "Where to save it (ends in .pptx)"},
            "title": {"type": "string", "description": "The presentation's title (in its properties)"},
            "slides": {
                "type": "array", "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "bullets": {"type": "array", "items": {"type": "string"}},
                        "text": {"type": "string", "description": "A paragraph instead of (or after) bullets"}
                    },
                    "required": ["title"]
                }
            },
            "overwrite": {"type": "boolean", "description": "Replace the file if it exists"}
        },
        "required": ["file_path", "slides"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    title: Option<String>,
    slides: Vec<Slide>,
    #[serde(default)]
    overwrite: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Slide {
    title: String,
    #[serde(default)]
    bullets: Vec<String>,
    text: Option<String>,
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    crate::tools::context::run_blocking(NAME, ctx, input, create).await
}

fn create(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, DocumentError> {
    if args.slides.is_empty() {
        return Err(DocumentError::Content(
            "a presentation needs at least one slide".into(),
        ));
    }
    let bytes = build(args.title.as_deref(), &args.slides).map_err(DocumentError::Content)?;
    let summary = format!(
        "Presentation {} ({} slides)",
        file_name(&args.file_path),
        args.slides.len()
    );
    save(
        ctx,
        &args.file_path,
        "pptx",
        args.overwrite,
        &bytes,
        &summary,
    )
}

const NS: &str = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
const XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
/// 16:9 in EMU.
const WIDTH: u64 = 12_192_000;
const HEIGHT: u64 = 6_858_000;

/// An empty shape tree (masters and layouts draw nothing of their own here).
fn empty_tree() -> &'static str {
    r#"<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr></p:spTree></p:cSld>"#
}

fn text_box(id: u32, name: &str, (x, y, cx, cy): (u64, u64, u64, u64), paragraphs: &str) -> String {
    format!(
        r#"<p:sp><p:nvSpPr><p:cNvPr id="{id}" name="{name}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:noFill/></p:spPr><p:txBody><a:bodyPr wrap="square" rtlCol="0"><a:normAutofit/></a:bodyPr><a:lstStyle/>{paragraphs}</p:txBody></p:sp>"#
    )
}

fn slide_xml(slide: &Slide) -> String {
    let title = format!(
        r#"<a:p><a:r><a:rPr lang="en-US" sz="3600" b="1" dirty="0"/><a:t>{}</a:t></a:r></a:p>"#,
        xml_text(&slide.title)
    );
    let mut body = String::new();
    for bullet in &slide.bullets {
        body.push_str(&format!(
            r#"<a:p><a:pPr marL="342900" indent="-342900"><a:buFont typeface="Arial"/><a:buChar char="&#8226;"/></a:pPr><a:r><a:rPr lang="en-US" sz="2400" dirty="0"/><a:t>{}</a:t></a:r></a:p>"#,
            xml_text(bullet)
        ));
    }
    if let Some(text) = &slide.text {
        for line in text.split('\n') {
            body.push_str(&format!(
                r#"<a:p><a:r><a:rPr lang="en-US" sz="2000" dirty="0"/><a:t>{}</a:t></a:r></a:p>"#,
                xml_text(line)
            ));
        }
    }
    if body.is_empty() {
        body.push_str("<a:p><a:endParaRPr lang=\"en-US\"/></a:p>");
    }
    let margin = 609_600;
    format!(
        r#"{XML}<p:sld {NS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>{}{}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>"#,
        text_box(
            2,
            "Title",
            (margin, 457_200, WIDTH - 2 * margin, 1_143_000),
            &title
        ),
        text_box(
            3,
            "Content",
            (margin, 1_752_600, WIDTH - 2 * margin, HEIGHT - 2_286_000),
            &body
        ),
    )
}

fn theme() -> String {
    let color = |name: &str, hex: &str| format!("<a:{name}><a:srgbClr val=\"{hex}\"/></a:{name}>");
    let colors = [
        ("dk1", "000000"),
        ("lt1", "FFFFFF"),
        ("dk2", "1F2937"),
        ("lt2", "F3F4F6"),
        ("accent1", "2563EB"),
        ("accent2", "16A34A"),
        ("accent3", "D97706"),
        ("accent4", "DC2626"),
        ("accent5", "7C3AED"),
        ("accent6", "0891B2"),
        ("hlink", "2563EB"),
        ("folHlink", "7C3AED"),
    ]
    .iter()
    .map(|(n, h)| color(n, h))
    .collect::<String>();
    let fill = r#"<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>"#;
    let line = r#"<a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>"#;
    let effect = "<a:effectStyle><a:effectLst/></a:effectStyle>";
    format!(
        r#"{XML}<a:theme xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" name="Workroom"><a:themeElements><a:clrScheme name="Workroom">{colors}</a:clrScheme><a:fontScheme name="Workroom"><a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont><a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont></a:fontScheme><a:fmtScheme name="Workroom"><a:fillStyleLst>{fill}{fill}{fill}</a:fillStyleLst><a:lnStyleLst>{line}{line}{line}</a:lnStyleLst><a:effectStyleLst>{effect}{effect}{effect}</a:effectStyleLst><a:bgFillStyleLst>{fill}{fill}{fill}</a:bgFillStyleLst></a:fmtScheme></a:themeElements><a:objectDefaults/><a:extraClrSchemeLst/></a:theme>"#
    )
}

fn relationships(items: &[(String, &str, String)]) -> String {
    let rels: String = items
        .iter()
        .map(|(id, kind, target)| {
            format!(
                r#"<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#
            )
        })
        .collect();
    format!(
        r#"{XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
    )
}

/// The presentation's bytes.
fn build(title: Option<&str>, slides: &[Slide]) -> Result<Vec<u8>, String> {
    let n = slides.len();
    let mut parts: Vec<(String, String)> = Vec::new();
    let slide_overrides: String = (1..=n)
        .map(|i| format!(r#"<Override PartName="/ppt/slides/slide{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>"#))
        .collect();
    parts.push((
        "[Content_Types].xml".into(),
        format!(
            r#"{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/><Override PartName="/ppt/slideMasters/slideMaster1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slideMaster+xml"/><Override PartName="/ppt/slideLayouts/slideLayout1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slideLayout+xml"/><Override PartName="/ppt/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>{slide_overrides}</Types>"#
        ),
    ));
    parts.push((
        "_rels/.rels".into(),
        format!(
            r#"{XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#
        ),
    ));
    parts.push((
        "docProps/core.xml".into(),
        format!(
            r#"{XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title><dc:creator>Workroom</dc:creator></cp:coreProperties>"#,
            xml_text(title.unwrap_or(""))
        ),
    ));
    let slide_ids: String = (1..=n)
        .map(|i| format!(r#"<p:sldId id="{}" r:id="rId{}"/>"#, 255 + i, i + 1))
        .collect();
    parts.push((
        "ppt/presentation.xml".into(),
        format!(
            r#"{XML}<p:presentation {NS} saveSubsetFonts="1"><p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst><p:sldIdLst>{slide_ids}</p:sldIdLst><p:sldSz cx="{WIDTH}" cy="{HEIGHT}"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>"#
        ),
    ));
    let mut presentation_rels = vec![(
        "rId1".to_string(),
        "slideMaster",
        "slideMasters/slideMaster1.xml".to_string(),
    )];
    for i in 1..=n {
        presentation_rels.push((
            format!("rId{}", i + 1),
            "slide",
            format!("slides/slide{i}.xml"),
        ));
    }
    presentation_rels.push((
        format!("rId{}", n + 2),
        "theme",
        "theme/theme1.xml".to_string(),
    ));
    parts.push((
        "ppt/_rels/presentation.xml.rels".into(),
        relationships(&presentation_rels),
    ));
    parts.push((
        "ppt/slideMasters/slideMaster1.xml".into(),
        format!(
            r#"{XML}<p:sldMaster {NS}>{}<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/><p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst></p:sldMaster>"#,
            empty_tree()
        ),
    ));
    parts.push((
        "ppt/slideMasters/_rels/slideMaster1.xml.rels".into(),
        relationships(&[
            (
                "rId1".into(),
                "slideLayout",
                "../slideLayouts/slideLayout1.xml".into(),
            ),
            ("rId2".into(), "theme", "../theme/theme1.xml".into()),
        ]),
    ));
    parts.push((
        "ppt/slideLayouts/slideLayout1.xml".into(),
        format!(
            r#"{XML}<p:sldLayout {NS} type="blank" preserve="1">{}<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>"#,
            empty_tree().replacen("<p:cSld>", "<p:cSld name=\"Blank\">", 1)
        ),
    ));
    parts.push((
        "ppt/slideLayouts/_rels/slideLayout1.xml.rels".into(),
        relationships(&[(
            "rId1".into(),
            "slideMaster",
            "../slideMasters/slideMaster1.xml".into(),
        )]),
    ));
    parts.push(("ppt/theme/theme1.xml".into(), theme()));
    for (i, slide) in slides.iter().enumerate() {
        parts.push((format!("ppt/slides/slide{}.xml", i + 1), slide_xml(slide)));
        parts.push((
            format!("ppt/slides/_rels/slide{}.xml.rels", i + 1),
            relationships(&[(
                "rId1".into(),
                "slideLayout",
                "../slideLayouts/slideLayout1.xml".into(),
            )]),
        ));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in parts {
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        zip.write_all(content.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slides_escape_their_text_and_the_package_lists_every_part() {
        let slides = vec![
            Slide {
                title: "Q1 & Q2".into(),
                bullets: vec!["<fast>".into()],
                text: None,
            },
            Slide {
                title: "End".into(),
                bullets: vec![],
                text: None,
            },
        ];
        let xml = slide_xml(&slides[0]);
        assert!(xml.contains("<a:t>Q1 &amp; Q2</a:t>") && xml.contains("<a:t>&lt;fast&gt;</a:t>"));
        let bytes = build(Some("Deck"), &slides).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(str::to_string).collect();
        for part in [
            "ppt/presentation.xml",
            "ppt/slides/slide2.xml",
            "ppt/theme/theme1.xml",
        ] {
            assert!(
                names.iter().any(|n| n == part),
                "{part} missing from {names:?}"
            );
        }
        let mut rels = String::new();
        std::io::Read::read_to_string(
            &mut archive.by_name("ppt/_rels/presentation.xml.rels").unwrap(),
            &mut rels,
        )
        .unwrap();
        assert!(rels.contains("Target=\"slides/slide2.xml\"") && rels.contains("theme/theme1.xml"));
        // What ReadDocument and the app's preview make of it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deck.pptx");
        std::fs::write(&path, build(Some("Deck"), &slides).unwrap()).unwrap();
        let heading = |text: &str| workroom_documents::DocBlock::Heading {
            level: 2,
            text: text.into(),
        };
        assert_eq!(
            workroom_documents::read_pptx(&path).unwrap(),
            vec![
                heading("Slide 1: Q1 & Q2"),
                workroom_documents::DocBlock::Paragraph {
                    text: "<fast>".into()
                },
                heading("Slide 2: End"),
            ]
        );
    }
}
