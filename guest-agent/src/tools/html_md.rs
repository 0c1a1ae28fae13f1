//! HTML to Markdown, for `WebFetch`: enough structure for a model to read a page (headings, lists,
//! links, emphasis, code, tables as lines) without the markup, scripts and styles.
//!
//! A forgiving single pass over the tags, not a full HTML parser: pages on the web are often
//! malformed, and a model reads the result, so "close enough, never fails" is the goal.

use reqwest::Url;

/// Elements whose content is never text for the reader.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas",
];

/// Elements whose content is raw text, not markup.
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "xmp"];

/// Elements that start on a new line.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "table",
    "tr",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "details",
    "summary",
    "address",
    "hr",
];

/// Converts `html` (from `base`, against which relative links are resolved) to Markdown.
pub fn to_markdown(html: &str, base: Option<&Url>) -> String {
    let mut out = String::with_capacity(html.len() / 3);
    let mut skip_depth: Vec<String> = Vec::new();
    let mut links: Vec<(usize, Option<String>)> = Vec::new();
    let mut pre = 0usize;
    let mut list_depth = 0usize;
    let mut title: Option<String> = None;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            text(&mut out, rest, pre > 0, !skip_depth.is_empty());
            break;
        };
        text(&mut out, &rest[..lt], pre > 0, !skip_depth.is_empty());
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            text(&mut out, rest, pre > 0, !skip_depth.is_empty());
            break;
        };
        let tag = Tag::parse(&rest[1..gt]);
        rest = &rest[gt + 1..];
        let Some(tag) = tag else { continue };
        if tag.name == "title" && !tag.closing && title.is_none() {
            let end = rest
                .to_ascii_lowercase()
                .find("</title")
                .unwrap_or(rest.len());
            title = Some(decode_entities(rest[..end].trim()));
            continue;
        }
        // Script and style bodies are raw text: a `<` in them starts no tag, so jump to the end.
        if RAW_TEXT.contains(&tag.name.as_str()) && !tag.closing && !tag.self_closing {
            let close = format!("</{}", tag.name);
            rest = match rest.to_ascii_lowercase().find(&close) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
            continue;
        }
        if SKIPPED.contains(&tag.name.as_str()) {
            if tag.closing {
                if skip_depth.last() == Some(&tag.name) {
                    skip_depth.pop();
                }
            } else if !tag.self_closing {
                skip_depth.push(tag.name.clone());
            }
            continue;
        }
        if !skip_depth.is_empty() {
            continue;
        }
        match (tag.name.as_str(), tag.closing) {
            (h, false) if is_heading(h) => {
                block(&mut out);
                let level = usize::from(h.as_bytes()[1] - b'0');
                out.push_str(&"#".repeat(level));
                out.push(' ');
            }
            (h, true) if is_heading(h) => block(&mut out),
            ("br", _) => out.push('\n'),
            ("li", false) => {
                line(&mut out);
                out.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                out.push_str("- ");
            }
            ("ul" | "ol", false) => {
                list_depth += 1;
                block(&mut out);
            }
            ("ul" | "ol", true) => {
                list_depth = list_depth.saturating_sub(1);
                block(&mut out);
            }
            ("td" | "th", false) => out.push_str(" | "),
            ("pre", false) => {
                block(&mut out);
                out.push_str("```\n");
                pre += 1;
            }
            ("pre", true) => {
                pre = pre.saturating_sub(1);
                line(&mut out);
                out.push_str("```");
                block(&mut out);
            }
            ("code", _) if pre == 0 => out.push('`'),
            ("strong" | "b", _) => out.push_str("**"),
            ("em" | "i", _) => out.push('*'),
            ("a", false) => links.push((out.len(), tag.attr("href").map(str::to_string))),
            ("a", true) => {
                if let Some((start, Some(href))) = links.pop() {
                    let label = out[start..].trim().to_string();
                    out.truncate(start);
                    let href = resolve(&href, base);
                    if label.is_empty() {
                        out.push_str(&format!("<{href}>"));
                    } else if !href.starts_with("javascript:") {
                        out.push_str(&format!("[{label}]({href})"));
                    } else {
                        out.push_str(&label);
                    }
                }
            }
            ("img", _) => {
                if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
                    out.push_str(&format!("[image: {}]", alt.trim()));
                }
            }
            ("hr", _) => {
                block(&mut out);
                out.push_str("---");
                block(&mut out);
            }
            (name, _) if BLOCKS.contains(&name) => block(&mut out),
            _ => {}
        }
    }
    let body = tidy(&out);
    match title.filter(|t| !t.is_empty()) {
        Some(t) if !body.contains(&format!("# {t}")) => format!("# {t}\n\n{body}"),
        _ => body,
    }
}

fn is_heading(name: &str) -> bool {
    matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// Appends text, with whitespace collapsed outside `<pre>`.
fn text(out: &mut String, raw: &str, pre: bool, skipping: bool) {
    if skipping || raw.is_empty() {
        return;
    }
    let decoded = decode_entities(raw);
    if pre {
        out.push_str(&decoded);
        return;
    }
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    for c in decoded.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

/// Ends the current line.
fn line(out: &mut String) {
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Ends the current paragraph.
fn block(out: &mut String) {
    line(out);
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// Trims every line and keeps at most one blank line in a row.
fn tidy(out: &str) -> String {
    let mut result = String::with_capacity(out.len());
    let mut blank = 0;
    let mut in_code = false;
    for raw in out.lines() {
        let l = if in_code { raw.trim_end() } else { raw.trim() };
        if l.starts_with("```") {
            in_code = !in_code;
        }
        if l.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        result.push_str(l);
        result.push('\n');
    }
    result.trim().to_string()
}

fn resolve(href: &str, base: Option<&Url>) -> String {
    let href = decode_entities(href.trim());
    match base.and_then(|b| b.join(&href).ok()) {
        Some(url) => url.to_string(),
        None => href,
    }
}

/// `&amp;`, `&lt;`, `&#39;`, `&#x27;` and the other common named entities.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| entity(&rest[1..e]));
        match (end, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "copy" => '©',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        _ => return None,
    })
}

/// One tag: its lowercase name, whether it closes or closes itself, and its attributes.
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn parse(inner: &str) -> Option<Tag> {
        let inner = inner.trim();
        if inner.starts_with('!') || inner.starts_with('?') {
            return None;
        }
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let self_closing = inner.ends_with('/');
        let inner = inner.trim_end_matches('/');
        let name_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return None;
        }
        Some(Tag {
            name,
            closing,
            self_closing,
            attrs: parse_attrs(&inner[name_end..]),
        })
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_attrs(mut s: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return attrs;
        }
        let key_end = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let key = s[..key_end].to_ascii_lowercase();
        s = s[key_end..].trim_start();
        let Some(after_eq) = s.strip_prefix('=') else {
            attrs.push((key, String::new()));
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (value, rest) = match after_eq.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after_eq[1..];
                match body.find(q) {
                    Some(end) => (&body[..end], &body[end + 1..]),
                    None => (body, ""),
                }
            }
            _ => {
                let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                (&after_eq[..end], &after_eq[end..])
            }
        };
        attrs.push((key, value.to_string()));
        s = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_becomes_readable_markdown() {
        let html = r#"<!doctype html><html><head><title>Receipts &amp; Taxes</title>
            <style>body{color:red}</style><script>alert("x<y")</script></head>
            <body><nav><a href="/">Home</a></nav>
            <h1>Receipts &amp; Taxes</h1>
            <p>Keep   every <b>receipt</b> for <em>ten</em> years.<br>See the
               <a href="guide.html?a=1&amp;b=2">full guide</a>.</p>
            <!-- a comment <p>hidden</p> -->
            <ul><li>Food</li><li>Travel <code>2026</code></li></ul>
            <pre>line 1
  line 2</pre>
            <table><tr><th>Month</th><th>Total</th></tr><tr><td>May</td><td>&#36;12</td></tr></table>
            <img src="x.png" alt="a chart"></body></html>"#;
        let base = Url::parse("https://tax.example/docs/index.html").unwrap();
        let md = to_markdown(html, Some(&base));
        assert!(
            md.starts_with("[Home](https://tax.example/)\n\n# Receipts & Taxes"),
            "{md}"
        );
        assert!(md.contains("Keep every **receipt** for *ten* years.\nSee the [full guide](https://tax.example/docs/guide.html?a=1&b=2)."), "{md}");
        assert!(md.contains("- Food\n- Travel `2026`"), "{md}");
        assert!(md.contains("```\nline 1\n  line 2\n```"), "{md}");
        assert!(md.contains("| Month | Total"), "{md}");
        assert!(md.contains("| May | $12"), "{md}");
        assert!(md.contains("[image: a chart]"), "{md}");
        assert!(
            !md.contains("alert") && !md.contains("color:red") && !md.contains("hidden"),
            "{md}"
        );
    }

    #[test]
    fn broken_markup_never_fails() {
        for html in [
            "<",
            "<a href=",
            "<p>unclosed",
            "</b></b>text",
            "<<>>",
            "&#xZZ; &unknown; &",
            "<script>never closed",
        ] {
            let _ = to_markdown(html, None);
        }
        assert_eq!(
            decode_entities("a &lt;b&gt; &#x41;&#66; &bogus; &"),
            "a <b> AB &bogus; &"
        );
    }
}
