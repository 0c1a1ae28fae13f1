//! The guest's serial console: QEMU writes it to its stdout (`-serial chardev:console` with a
//! `stdio` chardev); a task copies it to the console log file and keeps the last bytes in memory, so
//! `console_tail` never touches the disk and the KVM probe sees output the moment it appears.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How much of the console is kept in memory.
const KEEP_BYTES: usize = 64 * 1024;

/// The in-memory end of the console and a count of bytes seen.
#[derive(Debug)]
pub(crate) struct Console {
    tail: Mutex<VecDeque<u8>>,
    seen: watch::Sender<u64>,
}

impl Console {
    pub fn new() -> Arc<Self> {
        Arc::new(Console {
            tail: Mutex::new(VecDeque::new()),
            seen: watch::Sender::new(0),
        })
    }

    /// The last `bytes` bytes, lossily decoded.
    pub fn tail(&self, bytes: usize) -> String {
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = tail.len().saturating_sub(bytes);
        let kept: Vec<u8> = tail.iter().skip(skip).copied().collect();
        String::from_utf8_lossy(&kept).into_owned()
    }

    /// Bytes written by the guest so far; changes whenever output arrives.
    pub fn seen(&self) -> watch::Receiver<u64> {
        self.seen.subscribe()
    }

    fn push(&self, bytes: &[u8]) {
        let mut tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        tail.extend(bytes);
        let excess = tail.len().saturating_sub(KEEP_BYTES);
        tail.drain(..excess);
        drop(tail);
        self.seen.send_modify(|n| *n += bytes.len() as u64);
    }

    /// Copies `source` (QEMU's stdout) into `log_path` (truncated) and memory until end of stream.
    /// The task ends by itself when QEMU exits (its stdout closes); the VM handle also holds the
    /// returned handle and aborts it on drop.
    pub async fn start_copy<R>(
        self: &Arc<Self>,
        mut source: R,
        log_path: &Path,
    ) -> std::io::Result<JoinHandle<()>>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let mut log = tokio::fs::File::create(log_path).await?;
        let console = Arc::clone(self);
        let path = log_path.to_path_buf();
        Ok(tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut log_ok = true;
            loop {
                let n = match source.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(error) => {
                        tracing::warn!(%error, "reading the guest console failed");
                        break;
                    }
                };
                console.push(&buf[..n]);
                if log_ok {
                    if let Err(error) = log.write_all(&buf[..n]).await {
                        tracing::warn!(%error, path = %path.display(), "writing the console log failed");
                        log_ok = false;
                    }
                }
            }
            let _ = log.flush().await;
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_to_file_and_keeps_a_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        let console = Console::new();
        let mut seen = console.seen();
        let (mut writer, reader) = tokio::io::duplex(64);
        let task = console.start_copy(reader, &log).await.unwrap();
        writer.write_all(b"Linux version 6.1\n").await.unwrap();
        seen.changed().await.unwrap();
        writer.write_all(b"init started\n").await.unwrap();
        drop(writer);
        task.await.unwrap();
        assert_eq!(console.tail(13), "init started\n");
        assert_eq!(*console.seen().borrow(), 31);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "Linux version 6.1\ninit started\n"
        );
    }

    #[test]
    fn tail_is_bounded() {
        let console = Console::new();
        console.push(&vec![b'a'; KEEP_BYTES]);
        console.push(b"end");
        assert_eq!(console.tail(usize::MAX).len(), KEEP_BYTES);
        assert!(console.tail(usize::MAX).ends_with("aend"));
    }
}
