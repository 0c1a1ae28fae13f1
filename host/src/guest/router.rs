//! Session connections arrive on one vsock port; each starts with a `session_hello` naming its session.
//! The router reads that line and hands the stream to whoever is waiting for that session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;
use workroom_protocol::vm::SessionHello;

/// A session connection whose hello has been consumed; bytes after it are stream-json.
pub struct SessionStream<S> {
    /// The connection.
    pub stream: S,
    /// Bytes read past the hello line (the start of the stream-json data).
    pub leftover: Vec<u8>,
}

/// Waiters by session id.
pub struct SessionRouter<S> {
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<SessionStream<S>>>>>,
}

impl<S> Clone for SessionRouter<S> {
    fn clone(&self) -> Self {
        Self {
            waiting: self.waiting.clone(),
        }
    }
}

impl<S> Default for SessionRouter<S> {
    fn default() -> Self {
        Self {
            waiting: Arc::default(),
        }
    }
}

/// The longest hello line we accept.
const MAX_HELLO: usize = 4096;

impl<S: AsyncRead + Unpin + Send + 'static> SessionRouter<S> {
    /// Registers interest in `session_id`'s connection (call before asking the guest to open it).
    pub fn expect(&self, session_id: &str) -> oneshot::Receiver<SessionStream<S>> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(session_id.to_string(), tx);
        }
        rx
    }

    /// Reads a new connection's hello and routes it; connections nobody expects are dropped.
    pub async fn route(&self, mut stream: S) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                    return Some(pos);
                }
                if buf.len() > MAX_HELLO {
                    return None;
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        let Ok(Some(pos)) = read else {
            tracing::warn!("session connection without a hello dropped");
            return;
        };
        let hello: SessionHello = match serde_json::from_slice(&buf[..pos]) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "session connection with a malformed hello dropped");
                return;
            }
        };
        let waiter = self
            .waiting
            .lock()
            .ok()
            .and_then(|mut w| w.remove(&hello.session_id));
        match waiter {
            Some(tx) => {
                let leftover = buf[pos + 1..].to_vec();
                let _ = tx.send(SessionStream { stream, leftover });
            }
            None => {
                tracing::warn!(session = %hello.session_id, "connection for a session nobody expects dropped")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn routes_by_session_id_and_keeps_the_bytes_after_the_hello() {
        let router = SessionRouter::default();
        let waiting = router.expect("s1");
        let (mut guest, host) = tokio::io::duplex(4096);
        guest
            .write_all(b"{\"type\":\"session_hello\",\"session_id\":\"s1\"}\n{\"type\":\"system\"}")
            .await
            .unwrap();
        router.route(host).await;
        let routed = waiting.await.unwrap();
        assert_eq!(routed.leftover, b"{\"type\":\"system\"}");
    }

    #[tokio::test]
    async fn strangers_and_garbage_are_dropped() {
        let router = SessionRouter::default();
        let mut waiting = router.expect("mine");
        let (mut guest, host) = tokio::io::duplex(4096);
        guest
            .write_all(b"{\"type\":\"session_hello\",\"session_id\":\"other\"}\n")
            .await
            .unwrap();
        router.route(host).await;
        let (mut guest2, host2) = tokio::io::duplex(4096);
        guest2.write_all(b"garbage\n").await.unwrap();
        router.route(host2).await;
        assert!(waiting.try_recv().is_err());
    }
}
