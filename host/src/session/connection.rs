//! The stream-json connection to one agent session in the guest.
//!
//! A reader task decodes the agent's frames with the line limit and queues them (so the runtime can
//! `select!` on them without losing partial reads); the writer is shared behind a lock.

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use workroom_protocol::ndjson::{self, LineDecoder};

/// What the reader delivers.
#[derive(Debug)]
pub enum Incoming {
    /// A frame.
    Frame(Value),
    /// A line that was not a frame (skipped).
    Malformed(String),
}

/// A live agent connection. Dropping it closes the agent's input and stops the reader.
pub struct AgentConnection {
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    frames: mpsc::UnboundedReceiver<Incoming>,
    reader: JoinHandle<()>,
}

impl Drop for AgentConnection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl AgentConnection {
    /// Wraps a routed session stream; `leftover` are bytes already read past its hello.
    pub fn new<S>(stream: S, leftover: Vec<u8>) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let (tx, frames) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_frames(read, leftover, tx));
        Self {
            writer: Box::new(write),
            frames,
            reader,
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &Value) -> std::io::Result<()> {
        let line = ndjson::encode(frame).map_err(std::io::Error::other)?;
        self.writer.write_all(line.as_bytes()).await?;
        self.writer.flush().await
    }

    /// The next frame; `None` once the agent's output ended.
    pub async fn next(&mut self) -> Option<Incoming> {
        self.frames.recv().await
    }

    /// Ends the agent's input (it finishes queued turns and exits).
    pub async fn close_input(&mut self) {
        let _ = self.writer.shutdown().await;
    }
}

async fn read_frames(
    mut read: impl AsyncRead + Unpin,
    leftover: Vec<u8>,
    tx: mpsc::UnboundedSender<Incoming>,
) {
    let mut decoder = LineDecoder::default();
    decoder.feed(&leftover);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(line) = decoder.next_line() {
            let item = match line {
                Ok(line) => match serde_json::from_str::<Value>(&line) {
                    Ok(v) if v.is_object() => Incoming::Frame(v),
                    Ok(_) => Incoming::Malformed("a line that is not a JSON object".into()),
                    Err(e) => Incoming::Malformed(e.to_string()),
                },
                Err(e) => Incoming::Malformed(e.to_string()),
            };
            if tx.send(item).is_err() {
                return;
            }
        }
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => decoder.feed(&buf[..n]),
        }
    }
    if let Some(Ok(line)) = decoder.finish() {
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            let _ = tx.send(Incoming::Frame(v));
        }
    }
}
