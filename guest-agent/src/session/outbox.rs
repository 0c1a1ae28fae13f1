//! The one writer of the session's output: NDJSON lines, each flushed, each under the line limit.

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use workroom_protocol::ndjson::{self, MAX_LINE_BYTES};

/// Serialises frames onto the output stream in the order they are sent.
pub struct Outbox {
    out: Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

impl Outbox {
    /// An outbox writing to `out`.
    pub fn new(out: impl AsyncWrite + Send + Unpin + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(out)),
        }
    }

    /// Writes one frame as one line. A frame over the limit has its longest strings cut until it fits:
    /// a shortened frame is better than a line the client must reject. Write errors (the client went
    /// away) are logged; the session notices through its input closing.
    pub async fn send<T: Serialize>(&self, frame: &T) {
        let line = match ndjson::encode(frame) {
            Ok(line) => line,
            Err(ndjson::FrameError::EncodedTooLong { .. }) => match serde_json::to_value(frame) {
                Ok(value) => fit(value),
                Err(e) => {
                    tracing::error!(error = %e, "frame could not be serialised");
                    return;
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "frame could not be serialised");
                return;
            }
        };
        let mut out = self.out.lock().await;
        let result = async {
            out.write_all(line.as_bytes()).await?;
            out.flush().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not write to the client");
        }
    }
}

/// Marker appended where text was cut.
const CUT_MARKER: &str = "\n... [truncated to fit the 1 MiB line limit]";

/// Halves the longest string in `value` until its encoding fits in one line.
fn fit(mut value: Value) -> String {
    loop {
        if let Ok(line) = ndjson::encode(&value) {
            return line;
        }
        let Some(longest) = longest_string(&mut value) else {
            // Nothing left to cut (a huge structure of tiny strings): say so instead.
            return ndjson::encode(&serde_json::json!({
                "type": "system",
                "subtype": "error",
                "error": "a frame exceeded the 1 MiB line limit and was dropped"
            }))
            .unwrap_or_default();
        };
        let keep = (longest.len() / 2).min(MAX_LINE_BYTES / 2);
        let mut cut = keep;
        while !longest.is_char_boundary(cut) {
            cut -= 1;
        }
        longest.truncate(cut);
        longest.push_str(CUT_MARKER);
    }
}

fn longest_string(value: &mut Value) -> Option<&mut String> {
    match value {
        Value::String(s) if s.len() > CUT_MARKER.len() * 2 => Some(s),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        Value::Object(map) => map
            .values_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oversized_frames_are_cut_to_fit() {
        let big = "é".repeat(MAX_LINE_BYTES);
        let line = fit(json!({"type": "user", "a": big, "b": "small"}));
        assert!(line.len() <= MAX_LINE_BYTES);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(v["a"].as_str().unwrap().ends_with("limit]"));
        assert_eq!(v["b"], "small");
    }
}
