//! Anthropic Messages API: request bodies, content blocks and streaming (SSE) events.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::open_enum::open_enum;

/// The `anthropic-version` header value every request carries.
pub const API_VERSION: &str = "2023-06-01";

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person, or tool results on their behalf.
    User,
    /// The model.
    Assistant,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// A plain string or a list of blocks.
    pub content: MessageContent,
}

/// Message content: the API accepts a bare string as shorthand for one text block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Shorthand for a single text block.
    Text(String),
    /// Content blocks.
    Blocks(Vec<ContentBlock>),
}

impl MessageContent {
    /// The content as blocks (a string becomes one text block).
    pub fn into_blocks(self) -> Vec<ContentBlock> {
        match self {
            Self::Text(text) => vec![ContentBlock::text(text)],
            Self::Blocks(blocks) => blocks,
        }
    }

    /// All text of the message, blocks joined by newlines (tool results included).
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Blocks(blocks) => blocks
                .iter()
                .filter_map(ContentBlock::plain_text)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// `cache_control` marker for prompt caching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheControl {
    /// Always `ephemeral` today.
    #[serde(rename = "type")]
    pub kind: String,
}

impl CacheControl {
    /// The only kind the API knows.
    pub fn ephemeral() -> Self {
        Self {
            kind: "ephemeral".into(),
        }
    }
}

/// A text block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The text.
    pub text: String,
    /// Prompt-cache breakpoint; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Fields this version does not model (citations, ...), kept for round trips.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    /// `toolu_...` id the result must refer to.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Tool input (a JSON object).
    pub input: Value,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The result of a tool call, sent back in the next user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    /// The `tool_use` id this answers.
    pub tool_use_id: String,
    /// Text or blocks; absent means an empty result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ToolResultContent>,
    /// `true` when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Prompt-cache breakpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Content of a tool result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// Plain text.
    Text(String),
    /// Blocks (text, image, ...).
    Blocks(Vec<ContentBlock>),
}

impl ToolResultContent {
    /// The text parts joined by newlines.
    pub fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Blocks(blocks) => blocks
                .iter()
                .filter_map(ContentBlock::plain_text)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Extended thinking; the signature must be echoed back unmodified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// The thinking text.
    pub thinking: String,
    /// Opaque signature the API verifies when the block is sent back.
    #[serde(default)]
    pub signature: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Thinking the API returns encrypted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    /// Opaque data, echoed back unmodified.
    pub data: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image (input only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    /// `{type:"base64",media_type,data}` or `{type:"url",url}`.
    pub source: Value,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// One content block of a message.
    pub enum ContentBlock tag "type" {
        /// Text.
        Text(TextBlock) = "text",
        /// Image input.
        Image(ImageBlock) = "image",
        /// A tool call.
        ToolUse(ToolUseBlock) = "tool_use",
        /// A tool result.
        ToolResult(ToolResultBlock) = "tool_result",
        /// Extended thinking.
        Thinking(ThinkingBlock) = "thinking",
        /// Encrypted thinking.
        RedactedThinking(RedactedThinkingBlock) = "redacted_thinking",
    }
}

impl ContentBlock {
    /// A plain text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextBlock {
            text: text.into(),
            cache_control: None,
            extra: Map::new(),
        })
    }

    /// The readable text of a text or tool-result block.
    pub fn plain_text(&self) -> Option<String> {
        match self {
            Self::Text(t) => Some(t.text.clone()),
            Self::ToolResult(r) => r.content.as_ref().map(ToolResultContent::text),
            _ => None,
        }
    }

    /// Sets or clears the prompt-cache breakpoint where the block type supports one.
    pub fn set_cache_control(&mut self, cache: Option<CacheControl>) {
        match self {
            Self::Text(t) => t.cache_control = cache,
            Self::ToolResult(r) => r.cache_control = cache,
            Self::Image(i) => match cache {
                Some(c) => {
                    i.extra.insert(
                        "cache_control".into(),
                        serde_json::to_value(c).unwrap_or(Value::Null),
                    );
                }
                None => {
                    i.extra.remove("cache_control");
                }
            },
            _ => {}
        }
    }
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: Value,
}

/// A system prompt block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemBlock {
    /// Always `text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The prompt text.
    pub text: String,
    /// Prompt-cache breakpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

/// `POST /v1/messages` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// Model id.
    pub model: String,
    /// Output token cap.
    pub max_tokens: u32,
    /// The conversation.
    pub messages: Vec<Message>,
    /// System prompt blocks; absent means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock>,
    /// Tools offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// Stream with SSE.
    #[serde(default)]
    pub stream: bool,
    /// `{type:"enabled",budget_tokens}` etc.; absent means the API default (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Value>,
    /// Unmodelled fields (metadata, tool_choice, temperature, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens written to the cache.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }

    /// All input tokens, cached or not.
    pub fn total_input(&self) -> u64 {
        self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens
    }
}

/// A complete assistant message (non-streaming response, `message_start` payload, `assistant` frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// `msg_...`.
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type", default = "message_kind")]
    pub kind: String,
    /// Always `assistant`.
    pub role: Role,
    /// Model that answered (`<synthetic>` for agent-made error messages).
    pub model: String,
    /// Content blocks.
    pub content: Vec<ContentBlock>,
    /// Why the model stopped; `null` while streaming.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Which stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn message_kind() -> String {
    "message".into()
}

/// `content_block_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockStart {
    /// Block index.
    pub index: usize,
    /// The block, empty for text/tool_use/thinking.
    pub content_block: ContentBlock,
}

/// `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockDelta {
    /// Block index.
    pub index: usize,
    /// The increment.
    pub delta: Delta,
}

/// `content_block_stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockStop {
    /// Block index.
    pub index: usize,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageStart {
    /// The message shell with initial usage.
    pub message: AssistantMessage,
}

/// Stop information in `message_delta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why the model stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Which stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// `message_delta`: final stop reason and cumulative usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDelta {
    /// Stop information.
    pub delta: MessageDeltaBody,
    /// Cumulative counts (fields absent here keep their `message_start` values).
    #[serde(default)]
    pub usage: Value,
}

/// An event with no payload (`message_stop`, `ping`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `error` object of an error body or a mid-stream error event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// `overloaded_error`, `rate_limit_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
}

/// `{"type":"error","error":{...}}` — both an HTTP error body and a mid-stream SSE event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// What went wrong.
    pub error: ApiErrorDetail,
    /// Unmodelled fields (`request_id`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// One server-sent event of a streaming response.
    pub enum StreamEvent tag "type" {
        /// First event.
        MessageStart(MessageStart) = "message_start",
        /// A block begins.
        ContentBlockStart(ContentBlockStart) = "content_block_start",
        /// A block grows.
        ContentBlockDelta(ContentBlockDelta) = "content_block_delta",
        /// A block ends.
        ContentBlockStop(ContentBlockStop) = "content_block_stop",
        /// Stop reason and usage.
        MessageDelta(MessageDelta) = "message_delta",
        /// Last event.
        MessageStop(Empty) = "message_stop",
        /// Keep-alive; ignore.
        Ping(Empty) = "ping",
        /// Mid-stream error.
        Error(ErrorEvent) = "error",
    }
}

/// Text increment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDelta {
    /// Appended text.
    pub text: String,
}

/// Tool input increment: concatenate, parse at `content_block_stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputJsonDelta {
    /// A fragment of JSON text (may be empty).
    pub partial_json: String,
}

/// Thinking increment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingDelta {
    /// Appended thinking.
    pub thinking: String,
}

/// Thinking signature (arrives just before the block stops).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureDelta {
    /// The signature.
    pub signature: String,
}

open_enum! {
    /// The `delta` of a `content_block_delta`.
    pub enum Delta tag "type" {
        /// Text.
        Text(TextDelta) = "text_delta",
        /// Tool input JSON.
        InputJson(InputJsonDelta) = "input_json_delta",
        /// Thinking text.
        Thinking(ThinkingDelta) = "thinking_delta",
        /// Thinking signature.
        Signature(SignatureDelta) = "signature_delta",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_blocks_round_trip_including_unknown_ones() {
        let raw = json!([
            {"type": "text", "text": "hi", "citations": [1]},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "server_tool_use", "id": "x", "anything": {"goes": true}},
        ]);
        let blocks: Vec<ContentBlock> = serde_json::from_value(raw.clone()).unwrap();
        assert!(matches!(blocks[3], ContentBlock::Other(_)));
        assert_eq!(serde_json::to_value(&blocks).unwrap(), raw);
    }

    #[test]
    fn stream_events_decode() {
        let e: StreamEvent = serde_json::from_str(
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}"#,
        )
        .unwrap();
        match e {
            StreamEvent::ContentBlockDelta(d) => {
                assert_eq!(d.index, 2);
                assert_eq!(
                    d.delta,
                    Delta::InputJson(InputJsonDelta {
                        partial_json: "{\"a\"".into()
                    })
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let unknown: StreamEvent = serde_json::from_str(r#"{"type":"brand_new","x":1}"#).unwrap();
        assert_eq!(unknown.tag(), Some("brand_new"));
    }

    #[test]
    fn a_known_tag_with_a_bad_payload_is_an_error() {
        let err = serde_json::from_str::<ContentBlock>(r#"{"type":"tool_use","name":"x"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn string_content_is_shorthand_for_one_text_block() {
        let m: Message = serde_json::from_str(r#"{"role":"user","content":"hello"}"#).unwrap();
        assert_eq!(
            m.content.clone().into_blocks(),
            vec![ContentBlock::text("hello")]
        );
        assert_eq!(m.content.text(), "hello");
    }
}
