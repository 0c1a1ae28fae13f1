//! The test script: what the fake model answers, in which order, and which faults it injects.
//!
//! A script is plain JSON so that tests in any language (Rust, Python, shell) can write one; every
//! type here is also buildable directly in Rust.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::Error;

/// Default number of characters per `text_delta` / `thinking_delta` / JSON fragment.
pub const DEFAULT_TEXT_CHUNK: usize = 8;

/// `stop_reason` values the real Messages API documents.
const STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

/// `finish_reason` values the OpenAI chunk type accepts.
const OPENAI_FINISH_REASONS: &[&str] = &[
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
];

/// A complete test script.
///
/// Model requests (`POST /v1/messages` and `POST /v1/chat/completions`) take `steps` in order; once
/// they are used up, the first matching rule answers; failing that, a fixed "script exhausted" text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Answers consumed one per model request, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Answers chosen by looking at the last message of the request, after `steps` run out.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Characters per streamed text/thinking delta and per tool-input JSON fragment.
    #[serde(default = "default_text_chunk")]
    pub text_chunk: usize,
}

fn default_text_chunk() -> usize {
    DEFAULT_TEXT_CHUNK
}

impl Default for Script {
    fn default() -> Self {
        Script {
            steps: Vec::new(),
            rules: Vec::new(),
            text_chunk: DEFAULT_TEXT_CHUNK,
        }
    }
}

impl Script {
    /// A script that answers the given steps in order.
    pub fn with_steps(steps: impl IntoIterator<Item = Step>) -> Self {
        Script {
            steps: steps.into_iter().collect(),
            ..Script::default()
        }
    }

    /// Parses and validates a JSON script.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let script: Script = serde_json::from_str(text).map_err(Error::ParseScript)?;
        script.validate()?;
        Ok(script)
    }

    /// Reads, parses and validates a JSON script file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadScript {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text)
    }

    /// Checks everything serde cannot: value ranges, known enum strings, header syntax.
    ///
    /// [`crate::FakeModel::start`] calls this too, so scripts built in Rust get the same checks.
    pub fn validate(&self) -> Result<(), Error> {
        if self.text_chunk == 0 {
            return Err(invalid("text_chunk", "must be at least 1"));
        }
        for (i, step) in self.steps.iter().enumerate() {
            step.validate(&format!("steps[{i}]"))?;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if rule.times == Some(0) {
                return Err(invalid(&format!("{at}.times"), "must be at least 1"));
            }
            rule.reply.validate(&format!("{at}.reply"))?;
        }
        Ok(())
    }
}

fn invalid(at: &str, why: &str) -> Error {
    Error::InvalidScript(format!("{at}: {why}"))
}

/// One answer: either a model reply (streamed or not) or an HTTP error.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A successful assistant message.
    Reply(Reply),
    /// An HTTP error response, e.g. a 429 with `retry-after`.
    Error(HttpError),
}

impl Step {
    /// Shorthand for a reply made of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Step::Reply(Reply::new(vec![Block::text(text)]))
    }

    /// Shorthand for a reply made of one `tool_use` block.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Step::Reply(Reply::new(vec![Block::tool_use(name, input)]))
    }

    /// Shorthand for an HTTP error with the default `type` for `status`.
    pub fn http_error(status: u16, message: impl Into<String>) -> Self {
        Step::Error(HttpError::new(status, message))
    }

    fn validate(&self, at: &str) -> Result<(), Error> {
        match self {
            Step::Reply(reply) => reply.validate(at),
            Step::Error(error) => error.validate(&format!("{at}.error")),
        }
    }
}

impl From<Reply> for Step {
    fn from(reply: Reply) -> Self {
        Step::Reply(reply)
    }
}

impl From<HttpError> for Step {
    fn from(error: HttpError) -> Self {
        Step::Error(error)
    }
}

/// The JSON form of [`Step::Error`]: an object whose only key is `error`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorStepJson {
    error: HttpError,
}

// Hand-written so that a typo in a reply key is reported as that typo ("unknown field
// `stop_reson`") instead of serde's untagged "data did not match any variant".
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = Value::deserialize(deserializer)?;
        let is_error = value.as_object().is_some_and(|o| o.contains_key("error"));
        if is_error {
            let step = ErrorStepJson::deserialize(value)
                .map_err(|e| D::Error::custom(format!("error step: {e}")))?;
            Ok(Step::Error(step.error))
        } else {
            let reply = Reply::deserialize(value)
                .map_err(|e| D::Error::custom(format!("reply step: {e}")))?;
            Ok(Step::Reply(reply))
        }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Step::Reply(reply) => reply.serialize(serializer),
            Step::Error(error) => ErrorStepJson {
                error: error.clone(),
            }
            .serialize(serializer),
        }
    }
}

/// A successful assistant message plus the faults to inject while sending it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Content blocks, in order.
    #[serde(default)]
    pub content: Vec<Block>,
    /// Defaults to `tool_use` if any block is a tool call, else `end_turn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Sent as `stop_sequence` (normally with `stop_reason: "stop_sequence"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
    /// Token counts; missing ones are estimated from the request and content sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageSpec>,
    /// Model name to report; defaults to the request's `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sleep between SSE events, to simulate a slow stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub event_delay_ms: u64,
    /// Sleep before sending the response status and headers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub headers_delay_ms: u64,
    /// Abort the connection after this many SSE events (a dropped stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_after_events: Option<usize>,
    /// Send an in-stream error event after this many SSE events, then end the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_after_events: Option<MidStreamError>,
    /// Override the OpenAI `finish_reason` (e.g. `stop` with tool calls, a known server quirk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai_finish_reason: Option<String>,
    /// Per-step override of [`Script::text_chunk`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_chunk: Option<usize>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Reply {
    /// A reply with these blocks and every other field defaulted.
    pub fn new(content: Vec<Block>) -> Self {
        Reply {
            content,
            ..Reply::default()
        }
    }

    fn validate(&self, at: &str) -> Result<(), Error> {
        if let Some(reason) = &self.stop_reason {
            if !STOP_REASONS.contains(&reason.as_str()) {
                return Err(invalid(
                    &format!("{at}.stop_reason"),
                    &format!("unknown value {reason:?}; expected one of {STOP_REASONS:?}"),
                ));
            }
        }
        if let Some(reason) = &self.openai_finish_reason {
            if !OPENAI_FINISH_REASONS.contains(&reason.as_str()) {
                return Err(invalid(
                    &format!("{at}.openai_finish_reason"),
                    &format!("unknown value {reason:?}; expected one of {OPENAI_FINISH_REASONS:?}"),
                ));
            }
        }
        if self.drop_after_events.is_some() && self.error_after_events.is_some() {
            return Err(invalid(
                at,
                "drop_after_events and error_after_events are mutually exclusive",
            ));
        }
        if let Some(error) = &self.error_after_events {
            if error.error_type.is_empty() {
                return Err(invalid(
                    &format!("{at}.error_after_events.type"),
                    "must not be empty",
                ));
            }
        }
        if self.text_chunk == Some(0) {
            return Err(invalid(&format!("{at}.text_chunk"), "must be at least 1"));
        }
        for (i, block) in self.content.iter().enumerate() {
            block.validate(&format!("{at}.content[{i}]"))?;
        }
        Ok(())
    }

    /// The stop reason to report, applying the documented default.
    pub(crate) fn effective_stop_reason(&self) -> &str {
        match &self.stop_reason {
            Some(reason) => reason,
            None if self
                .content
                .iter()
                .any(|b| matches!(b, Block::ToolUse { .. })) =>
            {
                "tool_use"
            }
            None => "end_turn",
        }
    }
}

/// Token counts for a reply; each missing count is estimated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSpec {
    /// Default: request body length / 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Default: content length / 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
}

/// An error event sent in the middle of a 200 stream (`event: error` for Anthropic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidStreamError {
    /// Number of events sent before the error.
    pub after: usize,
    /// Anthropic error type, e.g. `overloaded_error`.
    #[serde(rename = "type", default = "default_mid_stream_type")]
    pub error_type: String,
    /// Human-readable message.
    #[serde(default = "default_mid_stream_message")]
    pub message: String,
}

fn default_mid_stream_type() -> String {
    "overloaded_error".to_owned()
}

fn default_mid_stream_message() -> String {
    "Overloaded".to_owned()
}

/// One content block of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Block {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A tool call.
    ToolUse {
        /// Defaults to a fresh `toolu_` + 24 hex digits on every use.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Tool name, e.g. `Bash`.
        name: String,
        /// Tool input; must be a JSON object.
        #[serde(default = "empty_object")]
        input: Value,
    },
    /// Extended thinking.
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Defaults to a fresh base64-looking string.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Redacted thinking (opaque data, sent whole).
    RedactedThinking {
        /// The opaque payload.
        data: String,
    },
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl Block {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Block::Text { text: text.into() }
    }

    /// A tool call with a generated id.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Block::ToolUse {
            id: None,
            name: name.into(),
            input,
        }
    }

    /// A thinking block with a generated signature.
    pub fn thinking(thinking: impl Into<String>) -> Self {
        Block::Thinking {
            thinking: thinking.into(),
            signature: None,
        }
    }

    fn validate(&self, at: &str) -> Result<(), Error> {
        match self {
            Block::ToolUse { id, name, input } => {
                if name.is_empty() {
                    return Err(invalid(&format!("{at}.name"), "must not be empty"));
                }
                if id.as_deref() == Some("") {
                    return Err(invalid(&format!("{at}.id"), "must not be empty"));
                }
                if !input.is_object() {
                    return Err(invalid(&format!("{at}.input"), "must be a JSON object"));
                }
            }
            Block::Thinking { signature, .. } if signature.as_deref() == Some("") => {
                return Err(invalid(&format!("{at}.signature"), "must not be empty"));
            }
            Block::Text { .. } | Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
        }
        Ok(())
    }
}

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpError {
    /// HTTP status, 400..=599 (529 is Anthropic's "overloaded").
    pub status: u16,
    /// Anthropic error type; defaults from the status (429 → `rate_limit_error`, ...).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Human-readable message.
    #[serde(default = "default_error_message")]
    pub message: String,
    /// Extra response headers, e.g. `retry-after`, `retry-after-ms`, `x-should-retry`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// OpenAI `error.code` (e.g. `rate_limit_exceeded`); only used on `/v1/chat/completions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai_code: Option<String>,
}

fn default_error_message() -> String {
    "fake-model: injected error".to_owned()
}

impl HttpError {
    /// An error with the default type for `status` and no extra headers.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        HttpError {
            status,
            error_type: None,
            message: message.into(),
            headers: BTreeMap::new(),
            openai_code: None,
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The Anthropic error type to send.
    pub(crate) fn effective_type(&self) -> &str {
        match &self.error_type {
            Some(t) => t,
            None => default_error_type(self.status),
        }
    }

    fn validate(&self, at: &str) -> Result<(), Error> {
        if !(400..=599).contains(&self.status) {
            return Err(invalid(&format!("{at}.status"), "must be in 400..=599"));
        }
        if self.error_type.as_deref() == Some("") {
            return Err(invalid(&format!("{at}.type"), "must not be empty"));
        }
        for (name, value) in &self.headers {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(invalid(
                    &format!("{at}.headers"),
                    &format!("invalid header name {name:?}"),
                ));
            }
            if axum::http::HeaderValue::from_str(value).is_err() {
                return Err(invalid(
                    &format!("{at}.headers.{name}"),
                    &format!("invalid header value {value:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// The Anthropic error type the real API uses for a status.
pub(crate) fn default_error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The HTTP status the real API pairs with an Anthropic error type.
pub(crate) fn status_for_error_type(error_type: &str) -> u16 {
    match error_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// A reply chosen by looking at the request once `steps` are used up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Conditions on the last message; all given ones must hold (`{}` matches everything).
    #[serde(default)]
    pub when: When,
    /// The answer.
    pub reply: Step,
    /// Use this rule at most this many times, then skip it (lets a loop end after N turns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Conditions on the last message of a request.
///
/// For Anthropic requests the last message is `messages[-1]`; for OpenAI requests it is the last
/// message, or the trailing run of `role: "tool"` messages (one assistant turn's tool results).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The last message is from the user and its text (not tool results) contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_user_text_contains: Option<String>,
    /// Whether the last message carries tool results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_is_tool_result: Option<bool>,
    /// Some tool result in the last message contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result_contains: Option<String>,
    /// Whether some tool result in the last message is marked `is_error` (Anthropic only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result_is_error: Option<bool>,
}
