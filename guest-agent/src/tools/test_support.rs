//! Fixtures shared by the tools' unit tests.

use tempfile::TempDir;

use super::context::{ToolContent, ToolContext, ToolOutput};

/// A fresh folder and a context whose only root it is.
pub fn setup() -> (TempDir, ToolContext) {
    let tmp = TempDir::new().expect("temp dir");
    let ctx = ToolContext::new(vec![tmp.path().to_path_buf()]).expect("context");
    (tmp, ctx)
}

/// The text of a text result (fails the test on blocks).
pub fn text(out: &ToolOutput) -> String {
    match &out.content {
        ToolContent::Text(t) => t.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}
