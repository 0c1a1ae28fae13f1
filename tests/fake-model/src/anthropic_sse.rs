//! The Anthropic Messages API rendering: SSE events, the non-streaming message and error bodies.
//!
//! Field order and presence follow the real service (see the wire-protocol notes, section 6.3), since
//! the point of this crate is that a client which works here works against the real API.

use serde_json::json;

use crate::message::{chunks, Resolved, ResolvedBlock, Usage};
use crate::ordered_json::{obj, Json};

/// One SSE frame: `event: NAME\ndata: JSON\n\n`.
fn frame(event: &str, data: &Json) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn usage_json(usage: &Usage, output_tokens: u64) -> Json {
    obj! {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": output_tokens,
    }
}

/// Every event of a successful stream, in order, from `message_start` to `message_stop`.
pub(crate) fn stream_events(msg: &Resolved) -> Vec<String> {
    let mut out = Vec::new();
    out.push(frame(
        "message_start",
        &obj! {
            "type": "message_start",
            "message": obj! {
                "id": &msg.id,
                "type": "message",
                "role": "assistant",
                "model": &msg.model,
                "content": Vec::<Json>::new(),
                "stop_reason": None::<String>,
                "stop_sequence": None::<String>,
                // The real service reports a token or so here and the final count in
                // message_delta; clients must take the later value.
                "usage": usage_json(&msg.usage, msg.usage.output_tokens.min(1)),
            },
        },
    ));
    out.push(frame("ping", &obj! {"type": "ping"}));

    for (index, block) in msg.content.iter().enumerate() {
        let start = |block: Json| {
            frame(
                "content_block_start",
                &obj! {"type": "content_block_start", "index": index, "content_block": block},
            )
        };
        let delta = |delta: Json| {
            frame(
                "content_block_delta",
                &obj! {"type": "content_block_delta", "index": index, "delta": delta},
            )
        };
        match block {
            ResolvedBlock::Text { text } => {
                out.push(start(obj! {"type": "text", "text": ""}));
                for piece in chunks(text, msg.text_chunk) {
                    out.push(delta(obj! {"type": "text_delta", "text": piece}));
                }
            }
            ResolvedBlock::ToolUse { id, name, input } => {
                out.push(start(
                    obj! {"type": "tool_use", "id": id, "name": name, "input": json!({})},
                ));
                // The real service opens every tool input with an empty fragment, and an input
                // with no properties may get nothing else; clients must cope with both.
                out.push(delta(obj! {"type": "input_json_delta", "partial_json": ""}));
                let is_empty = input.as_object().is_some_and(|o| o.is_empty());
                if !is_empty {
                    let json_text = input.to_string();
                    for piece in chunks(&json_text, msg.text_chunk) {
                        out.push(delta(
                            obj! {"type": "input_json_delta", "partial_json": piece},
                        ));
                    }
                }
            }
            ResolvedBlock::Thinking {
                thinking,
                signature,
            } => {
                out.push(start(
                    obj! {"type": "thinking", "thinking": "", "signature": ""},
                ));
                for piece in chunks(thinking, msg.text_chunk) {
                    out.push(delta(obj! {"type": "thinking_delta", "thinking": piece}));
                }
                // The signature always arrives last, just before content_block_stop.
                out.push(delta(
                    obj! {"type": "signature_delta", "signature": signature},
                ));
            }
            ResolvedBlock::RedactedThinking { data } => {
                out.push(start(obj! {"type": "redacted_thinking", "data": data}));
            }
        }
        out.push(frame(
            "content_block_stop",
            &obj! {"type": "content_block_stop", "index": index},
        ));
    }

    out.push(frame(
        "message_delta",
        &obj! {
            "type": "message_delta",
            "delta": obj! {"stop_reason": &msg.stop_reason, "stop_sequence": msg.stop_sequence.as_deref()},
            "usage": obj! {"output_tokens": msg.usage.output_tokens},
        },
    ));
    out.push(frame("message_stop", &obj! {"type": "message_stop"}));
    out
}

/// The full Message object returned when `stream` is false.
pub(crate) fn message_json(msg: &Resolved) -> Json {
    let content: Vec<Json> = msg
        .content
        .iter()
        .map(|block| match block {
            ResolvedBlock::Text { text } => obj! {"type": "text", "text": text},
            ResolvedBlock::ToolUse { id, name, input } => {
                obj! {"type": "tool_use", "id": id, "name": name, "input": input}
            }
            ResolvedBlock::Thinking {
                thinking,
                signature,
            } => obj! {"type": "thinking", "thinking": thinking, "signature": signature},
            ResolvedBlock::RedactedThinking { data } => {
                obj! {"type": "redacted_thinking", "data": data}
            }
        })
        .collect();
    obj! {
        "id": &msg.id,
        "type": "message",
        "role": "assistant",
        "model": &msg.model,
        "content": content,
        "stop_reason": &msg.stop_reason,
        "stop_sequence": msg.stop_sequence.as_deref(),
        "usage": usage_json(&msg.usage, msg.usage.output_tokens),
    }
}

/// The body of an HTTP error response.
pub(crate) fn error_body(error_type: &str, message: &str, request_id: &str) -> Json {
    obj! {
        "type": "error",
        "error": obj! {"type": error_type, "message": message},
        "request_id": request_id,
    }
}

/// An `event: error` frame sent after a 200 status.
pub(crate) fn error_event(error_type: &str, message: &str) -> String {
    frame(
        "error",
        &obj! {"type": "error", "error": obj! {"type": error_type, "message": message}},
    )
}
