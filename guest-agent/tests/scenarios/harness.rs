//! Drives the real `workroom-agent` binary over stdin/stdout against the fake model server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fake_model::{FakeModel, RecordedRequest, Script};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long any single expected frame may take.
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// A running agent session.
pub struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    /// Every frame read so far.
    pub frames: Vec<Value>,
    /// The agent's working folder.
    pub dir: tempfile::TempDir,
    /// Where transcripts go.
    pub state: tempfile::TempDir,
    /// The fake model.
    pub server: FakeModel,
}

/// Options for starting an agent.
pub struct Setup {
    script: Value,
    args: Vec<String>,
    env: Vec<(String, String)>,
    files: Vec<(String, String)>,
    state: Option<tempfile::TempDir>,
    dir: Option<tempfile::TempDir>,
    openai: bool,
}

impl Setup {
    /// An agent whose model follows `script` (fake-model JSON script).
    pub fn new(script: Value) -> Self {
        Self {
            script,
            args: Vec::new(),
            env: Vec::new(),
            files: Vec::new(),
            state: None,
            dir: None,
            openai: false,
        }
    }

    /// Extra command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// An environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A file created in the working folder before start.
    pub fn file(mut self, name: &str, content: &str) -> Self {
        self.files.push((name.into(), content.into()));
        self
    }

    /// Talk to the fake server's OpenAI-compatible endpoint (`--model openai:<model>`).
    pub fn openai(mut self, model: &str) -> Self {
        self.openai = true;
        self.args
            .extend(["--model".to_string(), format!("openai:{model}")]);
        self
    }

    /// Use this folder as the working folder (create it first to know its path for the script).
    pub fn in_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Reuse the folder and state of an earlier session (for resume).
    pub fn reuse(mut self, dir: tempfile::TempDir, state: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self.state = Some(state);
        self
    }

    /// Starts the fake model and the agent.
    pub async fn start(self) -> Agent {
        let script =
            Script::from_json_str(&self.script.to_string()).expect("valid fake-model script");
        let server = FakeModel::start(script).expect("fake model starts");
        let dir = self
            .dir
            .unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
        let state = self
            .state
            .unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
        for (name, content) in &self.files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, content).expect("write fixture");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_workroom-agent"));
        cmd.args([
            "--output-format",
            "stream-json",
            "--input-format",
            "stream-json",
            "--verbose",
        ])
        .args(&self.args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", state.path())
        .env("ANTHROPIC_BASE_URL", server.base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-test-key")
        .env("WORKROOM_AGENT_STATE_DIR", state.path())
        .env("WORKROOM_RETRY_BASE_MS", "20")
        .env("WORKROOM_LOG", "info")
        .env("OPENAI_BASE_URL", format!("{}/v1", server.base_url()))
        .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
        let mut child = cmd.spawn().expect("agent starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        Agent {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            frames: Vec::new(),
            dir,
            state,
            server,
        }
    }
}

impl Agent {
    /// Writes one frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_raw(&format!("{frame}\n")).await;
    }

    /// Writes raw bytes (for malformed input).
    pub async fn send_raw(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(text.as_bytes())
            .await
            .expect("write to agent");
        stdin.flush().await.expect("flush");
    }

    /// Sends a user message.
    pub async fn user(&mut self, text: &str) {
        self.send(json!({"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": null, "session_id": ""}))
            .await;
    }

    /// Sends `initialize` and returns its answer.
    pub async fn initialize(&mut self, hooks: Value) -> Value {
        self.send(json!({"type": "control_request", "request_id": "init", "request": {"subtype": "initialize", "hooks": hooks}}))
            .await;
        self.until(|f| f["type"] == "control_response").await
    }

    /// Sends a control request.
    pub async fn control(&mut self, id: &str, request: Value) -> Value {
        self.send(json!({"type": "control_request", "request_id": id, "request": request}))
            .await;
        let id = id.to_string();
        self.until(move |f| f["type"] == "control_response" && f["response"]["request_id"] == id)
            .await
    }

    /// Answers a control request of the agent.
    pub async fn respond(&mut self, request_id: &str, response: Value) {
        self.send(json!({"type": "control_response", "response": {"subtype": "success", "request_id": request_id, "response": response}}))
            .await;
    }

    /// The next frame; fails the test after [`FRAME_TIMEOUT`].
    pub async fn next(&mut self) -> Option<Value> {
        let line = match tokio::time::timeout(FRAME_TIMEOUT, self.lines.next_line()).await {
            Ok(line) => line.expect("read agent stdout"),
            Err(_) => panic!(
                "no frame within {FRAME_TIMEOUT:?}; frames so far:\n{}",
                self.dump()
            ),
        };
        let line = line?;
        assert!(
            line.len() < (1 << 20),
            "a line of {} bytes exceeds 1 MiB",
            line.len()
        );
        let frame: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        self.frames.push(frame.clone());
        Some(frame)
    }

    /// Reads until a frame satisfies `pred`, returning it.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next().await {
                Some(frame) if pred(&frame) => return frame,
                Some(_) => {}
                None => panic!(
                    "stdout closed before the expected frame; frames:\n{}",
                    self.dump()
                ),
            }
        }
    }

    /// Reads until the next `result`.
    pub async fn result(&mut self) -> Value {
        self.until(|f| f["type"] == "result").await
    }

    /// Closes stdin, reads the rest, and returns the exit code.
    pub async fn close(&mut self) -> i32 {
        self.stdin.take();
        while self.next().await.is_some() {}
        let status = tokio::time::timeout(FRAME_TIMEOUT, self.child.wait())
            .await
            .expect("agent exits after stdin closes")
            .expect("wait");
        status.code().unwrap_or(-1)
    }

    /// Model requests the fake server received.
    pub fn model_requests(&self) -> Vec<RecordedRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| {
                r.path.starts_with("/v1/messages") && !r.path.contains("count_tokens")
                    || r.path.starts_with("/v1/chat")
            })
            .collect()
    }

    /// Frames of a type (and subtype).
    pub fn of(&self, kind: &str, subtype: Option<&str>) -> Vec<&Value> {
        self.frames
            .iter()
            .filter(|f| f["type"] == kind && subtype.is_none_or(|s| f["subtype"] == s))
            .collect()
    }

    /// Tool results the agent emitted, as (content text, is_error).
    pub fn tool_results(&self) -> Vec<(String, bool)> {
        self.of("user", None)
            .iter()
            .flat_map(|f| {
                f["message"]["content"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|b| b["type"] == "tool_result")
            .map(|b| {
                let text = match &b["content"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (text, b["is_error"] == true)
            })
            .collect()
    }

    /// A path in the working folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn dump(&self) -> String {
        self.frames
            .iter()
            .map(|f| {
                let s = f.to_string();
                s.chars().take(400).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A reply step calling one tool.
pub fn tool(name: &str, input: Value) -> Value {
    json!({"content": [{"type": "tool_use", "name": name, "input": input}]})
}

/// A reply step with text.
pub fn say(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}]})
}

/// Reads a file the agent should have written.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
