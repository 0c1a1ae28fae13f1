//! The conversation on disk, so `--resume <id>` and `--continue` pick it up again.
//!
//! One JSON line per entry: a message appended to the history, or a compaction that replaced it.
//! A damaged line is skipped with a warning; it never stops a resume.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use workroom_protocol::anthropic::{Message, MessageContent};

/// One line of a transcript.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Entry {
    /// A message appended to the history.
    Message { message: Message },
    /// The history was compacted into these messages.
    Compacted { messages: Vec<Message> },
}

/// Appends a session's history to `<state_dir>/sessions/<id>.jsonl`.
#[derive(Debug, Clone)]
pub struct Transcript {
    path: Option<PathBuf>,
}

impl Transcript {
    /// A transcript for `session_id` (none when there is no state directory).
    pub fn new(state_dir: Option<&Path>, session_id: &str) -> Self {
        Self {
            path: state_dir.map(|d| d.join("sessions").join(format!("{session_id}.jsonl"))),
        }
    }

    /// Records an appended message.
    pub async fn append(&self, message: &Message) {
        self.write(&Entry::Message {
            message: message.clone(),
        })
        .await;
    }

    /// Records a compaction.
    pub async fn compacted(&self, messages: &[Message]) {
        self.write(&Entry::Compacted {
            messages: messages.to_vec(),
        })
        .await;
    }

    async fn write(&self, entry: &Entry) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let Ok(mut line) = serde_json::to_string(entry) else {
            return;
        };
        line.push('\n');
        // One hop to the blocking pool for the whole append (not one per file operation).
        let result = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            file.write_all(line.as_bytes())?;
            Ok::<_, std::io::Error>(path)
        })
        .await;
        match result {
            Ok(Ok(_)) => {}
            // Losing resumability is bad but must not end the session.
            Ok(Err(e)) => tracing::warn!(error = %e, "could not save the transcript"),
            Err(e) => tracing::warn!(error = %e, "transcript writer failed"),
        }
    }
}

/// Loads the history of `session_id`; `None` when no such session was saved.
pub fn load(state_dir: &Path, session_id: &str) -> Option<Vec<Message>> {
    let path = state_dir
        .join("sessions")
        .join(format!("{session_id}.jsonl"));
    let text = std::fs::read_to_string(&path).ok()?;
    let mut history = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(Entry::Message { message }) => push_merged(&mut history, message),
            Ok(Entry::Compacted { messages }) => history = messages,
            Err(e) => {
                tracing::warn!(path = %path.display(), line = number + 1, error = %e, "skipping a damaged transcript line")
            }
        }
    }
    Some(history)
}

/// Appends `message`, merging it into a trailing message of the same role (the turn loop merges
/// consecutive user content in memory but appends each part to the transcript separately).
fn push_merged(history: &mut Vec<Message>, message: Message) {
    match history.last_mut() {
        Some(last) if last.role == message.role => {
            let mut blocks =
                std::mem::replace(&mut last.content, MessageContent::Blocks(Vec::new()))
                    .into_blocks();
            blocks.extend(message.content.into_blocks());
            last.content = MessageContent::Blocks(blocks);
        }
        _ => history.push(message),
    }
}

/// The most recently written session id, for `--continue`.
pub fn latest(state_dir: &Path) -> Option<String> {
    std::fs::read_dir(state_dir.join("sessions"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max_by_key(|(modified, _)| *modified)
        .and_then(|(_, path)| Some(path.file_stem()?.to_string_lossy().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use workroom_protocol::anthropic::{ContentBlock, Role};

    fn msg(text: &str) -> Message {
        said(Role::User, text)
    }

    fn said(role: Role, text: &str) -> Message {
        Message {
            role,
            content: MessageContent::Text(text.into()),
        }
    }

    #[tokio::test]
    async fn round_trips_and_survives_damage() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transcript::new(Some(dir.path()), "s1");
        t.append(&msg("a")).await;
        t.append(&said(Role::Assistant, "b")).await;
        let path = dir.path().join("sessions/s1.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{broken\n");
        std::fs::write(&path, text).unwrap();
        t.append(&msg("c")).await;
        t.append(&msg("d")).await;
        let history = load(dir.path(), "s1").unwrap();
        // Consecutive user parts come back as one message, as the turn loop holds them.
        let merged = Message {
            role: Role::User,
            content: MessageContent::Blocks(vec![ContentBlock::text("c"), ContentBlock::text("d")]),
        };
        assert_eq!(history, vec![msg("a"), said(Role::Assistant, "b"), merged]);
        t.compacted(&[msg("summary")]).await;
        assert_eq!(load(dir.path(), "s1").unwrap(), vec![msg("summary")]);
        assert_eq!(latest(dir.path()).as_deref(), Some("s1"));
        assert!(load(dir.path(), "nope").is_none());
    }
}
