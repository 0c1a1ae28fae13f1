//! Stream-json frames as a person reads them: the agent's text as it streams, one line per tool call
//! with a few dimmed lines of its output, and a footer per turn. The same renderer prints stored
//! transcripts (`workroom sessions show`), where the host's own records (permission decisions, VM
//! events) and the person's messages are shown too.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::Value;

use crate::term::{bold, cyan, dim, green, red, yellow, Screen};

/// Lines of a tool's output shown under its call.
const OUTPUT_PREVIEW_LINES: usize = 3;
/// Characters of one shown line.
const LINE_WIDTH: usize = 110;

/// Renders frames onto a [`Screen`].
pub struct Renderer {
    pub screen: Screen,
    /// Showing a stored transcript: the person's messages and the host's records are printed too.
    transcript: bool,
    /// Messages whose text already streamed (their complete `assistant` frames are not printed again).
    streamed: HashSet<String>,
    current_message: Option<String>,
    in_text: bool,
    /// Tool calls waiting for their result: id → name and start.
    tools: HashMap<String, (String, Instant)>,
    /// The agent's `total_cost_usd` is per agent process; a turn's cost is the increase.
    last_total_cost: f64,
    /// An API error already printed from its synthetic assistant message.
    shown_error: Option<String>,
    /// The model last mentioned in a transcript.
    model: Option<String>,
}

impl Renderer {
    pub fn live(screen: Screen) -> Self {
        Renderer::new(screen, false)
    }

    pub fn transcript() -> Self {
        Renderer::new(Screen::plain(), true)
    }

    fn new(screen: Screen, transcript: bool) -> Self {
        Renderer {
            screen,
            transcript,
            streamed: HashSet::new(),
            current_message: None,
            in_text: false,
            tools: HashMap::new(),
            last_total_cost: 0.0,
            shown_error: None,
            model: None,
        }
    }

    /// One frame from the agent (or, in a transcript, from the host).
    pub fn frame(&mut self, frame: &Value) {
        if frame["parent_tool_use_id"].is_string() && self.sub_agent_frame(frame) {
            return;
        }
        match frame["type"].as_str().unwrap_or_default() {
            "stream_event" => self.stream_event(&frame["event"]),
            "assistant" => self.assistant(frame),
            "user" => self.user(frame),
            "result" => self.result(frame),
            "system" => self.system(frame),
            "workroom_permission" => self.decision(frame),
            "workroom_vm" => self.vm_record(frame),
            "workroom_network" => self.network(frame),
            "workroom_unsent" => {
                self.user_message(frame["text"].as_str().unwrap_or_default());
                self.failure(&format!(
                    "not delivered: {}",
                    frame["reason"].as_str().unwrap_or("the VM did not start")
                ));
            }
            _ => {}
        }
    }

    /// A sub-agent's frame (`parent_tool_use_id` set). Its streamed text and its prompt are not
    /// shown (sub-agents run side by side; their words would interleave); its text replies become
    /// one quiet line each. Returns `false` for what renders as usual (its tool calls and results).
    fn sub_agent_frame(&mut self, frame: &Value) -> bool {
        match frame["type"].as_str().unwrap_or_default() {
            "stream_event" => true,
            "user" => frame["message"]["content"]
                .as_array()
                .is_some_and(|blocks| blocks.iter().all(|b| b["type"] == "text")),
            "assistant" => {
                let blocks = frame["message"]["content"].as_array();
                let texts: Vec<&str> = blocks
                    .into_iter()
                    .flatten()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                if texts.is_empty() {
                    return false;
                }
                self.end_text();
                for text in texts {
                    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    self.screen.line(format!(
                        "  {} {}",
                        dim().apply_to("↳ sub-agent:"),
                        dim().apply_to(clip(first, 100))
                    ));
                }
                true
            }
            _ => false,
        }
    }

    /// The person's message.
    pub fn user_message(&mut self, text: &str) {
        self.end_text();
        self.screen.line("");
        for (i, line) in text.lines().enumerate() {
            let mark = if i == 0 { "›" } else { " " };
            self.screen.line(format!(
                "{} {}",
                cyan().bold().apply_to(mark),
                bold().apply_to(line)
            ));
        }
    }

    /// A dimmed remark.
    pub fn note(&mut self, text: &str) {
        self.end_text();
        self.screen.line(dim().apply_to(text));
    }

    /// Something went wrong but the session goes on.
    pub fn warning(&mut self, text: &str) {
        self.end_text();
        self.screen.line(format!(
            "{} {}",
            yellow().apply_to("⚠"),
            yellow().apply_to(text)
        ));
    }

    /// Something failed.
    pub fn failure(&mut self, text: &str) {
        self.end_text();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        self.screen.line(format!(
            "{} {}",
            red().bold().apply_to("✗"),
            red().apply_to(first)
        ));
        for line in lines {
            self.screen.line(format!("  {}", red().apply_to(line)));
        }
    }

    /// The host allowed a call by itself (a new file).
    pub fn auto_allowed(&mut self, summary: &str, reason: &str) {
        self.end_text();
        self.screen.line(format!(
            "  {} {}",
            green().apply_to("✓"),
            dim().apply_to(format!("{summary} (allowed: {reason})"))
        ));
    }

    fn end_text(&mut self) {
        if self.in_text {
            self.in_text = false;
        }
        self.screen.end_line();
    }

    fn stream_event(&mut self, event: &Value) {
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => {
                self.current_message = event["message"]["id"].as_str().map(str::to_string);
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                if delta["type"] == "text_delta" {
                    let text = delta["text"].as_str().unwrap_or_default();
                    if !self.in_text {
                        self.screen.end_line();
                        self.in_text = true;
                    }
                    self.screen.text(text);
                    if let Some(id) = &self.current_message {
                        self.streamed.insert(id.clone());
                    }
                } else if delta["type"] == "thinking_delta" {
                    self.screen.spin("thinking");
                }
            }
            "content_block_stop" => self.end_text(),
            _ => {}
        }
    }

    fn assistant(&mut self, frame: &Value) {
        let message = &frame["message"];
        let id = message["id"].as_str().unwrap_or_default();
        let Some(blocks) = message["content"].as_array() else {
            return;
        };
        for block in blocks {
            match block["type"].as_str().unwrap_or_default() {
                "text" => {
                    let text = block["text"].as_str().unwrap_or_default();
                    if frame["is_api_error_message"] == true {
                        self.failure(text);
                        self.shown_error = Some(text.to_string());
                    } else if !self.streamed.contains(id) && !text.is_empty() {
                        self.end_text();
                        self.screen.text(text);
                        self.screen.end_line();
                    }
                }
                "tool_use" => self.tool_call(block),
                _ => {}
            }
        }
    }

    fn tool_call(&mut self, block: &Value) {
        self.end_text();
        let name = block["name"].as_str().unwrap_or("tool");
        let summary = tool_summary(name, &block["input"]);
        self.screen.line(format!(
            "{} {}  {}",
            cyan().apply_to("●"),
            bold().apply_to(name),
            summary
        ));
        if let Some(id) = block["id"].as_str() {
            self.tools
                .insert(id.to_string(), (name.to_string(), Instant::now()));
        }
        if !self.transcript {
            self.screen.spin(format!("{name} running"));
        }
    }

    /// Starts a tool call's clock again (it waited for the person, which is not its run time).
    pub fn tool_allowed(&mut self, tool_use_id: Option<&str>) {
        if let Some(call) = tool_use_id.and_then(|id| self.tools.get_mut(id)) {
            call.1 = Instant::now();
        }
    }

    /// Whether a tool call is waiting for its result (and so the spinner should say so).
    pub fn tool_running(&self) -> Option<&str> {
        self.tools.values().next().map(|(name, _)| name.as_str())
    }

    fn user(&mut self, frame: &Value) {
        let content = &frame["message"]["content"];
        if let Some(text) = content.as_str() {
            if self.transcript {
                self.user_message(text);
            }
            return;
        }
        let Some(blocks) = content.as_array() else {
            return;
        };
        for block in blocks {
            match block["type"].as_str().unwrap_or_default() {
                "tool_result" => self.tool_result(block),
                "text" if self.transcript => {
                    self.user_message(block["text"].as_str().unwrap_or_default())
                }
                _ => {}
            }
        }
    }

    fn tool_result(&mut self, block: &Value) {
        self.end_text();
        let id = block["tool_use_id"].as_str().unwrap_or_default();
        let took = self.tools.remove(id).map(|(_, started)| started.elapsed());
        self.screen.stop_spin();
        let text = result_text(&block["content"]);
        let is_error = block["is_error"] == true;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let shown = lines.len().min(OUTPUT_PREVIEW_LINES);
        if lines.is_empty() {
            self.screen
                .line(format!("  {}", dim().apply_to("⎿  (no output)")));
        }
        for (i, line) in lines.iter().take(shown).enumerate() {
            let lead = if i == 0 { "⎿  " } else { "   " };
            let line = clip(&friendly_paths(line), LINE_WIDTH);
            let styled = if is_error {
                red().apply_to(format!("{lead}{line}")).to_string()
            } else {
                dim().apply_to(format!("{lead}{line}")).to_string()
            };
            self.screen.line(format!("  {styled}"));
        }
        let mut tail = Vec::new();
        if lines.len() > shown {
            tail.push(format!("… +{} lines", lines.len() - shown));
        }
        if let Some(took) = took.filter(|t| t.as_secs() >= 2 && !self.transcript) {
            tail.push(format!("took {}", seconds(took.as_millis() as u64)));
        }
        if !tail.is_empty() {
            self.screen
                .line(format!("     {}", dim().apply_to(tail.join(" · "))));
        }
    }

    fn result(&mut self, frame: &Value) {
        self.end_text();
        self.screen.stop_spin();
        self.tools.clear();
        let is_error = frame["is_error"] == true;
        let reason = frame["terminal_reason"].as_str().unwrap_or_default();
        if reason.starts_with("aborted") {
            self.screen
                .line(yellow().apply_to("⏹ interrupted").to_string());
        } else if is_error || frame["subtype"] != "success" {
            let text = frame["result"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    frame["errors"].as_array().map(|e| {
                        e.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                })
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("the turn ended with an error ({reason})"));
            if self.shown_error.as_deref() != Some(text.as_str()) {
                self.failure(&text);
            }
        }
        self.shown_error = None;
        let total = frame["total_cost_usd"].as_f64().unwrap_or(0.0);
        let cost = if total >= self.last_total_cost {
            total - self.last_total_cost
        } else {
            total
        };
        self.last_total_cost = total;
        let usage = &frame["usage"];
        let tokens = |k: &str| usage[k].as_u64().unwrap_or(0);
        let input = tokens("input_tokens")
            + tokens("cache_read_input_tokens")
            + tokens("cache_creation_input_tokens");
        let footer = format!(
            "── {} · {} in · {} out tokens · ${cost:.4}",
            seconds(frame["duration_ms"].as_u64().unwrap_or(0)),
            thousands(input),
            thousands(tokens("output_tokens")),
        );
        self.screen.line(dim().apply_to(footer));
    }

    fn system(&mut self, frame: &Value) {
        match frame["subtype"].as_str().unwrap_or_default() {
            "api_retry" => {
                let status = frame["error_status"]
                    .as_u64()
                    .map(|s| format!("{s} "))
                    .unwrap_or_default();
                let error = frame["error"].as_str().unwrap_or("error");
                let delay = frame["retry_delay_ms"].as_u64().unwrap_or(0);
                self.warning(&format!(
                    "the model service answered {status}{error}; trying again in {} (attempt {} of {})",
                    seconds(delay),
                    frame["attempt"],
                    frame["max_retries"]
                ));
            }
            "compact_boundary" => {
                self.note("(the conversation so far was summarised to make room)")
            }
            // The agent says this at every turn; a transcript mentions the model when it changes.
            "init" if self.transcript => {
                let model = frame["model"].as_str().unwrap_or("?").to_string();
                if self.model.as_deref() != Some(model.as_str()) {
                    self.note(&format!("model: {model}"));
                    self.model = Some(model);
                }
            }
            _ => {}
        }
    }

    fn decision(&mut self, frame: &Value) {
        let decision = frame["decision"].as_str().unwrap_or_default();
        let tool = frame["tool_name"].as_str().unwrap_or("tool");
        let by = frame["by"].as_str().unwrap_or_default();
        let allowed = decision.starts_with("allow") || decision == "always_allow";
        let what = match (by, decision) {
            ("host", _) => format!(
                "{tool} allowed by Workroom ({})",
                frame["reason"].as_str().unwrap_or("no question needed")
            ),
            (_, "allow_once") => format!("{tool} allowed once by you"),
            (_, "allow_session") => format!("{tool} allowed by you for this session"),
            (_, "always_allow") => format!(
                "{tool} always allowed by you (saved rule {})",
                frame["rule"].as_str().unwrap_or("?")
            ),
            (_, "deny_with_message") => format!("{tool} denied by you, with a message"),
            _ => format!("{tool} denied by you"),
        };
        let mark = if allowed {
            green().apply_to("✓")
        } else {
            red().apply_to("✗")
        };
        self.end_text();
        self.screen
            .line(format!("  {mark} {}", dim().apply_to(what)));
    }

    /// A request through the egress proxy: every one is shown, allowed or not.
    fn network(&mut self, frame: &Value) {
        let allowed = frame["allowed"].as_bool().unwrap_or(false);
        let target = frame["target"].as_str().unwrap_or("?");
        let method = frame["method"].as_str().unwrap_or("?");
        let why = match (allowed, frame["by"].as_str().unwrap_or_default()) {
            (_, "error") => "allowed, but the server could not be reached",
            (true, "rule") => "allowed by your network settings",
            (true, "session") => "allowed for this session",
            (true, _) => "allowed by you",
            (false, "provider") => {
                "refused: the model provider is reachable only by the model proxy"
            }
            (false, "rule") => "refused by your network settings",
            (false, _) => "refused by you",
        };
        let mark = if allowed {
            green().apply_to("↗")
        } else {
            red().apply_to("✗")
        };
        self.end_text();
        self.screen.line(format!(
            "  {mark} {}",
            dim().apply_to(format!("{method} {target}: {why}"))
        ));
    }

    fn vm_record(&mut self, frame: &Value) {
        match frame["state"].as_str().unwrap_or_default() {
            "running" => {
                self.note(&format!(
                    "VM started ({}, {}, {} toolset)",
                    frame["accel"].as_str().unwrap_or("?"),
                    seconds(frame["boot_ms"].as_u64().unwrap_or(0)),
                    frame["userland"].as_str().unwrap_or("minimal")
                ));
                if let Some(error) = frame["userland_error"].as_str() {
                    self.failure(&format!("the full toolset did not start: {error}"));
                }
            }
            "failed" => self.failure(&format!(
                "the VM failed: {}",
                frame["reason"].as_str().unwrap_or("?")
            )),
            _ => self.note(&format!(
                "VM stopped: {}",
                frame["reason"].as_str().unwrap_or("?")
            )),
        }
    }
}

/// One line saying what a tool call does: `ls -la`, `notes/todo.txt`, `"TODO" in src`.
pub fn tool_summary(name: &str, input: &Value) -> String {
    let field = |k: &str| input[k].as_str().unwrap_or_default();
    let summary = match name {
        "Bash" => first_line(field("command")),
        "Read" | "Write" | "Edit" | "MultiEdit" => display_path(field("file_path")),
        "NotebookEdit" => display_path(field("notebook_path")),
        "Glob" | "Grep" => {
            let path = input["path"].as_str().map(display_path);
            match path {
                Some(path) => format!("{} in {path}", field("pattern")),
                None => field("pattern").to_string(),
            }
        }
        "WebFetch" => field("url").to_string(),
        "WebSearch" => field("query").to_string(),
        "Task" => field("description").to_string(),
        "TodoWrite" => format!(
            "{} items",
            input["todos"].as_array().map(Vec::len).unwrap_or(0)
        ),
        _ => input.to_string(),
    };
    clip(&summary, LINE_WIDTH)
}

/// A guest path as the person knows it: `/sessions/<id>/mnt/Taxes 2026/a.txt` → `Taxes 2026/a.txt`.
pub fn display_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/sessions/") {
        if let Some((_, inside)) = rest.split_once("/mnt/") {
            return inside.to_string();
        }
    }
    path.to_string()
}

/// Every guest path in `text` as the person knows it (see [`display_path`]).
fn friendly_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/sessions/") {
        let after = &rest[start + "/sessions/".len()..];
        // `<id>/mnt/`: an id has no slash and no space.
        let id_len = after
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(after.len());
        if after[id_len..].starts_with("/mnt/") {
            out.push_str(&rest[..start]);
            rest = &after[id_len + "/mnt/".len()..];
        } else {
            out.push_str(&rest[..start + 1]);
            rest = &rest[start + 1..];
        }
    }
    out.push_str(rest);
    out
}

fn first_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

/// A tool result's text: a string, or the text blocks of a block list.
fn result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// At most `width` characters, with an ellipsis when cut.
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let cut: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `850 ms`, `3.2 s`, `2 min 5 s`.
pub fn seconds(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_calls_read_as_one_short_line() {
        assert_eq!(
            tool_summary("Bash", &json!({"command": "ls -la"})),
            "ls -la"
        );
        assert_eq!(
            tool_summary("Bash", &json!({"command": "cd x\nmake"})),
            "cd x …"
        );
        assert_eq!(
            tool_summary(
                "Write",
                &json!({"file_path": "/sessions/abc/mnt/Taxes 2026/notes.txt"})
            ),
            "Taxes 2026/notes.txt"
        );
        assert_eq!(
            tool_summary(
                "Grep",
                &json!({"pattern": "TODO", "path": "/sessions/a/mnt/w/src"})
            ),
            "TODO in w/src"
        );
        assert!(tool_summary("Bash", &json!({"command": "x".repeat(500)})).ends_with('…'));
    }

    #[test]
    fn guest_paths_in_output_read_as_folder_paths() {
        assert_eq!(
            friendly_paths("File created successfully at: /sessions/05ab-41/mnt/work/a.txt"),
            "File created successfully at: work/a.txt"
        );
        assert_eq!(
            friendly_paths("/sessions/x y and /etc"),
            "/sessions/x y and /etc"
        );
        assert_eq!(
            friendly_paths("cp /sessions/a/mnt/w/1 /sessions/a/mnt/w/2"),
            "cp w/1 w/2"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(seconds(850), "850 ms");
        assert_eq!(seconds(3210), "3.2 s");
        assert_eq!(seconds(125_000), "2 min 5 s");
    }
}
