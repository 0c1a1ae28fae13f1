//! Turns a scripted [`Reply`] into one concrete message: ids, signatures and token counts filled in.
//!
//! Both wire renderings (Anthropic SSE and OpenAI chunks) start from the same resolved message, so a
//! step means the same thing whichever endpoint the client uses.

use serde_json::Value;

use crate::ids;
use crate::script::{Block, Reply};

/// What the renderers need to know about the request being answered.
pub(crate) struct RequestInfo {
    /// The request's `model` (echoed back unless the step overrides it).
    pub model: String,
    /// Raw body size, the basis of the input token estimate.
    pub body_len: usize,
}

/// Token counts as reported to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

/// A content block with every generated field decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResolvedBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
}

/// One assistant message, ready to render.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub id: String,
    pub model: String,
    pub content: Vec<ResolvedBlock>,
    pub stop_reason: String,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    pub openai_finish_reason: Option<String>,
    pub text_chunk: usize,
}

/// Rough token estimate: the usual "4 characters per token", never 0 so that clients that divide
/// or assert "> 0" behave as with the real service.
fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars / 4).unwrap_or(u64::MAX).max(1)
}

/// Estimated input tokens for a request body (also used by `count_tokens`).
pub(crate) fn estimate_input_tokens(body_len: usize) -> u64 {
    estimate_tokens(body_len)
}

pub(crate) fn resolve(reply: &Reply, request: &RequestInfo, default_text_chunk: usize) -> Resolved {
    let content: Vec<ResolvedBlock> = reply
        .content
        .iter()
        .map(|block| match block {
            Block::Text { text } => ResolvedBlock::Text { text: text.clone() },
            Block::ToolUse { id, name, input } => ResolvedBlock::ToolUse {
                id: id.clone().unwrap_or_else(ids::tool_use_id),
                name: name.clone(),
                input: input.clone(),
            },
            Block::Thinking {
                thinking,
                signature,
            } => ResolvedBlock::Thinking {
                thinking: thinking.clone(),
                signature: signature.clone().unwrap_or_else(ids::thinking_signature),
            },
            Block::RedactedThinking { data } => {
                ResolvedBlock::RedactedThinking { data: data.clone() }
            }
        })
        .collect();

    let content_chars: usize = content
        .iter()
        .map(|block| match block {
            ResolvedBlock::Text { text } => text.chars().count(),
            ResolvedBlock::ToolUse { name, input, .. } => name.len() + input.to_string().len(),
            ResolvedBlock::Thinking { thinking, .. } => thinking.chars().count(),
            ResolvedBlock::RedactedThinking { data } => data.len(),
        })
        .sum();

    let spec = reply.usage.clone().unwrap_or_default();
    let usage = Usage {
        input_tokens: spec
            .input_tokens
            .unwrap_or_else(|| estimate_input_tokens(request.body_len)),
        output_tokens: spec
            .output_tokens
            .unwrap_or_else(|| estimate_tokens(content_chars)),
        cache_read_input_tokens: spec.cache_read_input_tokens.unwrap_or(0),
        cache_creation_input_tokens: spec.cache_creation_input_tokens.unwrap_or(0),
    };

    Resolved {
        id: ids::message_id(),
        model: reply.model.clone().unwrap_or_else(|| request.model.clone()),
        stop_reason: reply.effective_stop_reason().to_owned(),
        stop_sequence: reply.stop_sequence.clone(),
        content,
        usage,
        openai_finish_reason: reply.openai_finish_reason.clone(),
        text_chunk: reply.text_chunk.unwrap_or(default_text_chunk),
    }
}

/// Splits `text` into pieces of at most `size` characters (never inside a UTF-8 sequence).
pub(crate) fn chunks(text: &str, size: usize) -> Vec<&str> {
    let size = size.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (pos, _) in text.char_indices() {
        if count == size {
            out.push(&text[start..pos]);
            start = pos;
            count = 0;
        }
        count += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_char_boundaries() {
        assert_eq!(chunks("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(chunks("héllo wörld", 4), vec!["héll", "o wö", "rld"]);
        assert_eq!(chunks("", 4), Vec::<&str>::new());
        assert_eq!(chunks("abc", 3), vec!["abc"]);
    }
}
