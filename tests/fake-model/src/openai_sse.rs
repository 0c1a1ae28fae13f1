//! The OpenAI Chat Completions rendering of a resolved message: stream chunks, the non-streaming
//! completion and error bodies.
//!
//! Shapes follow `openai` 3.57 `ChatCompletionChunk` and what vLLM / llama.cpp / Ollama send,
//! including the non-standard `reasoning_content` delta for thinking.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::ids;
use crate::message::{chunks, Resolved, ResolvedBlock, Usage};
use crate::ordered_json::{obj, Json};

fn frame(data: &Json) -> String {
    format!("data: {data}\n\n")
}

const DONE: &str = "data: [DONE]\n\n";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn finish_reason(msg: &Resolved) -> String {
    if let Some(reason) = &msg.openai_finish_reason {
        return reason.clone();
    }
    match msg.stop_reason.as_str() {
        "tool_use" => "tool_calls",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "refusal" => "content_filter",
        _ => "stop",
    }
    .to_owned()
}

fn usage_json(usage: &Usage) -> Json {
    // OpenAI counts cached prompt tokens inside prompt_tokens.
    let prompt =
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    let mut value = obj! {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
    };
    if usage.cache_read_input_tokens > 0 {
        value.set(
            "prompt_tokens_details",
            obj! {"cached_tokens": usage.cache_read_input_tokens},
        );
    }
    value
}

/// Every `data:` frame of a successful stream, ending with `data: [DONE]`.
pub(crate) fn stream_chunks(msg: &Resolved, include_usage: bool) -> Vec<String> {
    let id = ids::chat_completion_id();
    let created = now_secs();
    let chunk = |delta: Json, finish: Option<&str>| {
        frame(&obj! {
            "id": &id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": &msg.model,
            "choices": vec![obj! {"index": 0u64, "delta": delta, "finish_reason": finish}],
        })
    };

    let mut out = vec![chunk(obj! {"role": "assistant", "content": ""}, None)];
    let mut tool_index = 0usize;
    for block in &msg.content {
        match block {
            ResolvedBlock::Text { text } => {
                for piece in chunks(text, msg.text_chunk) {
                    out.push(chunk(obj! {"content": piece}, None));
                }
            }
            ResolvedBlock::Thinking { thinking, .. } => {
                for piece in chunks(thinking, msg.text_chunk) {
                    out.push(chunk(obj! {"reasoning_content": piece}, None));
                }
            }
            // No OpenAI-compatible server has an equivalent; the block is simply not shown.
            ResolvedBlock::RedactedThinking { .. } => {}
            ResolvedBlock::ToolUse { name, input, .. } => {
                // id, type and name only ever appear in a call's first fragment.
                out.push(chunk(
                    obj! {"tool_calls": vec![obj! {
                        "index": tool_index,
                        "id": ids::tool_call_id(),
                        "type": "function",
                        "function": obj! {"name": name, "arguments": ""},
                    }]},
                    None,
                ));
                let arguments = input.to_string();
                for piece in chunks(&arguments, msg.text_chunk) {
                    out.push(chunk(
                        obj! {"tool_calls": vec![obj! {
                            "index": tool_index,
                            "function": obj! {"arguments": piece},
                        }]},
                        None,
                    ));
                }
                tool_index += 1;
            }
        }
    }
    out.push(chunk(obj! {}, Some(&finish_reason(msg))));
    if include_usage {
        out.push(frame(&obj! {
            "id": &id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": &msg.model,
            "choices": Vec::<Json>::new(),
            "usage": usage_json(&msg.usage),
        }));
    }
    out.push(DONE.to_owned());
    out
}

/// The complete `chat.completion` object returned when `stream` is false.
pub(crate) fn completion_json(msg: &Resolved) -> Json {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in &msg.content {
        match block {
            ResolvedBlock::Text { text: t } => text.push_str(t),
            ResolvedBlock::Thinking { thinking, .. } => reasoning.push_str(thinking),
            ResolvedBlock::RedactedThinking { .. } => {}
            ResolvedBlock::ToolUse { name, input, .. } => tool_calls.push(obj! {
                "id": ids::tool_call_id(),
                "type": "function",
                "function": obj! {"name": name, "arguments": input.to_string()},
            }),
        }
    }
    // Like the real service: no text alongside tool calls is `null`, not "".
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    let mut message = obj! {"role": "assistant", "content": content};
    if !reasoning.is_empty() {
        message.set("reasoning_content", reasoning);
    }
    if !tool_calls.is_empty() {
        message.set("tool_calls", tool_calls);
    }
    obj! {
        "id": ids::chat_completion_id(),
        "object": "chat.completion",
        "created": now_secs(),
        "model": &msg.model,
        "choices": vec![obj! {"index": 0u64, "message": message, "finish_reason": finish_reason(msg)}],
        "usage": usage_json(&msg.usage),
    }
}

/// OpenAI's error body, used both for HTTP errors and for in-stream errors.
pub(crate) fn error_body(message: &str, error_type: &str, code: Option<&str>) -> Json {
    obj! {
        "error": obj! {"message": message, "type": error_type, "param": None::<String>, "code": code},
    }
}

/// An in-stream error: the `openai` SDK raises on a data frame whose object has an `error` key.
pub(crate) fn error_frame(message: &str, error_type: &str) -> String {
    frame(&error_body(message, error_type, None))
}
