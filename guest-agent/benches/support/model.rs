//! The fake model: scripts for the bench's sessions, and timing the fake model on its own so that
//! the agent's share of a round trip can be told apart from the model's.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fake_model::{FakeModel, RecordedRequest, Script};
use serde_json::{json, Value};

/// Text and tool-input fragment size in the fake model's streams. With its default (8), a
/// TodoWrite call is ~20 SSE events, which hyper writes in several segments; the fake model's
/// sockets do not set TCP_NODELAY, so on a kept-alive connection a later segment waits for the
/// client's delayed ACK: 40 ms per request, which would swamp what is measured here. One
/// fragment per block avoids that; once the fake model sets TCP_NODELAY, the default will do.
const TEXT_CHUNK: usize = 4096;

/// Starts a fake model answering by `rules` (a JSON array, as documented in
/// tests/fake-model/README.md).
pub fn start(rules: Value) -> Result<FakeModel> {
    let script = json!({"text_chunk": TEXT_CHUNK, "rules": rules});
    let script: Script = serde_json::from_value(script).context("bench script does not parse")?;
    FakeModel::start(script).context("starting the fake model")
}

/// A `tool_use` content block.
pub fn tool_use(name: &str, input: Value) -> Value {
    json!({"type": "tool_use", "name": name, "input": input})
}

/// Rules for one turn of exactly `calls` tool calls: the user message is answered with `tool`,
/// each tool result with `tool` again until `calls` are made, then with a text that ends the turn.
pub fn tool_loop_rules(tool: &Value, calls: u32) -> Value {
    assert!(calls >= 2, "a tool loop needs at least 2 calls");
    let done = json!({"type": "text", "text": "done"});
    json!([
        {"when": {"last_is_tool_result": true}, "times": calls - 1, "reply": {"content": [tool]}},
        {"when": {"last_is_tool_result": true}, "reply": {"content": [done]}},
        {"when": {}, "reply": {"content": [tool]}},
    ])
}

/// Answers every request with `content`, whatever it asks (for replaying recorded requests).
fn constant_rules(content: &Value) -> Value {
    json!([{"when": {}, "reply": {"content": [content]}}])
}

/// How many tool results the model was sent marked `is_error`: a bench whose tools fail measures
/// error paths, not the agent's normal work.
pub fn failed_tool_results(requests: &[RecordedRequest]) -> usize {
    requests
        .iter()
        .filter_map(|r| r.body["messages"].as_array()?.last())
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result" && block["is_error"] == true)
        .count()
}

/// Times the fake model serving requests without the agent: the same HTTP client library and the
/// same kept-alive connection pattern as the agent, the very bodies the agent sent.
pub struct Replayer {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Replayer {
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building a Tokio runtime")?;
        Ok(Self {
            runtime,
            client: reqwest::Client::new(),
        })
    }

    /// Sends `requests` one after another to a fresh fake model that answers each with `reply`,
    /// reading every answer to its end; returns the total time.
    pub fn time(&self, requests: &[RecordedRequest], reply: &Value) -> Result<Duration> {
        let server = start(constant_rules(reply))?;
        let base = server.base_url();
        let bodies: Vec<(String, Vec<u8>)> = requests
            .iter()
            .map(|r| Ok((format!("{base}{}", r.path), serde_json::to_vec(&r.body)?)))
            .collect::<Result<_>>()?;
        self.runtime.block_on(async {
            let started = Instant::now();
            for (url, body) in bodies {
                let response = self
                    .client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("replaying a request to {url}"))?;
                let status = response.status();
                let _ = response
                    .bytes()
                    .await
                    .context("reading the fake model's answer")?;
                if !status.is_success() {
                    bail!("fake model answered {status} to a replayed request");
                }
            }
            Ok(started.elapsed())
        })
    }
}
