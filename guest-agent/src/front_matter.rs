//! Markdown definitions with front matter (`---`, `key: value` lines, `---`, then the body), the
//! form of Agent Skills (`SKILL.md`) and of Claude Code's agent files (`.claude/agents/*.md`).

use std::path::Path;

/// A definition file split into its front matter and its body.
#[derive(Debug, Clone, Copy)]
pub struct FrontMatter<'a> {
    front: &'a str,
    /// Everything after the closing `---`, untrimmed.
    pub body: &'a str,
}

impl<'a> FrontMatter<'a> {
    /// `None` when the text does not open with front matter.
    pub fn parse(text: &'a str) -> Option<Self> {
        let rest = text.strip_prefix("---")?;
        let end = rest.find("\n---")?;
        Some(Self {
            front: &rest[..end],
            body: &rest[end + 4..],
        })
    }

    /// The value of `key`, trimmed and unquoted; `None` when absent or empty.
    pub fn field(&self, key: &str) -> Option<String> {
        self.front
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
            .filter(|v| !v.is_empty())
    }
}

/// The text of a definition file from a shared folder, when it is no larger than `max` bytes
/// (a definition is a page of text; a huge file is skipped with a warning).
pub fn read_small(path: &Path, max: u64) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > max {
        tracing::warn!(file = %path.display(), "definition skipped: the file is too large");
        return None;
    }
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_trimmed_unquoted_and_empty_ones_absent() {
        let text = "---\nname: \"pdf\"\ndescription:  Reads PDFs \nmodel:\n---\nBody.\n";
        let fm = FrontMatter::parse(text).unwrap();
        assert_eq!(fm.field("name").as_deref(), Some("pdf"));
        assert_eq!(fm.field("description").as_deref(), Some("Reads PDFs"));
        assert_eq!(fm.field("model"), None);
        assert_eq!(fm.body.trim(), "Body.");
        assert!(FrontMatter::parse("no front matter").is_none());
    }
}
