//! Context management: when the conversation nears the model's context window, older turns are
//! summarised by the model and replaced by the summary, instead of failing the request.

use serde_json::{json, Map};
use tokio_util::sync::CancellationToken;
use workroom_protocol::anthropic::{
    ContentBlock, Delta, Message, MessageContent, MessagesRequest, Role, StreamEvent, SystemBlock,
};

use crate::model::{pricing, ModelError};
use crate::session::{frames, Session};

/// Compact when the context holds more than this share of the window.
const THRESHOLD: f64 = 0.8;

const INSTRUCTION: &str = "Summarise the conversation so far so that the work can continue from the \
summary alone: the user's requests and intent, decisions made, files read or changed (with paths), \
commands run and their outcomes, errors met, and what remains to do. Be complete but concise. Reply with \
the summary only.";

/// Compacts `history` if it is too large for the model's window.
pub async fn maybe_compact(
    s: &Session,
    history: &mut Vec<Message>,
    cancel: &CancellationToken,
) -> Result<(), ModelError> {
    let model = s.model();
    let used = s
        .totals
        .lock()
        .map(|t| t.context_tokens)
        .unwrap_or_default()
        .max(estimate_tokens(history));
    let window = pricing::context_window(&model);
    if (used as f64) < window as f64 * THRESHOLD {
        return Ok(());
    }
    // Keep the open exchange (a tool call and its results) so tool_use/tool_result pairs stay intact.
    let keep = match history.last() {
        Some(m) if m.role == Role::User && has_tool_result(m) => 2,
        Some(_) => 1,
        None => return Ok(()),
    };
    if history.len() <= keep {
        return Ok(());
    }
    let cut = history.len() - keep;
    s.emit(&frames::system(
        &s.id,
        "status",
        json!({"status": "compacting"}),
    ))
    .await;
    let summary = summarise(s, &history[..cut], &model, cancel).await?;
    let kept: Vec<Message> = history[cut..].to_vec();
    let header = format!(
        "This session is being continued from an earlier conversation that ran out of context. \
         Summary of the earlier part:\n\n{summary}"
    );
    let mut compacted = vec![Message {
        role: Role::User,
        content: MessageContent::Blocks(vec![ContentBlock::text(header)]),
    }];
    for message in kept {
        match compacted.last_mut() {
            Some(last) if last.role == Role::User && message.role == Role::User => {
                let mut blocks =
                    std::mem::replace(&mut last.content, MessageContent::Text(String::new()))
                        .into_blocks();
                blocks.extend(message.content.into_blocks());
                last.content = MessageContent::Blocks(blocks);
            }
            _ => compacted.push(message),
        }
    }
    *history = compacted;
    s.transcript.compacted(history).await;
    if let Ok(mut totals) = s.totals.lock() {
        totals.context_tokens = estimate_tokens(history);
    }
    s.emit(&frames::system(
        &s.id,
        "compact_boundary",
        json!({"compact_metadata": {"trigger": "auto", "pre_tokens": used}}),
    ))
    .await;
    s.emit(&frames::system(&s.id, "status", json!({"status": null})))
        .await;
    Ok(())
}

fn has_tool_result(m: &Message) -> bool {
    matches!(&m.content, MessageContent::Blocks(b) if b.iter().any(|b| matches!(b, ContentBlock::ToolResult(_))))
}

/// About four characters per token.
fn estimate_tokens(history: &[Message]) -> u64 {
    history
        .iter()
        .map(|m| serde_json::to_string(m).map(|s| s.len()).unwrap_or(0) as u64 / 4)
        .sum()
}

async fn summarise(
    s: &Session,
    older: &[Message],
    model: &str,
    cancel: &CancellationToken,
) -> Result<String, ModelError> {
    let mut messages = older.to_vec();
    let instruction = ContentBlock::text(INSTRUCTION);
    match messages.last_mut() {
        Some(last) if last.role == Role::User => {
            let mut blocks =
                std::mem::replace(&mut last.content, MessageContent::Text(String::new()))
                    .into_blocks();
            blocks.push(instruction);
            last.content = MessageContent::Blocks(blocks);
        }
        _ => messages.push(Message {
            role: Role::User,
            content: MessageContent::Blocks(vec![instruction]),
        }),
    }
    let request = MessagesRequest {
        model: model.to_string(),
        max_tokens: 8192.min(s.config.max_tokens),
        messages,
        system: vec![SystemBlock {
            kind: "text".into(),
            text: "You write faithful, compact summaries of agent sessions.".into(),
            cache_control: None,
        }],
        // The history may contain tool calls; the tool list must still be declared to the API.
        tools: crate::turn::all_tools(s).await,
        stream: true,
        thinking: None,
        extra: Map::new(),
    };
    let mut stream = s.client.stream(&request).await?;
    let mut text = String::new();
    loop {
        let event = tokio::select! {
            e = stream.next() => e,
            _ = cancel.cancelled() => return Err(ModelError::Connection("interrupted".into())),
        };
        match event {
            None => break,
            Some(Err(e)) => return Err(e),
            Some(Ok(StreamEvent::ContentBlockDelta(d))) => {
                if let Delta::Text(t) = d.delta {
                    text.push_str(&t.text);
                }
            }
            Some(Ok(_)) => {}
        }
    }
    if text.trim().is_empty() {
        return Err(ModelError::Malformed("the summary was empty".into()));
    }
    Ok(text)
}
