//! OpenAI-compatible Chat Completions, translated to and from the Anthropic shapes the agent uses.
//!
//! Tool calls are assembled from `delta.tool_calls` fragments by `index`. `finish_reason` is not trusted:
//! Ollama, vLLM and others send `stop` with tool calls present, so any tool call means `tool_use`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use workroom_protocol::anthropic::{
    AssistantMessage, ContentBlock, ContentBlockDelta, ContentBlockStart, ContentBlockStop, Delta,
    Empty, InputJsonDelta, Message, MessageContent, MessageDelta, MessageDeltaBody, MessageStart,
    MessagesRequest, Role, StreamEvent, TextDelta, ThinkingBlock, ThinkingDelta, ToolResultContent,
    ToolUseBlock, Usage,
};
use workroom_protocol::openai::{
    ChatChunk, ChatMessage, ChatRequest, ChatTool, FunctionCall, FunctionDefinition, ToolCall,
};

use super::ModelError;

/// Builds the Chat Completions request for an Anthropic-shaped one.
pub fn to_chat_request(request: &MessagesRequest) -> ChatRequest {
    let mut messages = Vec::new();
    let system: Vec<&str> = request.system.iter().map(|b| b.text.as_str()).collect();
    if !system.is_empty() {
        messages.push(ChatMessage {
            role: "system".into(),
            content: Some(Value::String(system.join("\n\n"))),
            ..ChatMessage::default()
        });
    }
    for message in &request.messages {
        match message.role {
            Role::User => push_user(&mut messages, message),
            Role::Assistant => messages.push(assistant_message(message)),
        }
    }
    ChatRequest {
        model: request.model.clone(),
        messages,
        tools: request
            .tools
            .iter()
            .map(|t| ChatTool {
                kind: "function".into(),
                function: FunctionDefinition {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t.input_schema.clone(),
                },
            })
            .collect(),
        stream: true,
        stream_options: Some(json!({"include_usage": true})),
        max_tokens: Some(request.max_tokens),
    }
}

/// Tool results become `tool` messages (which must directly follow the assistant message); the rest of
/// the user content becomes one `user` message.
fn push_user(out: &mut Vec<ChatMessage>, message: &Message) {
    let blocks = match &message.content {
        MessageContent::Text(text) => {
            out.push(ChatMessage {
                role: "user".into(),
                content: Some(Value::String(text.clone())),
                ..ChatMessage::default()
            });
            return;
        }
        MessageContent::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    for block in blocks {
        match block {
            ContentBlock::ToolResult(result) => {
                let mut text = result
                    .content
                    .as_ref()
                    .map(ToolResultContent::text)
                    .unwrap_or_default();
                if result.is_error == Some(true) {
                    text = format!("Error: {text}");
                }
                out.push(ChatMessage {
                    role: "tool".into(),
                    content: Some(Value::String(text)),
                    tool_call_id: Some(result.tool_use_id.clone()),
                    ..ChatMessage::default()
                });
            }
            ContentBlock::Text(t) => parts.push(json!({"type": "text", "text": t.text})),
            ContentBlock::Image(image) => {
                let source = &image.source;
                let url = match (
                    source.get("media_type").and_then(Value::as_str),
                    source.get("data").and_then(Value::as_str),
                ) {
                    (Some(media), Some(data)) => format!("data:{media};base64,{data}"),
                    _ => source
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return;
    }
    // Plain text as a string: many local servers do not accept content parts.
    let content = if parts.iter().all(|p| p["type"] == "text") {
        Value::String(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    } else {
        Value::Array(parts)
    };
    out.push(ChatMessage {
        role: "user".into(),
        content: Some(content),
        ..ChatMessage::default()
    });
}

fn assistant_message(message: &Message) -> ChatMessage {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content.clone().into_blocks() {
        match block {
            ContentBlock::Text(t) => text.push_str(&t.text),
            ContentBlock::ToolUse(call) => tool_calls.push(ToolCall {
                id: call.id,
                kind: "function".into(),
                function: FunctionCall {
                    name: call.name,
                    arguments: call.input.to_string(),
                },
            }),
            _ => {}
        }
    }
    ChatMessage {
        role: "assistant".into(),
        content: (!text.is_empty()).then_some(Value::String(text)),
        tool_calls,
        tool_call_id: None,
    }
}

/// What kind of block is open at an Anthropic index.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Text,
    Thinking,
}

/// Turns Chat Completions chunks into Anthropic stream events.
#[derive(Debug)]
pub struct ChunkTranslator {
    model: String,
    started: bool,
    finished: bool,
    next_index: usize,
    /// The text or thinking block currently open, if any.
    open_prose: Option<(usize, Open)>,
    /// OpenAI tool-call index → Anthropic block index.
    tools: BTreeMap<usize, usize>,
    saw_finish: Option<String>,
    usage: Usage,
}

impl ChunkTranslator {
    /// A translator for one response.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            started: false,
            finished: false,
            next_index: 0,
            open_prose: None,
            tools: BTreeMap::new(),
            saw_finish: None,
            usage: Usage::default(),
        }
    }

    /// Translates one `data:` payload.
    pub fn accept(&mut self, data: &str) -> Result<Vec<StreamEvent>, ModelError> {
        let mut out = Vec::new();
        if self.finished {
            return Ok(out);
        }
        if data.trim() == "[DONE]" {
            self.finish(&mut out);
            return Ok(out);
        }
        let chunk: ChatChunk = serde_json::from_str(data).map_err(|e| {
            // Some servers report errors inside the stream.
            match serde_json::from_str::<Value>(data) {
                Ok(v) if v.get("error").is_some() => ModelError::Stream {
                    kind: "api_error".into(),
                    message: v["error"]["message"]
                        .as_str()
                        .unwrap_or("error in stream")
                        .to_string(),
                },
                _ => ModelError::Malformed(e.to_string()),
            }
        })?;
        self.start(&chunk, &mut out);
        if let Some(usage) = &chunk.usage {
            self.usage.input_tokens = usage.prompt_tokens;
            self.usage.output_tokens = usage.completion_tokens;
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let delta = &choice.delta;
            if let Some(thinking) = delta
                .reasoning_content
                .as_ref()
                .or(delta.reasoning.as_ref())
            {
                if !thinking.is_empty() {
                    let index = self.prose(Open::Thinking, &mut out);
                    out.push(delta_event(
                        index,
                        Delta::Thinking(ThinkingDelta {
                            thinking: thinking.clone(),
                        }),
                    ));
                }
            }
            if let Some(text) = &delta.content {
                if !text.is_empty() {
                    let index = self.prose(Open::Text, &mut out);
                    out.push(delta_event(
                        index,
                        Delta::Text(TextDelta { text: text.clone() }),
                    ));
                }
            }
            for call in &delta.tool_calls {
                let index = match self.tools.get(&call.index) {
                    Some(&index) => index,
                    None => {
                        self.close_prose(&mut out);
                        let index = self.next_index;
                        self.next_index += 1;
                        self.tools.insert(call.index, index);
                        let name = call
                            .function
                            .as_ref()
                            .and_then(|f| f.name.clone())
                            .unwrap_or_default();
                        let id = call
                            .id
                            .clone()
                            .unwrap_or_else(|| format!("call_{}", uuid::Uuid::new_v4().simple()));
                        out.push(StreamEvent::ContentBlockStart(ContentBlockStart {
                            index,
                            content_block: ContentBlock::ToolUse(ToolUseBlock {
                                id,
                                name,
                                input: json!({}),
                                extra: Map::new(),
                            }),
                        }));
                        index
                    }
                };
                if let Some(args) = call.function.as_ref().and_then(|f| f.arguments.clone()) {
                    if !args.is_empty() {
                        out.push(delta_event(
                            index,
                            Delta::InputJson(InputJsonDelta { partial_json: args }),
                        ));
                    }
                }
            }
            if let Some(reason) = &choice.finish_reason {
                self.saw_finish = Some(reason.clone());
            }
        }
        Ok(out)
    }

    /// The stream ended without `[DONE]`: complete only if the server had already said it finished.
    pub fn finish_at_eof(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.saw_finish.is_some() && !self.finished {
            self.finish(&mut out);
        }
        out
    }

    fn start(&mut self, chunk: &ChatChunk, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let model = if chunk.model.is_empty() {
            self.model.clone()
        } else {
            chunk.model.clone()
        };
        let id = if chunk.id.is_empty() {
            format!("msg_{}", uuid::Uuid::new_v4().simple())
        } else {
            chunk.id.clone()
        };
        out.push(StreamEvent::MessageStart(MessageStart {
            message: AssistantMessage {
                id,
                kind: "message".into(),
                role: Role::Assistant,
                model,
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                usage: Usage::default(),
                extra: Map::new(),
            },
        }));
    }

    /// Index of an open block of `kind`, opening one (and closing another prose block) if needed.
    fn prose(&mut self, kind: Open, out: &mut Vec<StreamEvent>) -> usize {
        if let Some((index, open)) = self.open_prose {
            if open == kind {
                return index;
            }
            self.close_prose(out);
        }
        let index = self.next_index;
        self.next_index += 1;
        let block = match kind {
            Open::Thinking => ContentBlock::Thinking(ThinkingBlock {
                thinking: String::new(),
                signature: String::new(),
                extra: Map::new(),
            }),
            _ => ContentBlock::text(""),
        };
        out.push(StreamEvent::ContentBlockStart(ContentBlockStart {
            index,
            content_block: block,
        }));
        self.open_prose = Some((index, kind));
        index
    }

    fn close_prose(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open_prose.take() {
            out.push(stop_event(index));
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.start(&ChatChunk::default(), out);
        }
        self.finished = true;
        self.close_prose(out);
        for index in self.tools.values() {
            out.push(stop_event(*index));
        }
        let stop_reason = if !self.tools.is_empty() {
            "tool_use"
        } else if self.saw_finish.as_deref() == Some("length") {
            "max_tokens"
        } else {
            "end_turn"
        };
        out.push(StreamEvent::MessageDelta(MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some(stop_reason.into()),
                stop_sequence: None,
            },
            usage: serde_json::to_value(&self.usage).unwrap_or(Value::Null),
        }));
        out.push(StreamEvent::MessageStop(Empty::default()));
    }
}

fn delta_event(index: usize, delta: Delta) -> StreamEvent {
    StreamEvent::ContentBlockDelta(ContentBlockDelta { index, delta })
}

fn stop_event(index: usize) -> StreamEvent {
    StreamEvent::ContentBlockStop(ContentBlockStop {
        index,
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> Vec<StreamEvent> {
        let mut t = ChunkTranslator::new("m");
        chunks
            .iter()
            .flat_map(|c| t.accept(c).expect("chunk"))
            .collect()
    }

    #[test]
    fn tool_calls_assemble_by_index_even_with_finish_reason_stop() {
        let events = run(&[
            r#"{"id":"c1","model":"qwen","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Let me look."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"Bash","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"command\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"ls\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#,
            "[DONE]",
        ]);
        let tags: Vec<_> = events.iter().map(|e| e.tag().unwrap_or("?")).collect();
        assert_eq!(
            tags,
            vec![
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let StreamEvent::MessageDelta(delta) = &events[8] else {
            panic!()
        };
        assert_eq!(delta.delta.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!(delta.usage["input_tokens"], 10);
    }

    #[test]
    fn history_translation_puts_tool_results_in_tool_messages() {
        let request: MessagesRequest = serde_json::from_value(json!({
            "model": "m", "max_tokens": 10,
            "system": [{"type":"text","text":"be brief"}],
            "messages": [
                {"role":"user","content":"hi"},
                {"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"a.txt"}]}
            ]
        }))
        .unwrap();
        let chat = to_chat_request(&request);
        let roles: Vec<_> = chat.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, vec!["system", "user", "assistant", "tool"]);
        assert_eq!(
            chat.messages[2].tool_calls[0].function.arguments,
            r#"{"command":"ls"}"#
        );
        assert_eq!(chat.messages[3].tool_call_id.as_deref(), Some("t1"));
    }
}
