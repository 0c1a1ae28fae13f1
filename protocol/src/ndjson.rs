//! Newline-delimited JSON framing with a hard line limit.
//!
//! The decoder is fed bytes by whatever transport the caller owns (stdin, a vsock stream) and hands back
//! complete lines. A line longer than the limit is reported once and skipped up to its newline, so one bad
//! line never costs the rest of the stream.

use serde::Serialize;
use thiserror::Error;

use crate::Frame;

/// Largest line either side may send (the Claude Agent SDK's default `max_buffer_size`).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A line that could not become a frame.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The line exceeded the limit and was skipped.
    #[error("line of {len} bytes or more exceeds the {max}-byte limit and was skipped")]
    TooLong {
        /// Bytes seen before giving up.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The line is not UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
    /// The line is not a JSON object, or a known frame type has the wrong shape.
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
    /// Encoding produced a line over the limit.
    #[error("encoded frame of {len} bytes exceeds the {max}-byte limit")]
    EncodedTooLong {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already known to hold no newline.
    scanned: usize,
    max: usize,
    /// Inside an oversized line: drop bytes until the next newline.
    skipping: bool,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new(MAX_LINE_BYTES)
    }
}

impl LineDecoder {
    /// A decoder that rejects lines longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            scanned: 0,
            max,
            skipping: false,
        }
    }

    /// Appends bytes read from the transport.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete, non-blank line, if one is buffered.
    pub fn next_line(&mut self) -> Option<Result<String, FrameError>> {
        loop {
            let newline = self.buf[self.scanned..].iter().position(|&b| b == b'\n');
            let Some(offset) = newline else {
                self.scanned = self.buf.len();
                if !self.skipping && self.buf.len() > self.max {
                    let len = self.buf.len();
                    self.skipping = true;
                    self.buf.clear();
                    self.scanned = 0;
                    return Some(Err(FrameError::TooLong { len, max: self.max }));
                }
                if self.skipping {
                    self.buf.clear();
                    self.scanned = 0;
                }
                return None;
            };
            let end = self.scanned + offset;
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            self.scanned = 0;
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if line.len() - 1 > self.max {
                return Some(Err(FrameError::TooLong {
                    len: line.len() - 1,
                    max: self.max,
                }));
            }
            match finish_line(line) {
                Some(result) => return Some(result),
                None => continue,
            }
        }
    }

    /// At end of stream: the last line if it had no trailing newline.
    pub fn finish(&mut self) -> Option<Result<String, FrameError>> {
        let rest = std::mem::take(&mut self.buf);
        self.scanned = 0;
        if std::mem::take(&mut self.skipping) || rest.is_empty() {
            return None;
        }
        if rest.len() > self.max {
            return Some(Err(FrameError::TooLong {
                len: rest.len(),
                max: self.max,
            }));
        }
        finish_line(rest)
    }
}

/// Strips the line ending; blank lines yield `None`.
fn finish_line(mut line: Vec<u8>) -> Option<Result<String, FrameError>> {
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(String::from_utf8(line).map_err(|_| FrameError::NotUtf8))
}

/// Parses one line into a frame. Unknown frame types decode to [`Frame::Other`].
pub fn decode(line: &str) -> Result<Frame, FrameError> {
    Ok(serde_json::from_str(line)?)
}

/// Serialises a value as one line, newline included, refusing to exceed [`MAX_LINE_BYTES`].
pub fn encode<T: Serialize>(value: &T) -> Result<String, FrameError> {
    let mut line = serde_json::to_string(value)?;
    if line.len() + 1 > MAX_LINE_BYTES {
        return Err(FrameError::EncodedTooLong {
            len: line.len() + 1,
            max: MAX_LINE_BYTES,
        });
    }
    line.push('\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(decoder: &mut LineDecoder) -> Vec<Result<String, String>> {
        std::iter::from_fn(|| decoder.next_line())
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn splits_lines_across_reads_and_skips_blank_ones() {
        let mut d = LineDecoder::new(64);
        d.feed(b"{\"a\":1}\r\n\n  \n{\"b\"");
        assert_eq!(lines(&mut d), vec![Ok("{\"a\":1}".to_string())]);
        d.feed(b":2}\n");
        assert_eq!(lines(&mut d), vec![Ok("{\"b\":2}".to_string())]);
        d.feed(b"{\"tail\":true}");
        assert!(d.next_line().is_none());
        assert_eq!(d.finish().unwrap().unwrap(), "{\"tail\":true}");
    }

    #[test]
    fn an_oversized_line_is_reported_once_and_the_next_line_survives() {
        let mut d = LineDecoder::new(8);
        d.feed(b"0123456789");
        let first = lines(&mut d);
        assert_eq!(first.len(), 1);
        assert!(first[0].as_ref().unwrap_err().contains("exceeds"));
        d.feed(b"abcdef\n{}\n");
        assert_eq!(lines(&mut d), vec![Ok("{}".to_string())]);
    }

    #[test]
    fn an_oversized_line_within_one_read_is_rejected() {
        let mut d = LineDecoder::new(4);
        d.feed(b"123456\nok\n");
        let got = lines(&mut d);
        assert!(got[0].is_err());
        assert_eq!(got[1], Ok("ok".to_string()));
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut d = LineDecoder::new(64);
        d.feed(b"\xff\xfe\n");
        assert!(matches!(d.next_line(), Some(Err(FrameError::NotUtf8))));
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(decode("{not json").is_err());
        assert!(decode(r#"{"type":"user"}"#).is_err());
    }

    #[test]
    fn encode_refuses_oversized_frames() {
        let big = "x".repeat(MAX_LINE_BYTES);
        assert!(matches!(
            encode(&serde_json::json!({ "s": big })),
            Err(FrameError::EncodedTooLong { .. })
        ));
        assert_eq!(encode(&serde_json::json!({"a":1})).unwrap(), "{\"a\":1}\n");
    }
}
