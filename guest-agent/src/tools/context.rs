//! What every tool receives and returns. The tool loop owns one `ToolContext` per session.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Session-wide state the tools share.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The folders the agent may touch, canonicalised, absolute. The first one is the working folder.
    pub roots: Vec<PathBuf>,
    /// Files the model has read (or written) in this session, with what they looked like then.
    /// `Edit` refuses a file that is missing here or changed since.
    pub file_state: Arc<Mutex<HashMap<PathBuf, FileStamp>>>,
    /// Fired when the user interrupts the turn; long-running tools must stop promptly.
    pub cancel: CancellationToken,
}

/// What a file looked like when the model last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Modification time at read/write time.
    pub mtime: Option<SystemTime>,
    /// Size in bytes at read/write time.
    pub len: u64,
}

impl FileStamp {
    /// Stamp of the file as it is on disk now.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            mtime: meta.modified().ok(),
            len: meta.len(),
        })
    }
}

impl ToolContext {
    /// A context over `roots` (each must exist; they are canonicalised here).
    pub fn new(roots: Vec<PathBuf>) -> std::io::Result<Self> {
        let roots = roots
            .into_iter()
            .map(|r| r.canonicalize())
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self {
            roots,
            file_state: Arc::default(),
            cancel: CancellationToken::new(),
        })
    }

    /// The working folder (first root).
    pub fn cwd(&self) -> &Path {
        self.roots
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("/"))
    }

    /// Remember that the model has seen `path` as it is now.
    pub fn remember(&self, path: &Path) {
        if let Ok(stamp) = FileStamp::of(path) {
            if let Ok(mut map) = self.file_state.lock() {
                map.insert(path.to_path_buf(), stamp);
            }
        }
    }

    /// What the model last saw of `path`, if anything.
    pub fn seen(&self, path: &Path) -> Option<FileStamp> {
        self.file_state.lock().ok()?.get(path).copied()
    }
}

/// What goes back to the model in the `tool_result` block.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolContent {
    /// Plain text.
    Text(String),
    /// Content blocks (`{"type":"text",...}`, `{"type":"image","source":{...}}`).
    Blocks(Vec<Value>),
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The model-facing result.
    pub content: ToolContent,
    /// `true` when the call failed; the text then says why in words the model can act on.
    pub is_error: bool,
    /// The structured `tool_use_result` (Claude Code's per-tool Output object) sent to SDK clients.
    pub structured: Value,
}

impl ToolOutput {
    /// A successful text result with its structured output.
    pub fn ok(text: impl Into<String>, structured: Value) -> Self {
        Self {
            content: ToolContent::Text(text.into()),
            is_error: false,
            structured,
        }
    }

    /// A failed call. Claude Code sends the error text as the structured result too.
    pub fn error(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            structured: Value::String(format!("Error: {text}")),
            content: ToolContent::Text(text),
            is_error: true,
        }
    }
}

/// Parses `input` into a tool's arguments and runs `work` on the blocking pool: the file tools do
/// synchronous I/O, which must not stall the runtime. Bad input and failures become tool errors.
pub async fn run_blocking<A, E>(
    name: &'static str,
    ctx: &ToolContext,
    input: Value,
    work: fn(&ToolContext, &A) -> Result<ToolOutput, E>,
) -> ToolOutput
where
    A: DeserializeOwned + Send + 'static,
    E: std::fmt::Display + 'static,
{
    let args: A = match serde_json::from_value(input) {
        Ok(args) => args,
        Err(e) => return ToolOutput::error(format!("{name}: invalid input: {e}")),
    };
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        work(&ctx, &args).unwrap_or_else(|e| ToolOutput::error(e.to_string()))
    })
    .await
    .unwrap_or_else(|e| ToolOutput::error(format!("{name}: internal error: {e}")))
}
