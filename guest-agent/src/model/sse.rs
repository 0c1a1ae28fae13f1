//! Server-sent events: turns a byte stream into `(event, data)` pairs.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (empty when absent).
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE parser (the WHATWG rules that matter for model APIs).
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes; returns every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    out.push(event);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_ref(), ""),
            };
            match field {
                "event" => self.event = value.to_string(),
                "data" => self.data.push(value.to_string()),
                _ => {}
            }
        }
        out
    }

    /// At end of stream: an event whose terminating blank line never came.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.dispatch()
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_reads() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: ping\r\ndata: {\"type\":").is_empty());
        let got = p.feed(b"\"ping\"}\r\n\r\n: comment\n\ndata: a\ndata: b\n\n");
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: "ping".into(),
                    data: "{\"type\":\"ping\"}".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "a\nb".into()
                }
            ]
        );
        p.feed(b"data: [DONE]");
        assert!(p.feed(b"").is_empty());
        p.feed(b"\n");
        assert_eq!(p.finish().map(|e| e.data), Some("[DONE]".into()));
    }
}
