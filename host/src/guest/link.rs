//! The supervisor channel, host side: hello, requests with ids, and guest events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use workroom_protocol::ndjson::{self, LineDecoder};
use workroom_protocol::vm::{
    GuestEvent, Hello, HostRequest, MountRequest, OpenSession, Ping, Reply, SessionEnded, Shutdown,
    StatsRequest,
};

/// Why a call to the guest failed.
#[derive(Debug, Error)]
pub enum GuestError {
    /// The guest did not say hello in time.
    #[error("the VM did not finish starting within {0:?}")]
    NoHello(Duration),
    /// The first frame was not a hello.
    #[error("the VM sent {0} instead of a hello")]
    BadHello(String),
    /// The channel closed (the VM stopped or crashed).
    #[error("the connection to the VM was lost")]
    Disconnected,
    /// No answer in time.
    #[error("the VM did not answer {what} within {after:?}")]
    Timeout {
        /// The request.
        what: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// The guest answered with an error.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing the channel failed.
    #[error("the connection to the VM failed: {0}")]
    Io(#[from] std::io::Error),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Reply>>>>;

/// A live supervisor channel. Dropping it stops the reader task.
pub struct GuestLink {
    writer: tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
    pending: Pending,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
    /// How many malformed frames the guest sent (they are skipped).
    pub malformed: Arc<AtomicU64>,
}

impl std::fmt::Debug for GuestLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestLink").finish_non_exhaustive()
    }
}

impl Drop for GuestLink {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Default time to wait for an answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

impl GuestLink {
    /// Waits for the guest's hello on a fresh supervisor connection, then serves the channel.
    /// Session exits arrive on the returned receiver.
    pub async fn handshake<S>(
        stream: S,
        timeout: Duration,
    ) -> Result<(GuestLink, Hello, mpsc::UnboundedReceiver<SessionEnded>), GuestError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut read, write) = tokio::io::split(stream);
        let mut decoder = LineDecoder::default();
        let deadline = Instant::now() + timeout;
        let hello = loop {
            let line = read_line(&mut read, &mut decoder, deadline)
                .await?
                .ok_or(GuestError::NoHello(timeout))?;
            match serde_json::from_str::<GuestEvent>(&line) {
                Ok(GuestEvent::Hello(hello)) => break hello,
                Ok(other) => {
                    return Err(GuestError::BadHello(other.tag().unwrap_or("?").to_string()))
                }
                Err(e) => tracing::warn!(error = %e, "malformed frame before hello skipped"),
            }
        };
        let pending: Pending = Arc::default();
        let malformed = Arc::new(AtomicU64::new(0));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_events(
            read,
            decoder,
            pending.clone(),
            events_tx,
            malformed.clone(),
        ));
        Ok((
            GuestLink {
                writer: tokio::sync::Mutex::new(Box::new(write)),
                pending,
                next_id: AtomicU64::new(1),
                reader,
                malformed,
            },
            hello,
            events_rx,
        ))
    }

    /// Round-trip time of a ping.
    pub async fn ping(&self) -> Result<Duration, GuestError> {
        let started = Instant::now();
        let id = self.id();
        self.call(
            "ping",
            HostRequest::Ping(Ping { id: id.clone() }),
            id,
            REQUEST_TIMEOUT,
        )
        .await?;
        Ok(started.elapsed())
    }

    /// Mounts share `tag` at `path` in the guest.
    pub async fn mount(&self, tag: &str, path: &str) -> Result<(), GuestError> {
        let id = self.id();
        let request = HostRequest::Mount(MountRequest {
            id: id.clone(),
            tag: tag.into(),
            path: path.into(),
        });
        self.call("mount", request, id, REQUEST_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// Starts a session process in the guest; it will dial the session port. Returns its pid.
    pub async fn open_session(
        &self,
        session_id: &str,
        cwd: &str,
        args: Vec<String>,
        env: Map<String, Value>,
    ) -> Result<u32, GuestError> {
        let id = self.id();
        let request = HostRequest::OpenSession(OpenSession {
            id: id.clone(),
            session_id: session_id.into(),
            cwd: cwd.into(),
            args,
            env,
        });
        let reply = self
            .call("open_session", request, id, REQUEST_TIMEOUT)
            .await?;
        Ok(reply.data.get("pid").and_then(Value::as_u64).unwrap_or(0) as u32)
    }

    /// Memory, load and session count.
    pub async fn stats(&self) -> Result<Map<String, Value>, GuestError> {
        let id = self.id();
        let reply = self
            .call(
                "stats",
                HostRequest::Stats(StatsRequest { id: id.clone() }),
                id,
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(reply.data)
    }

    /// Asks the guest to sync and power off; returns once it acknowledged (the VM then exits).
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), GuestError> {
        let id = self.id();
        self.call(
            "shutdown",
            HostRequest::Shutdown(Shutdown { id: id.clone() }),
            id,
            timeout,
        )
        .await
        .map(|_| ())
    }

    fn id(&self) -> String {
        self.next_id.fetch_add(1, Ordering::Relaxed).to_string()
    }

    async fn call(
        &self,
        what: &'static str,
        request: HostRequest,
        id: String,
        timeout: Duration,
    ) -> Result<Reply, GuestError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(id.clone(), tx);
        }
        let line = ndjson::encode(&request).map_err(std::io::Error::other)?;
        {
            let mut writer = self.writer.lock().await;
            writer.write_all(line.as_bytes()).await?;
            writer.flush().await?;
        }
        let reply = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => return Err(GuestError::Disconnected),
            Err(_) => {
                if let Ok(mut pending) = self.pending.lock() {
                    pending.remove(&id);
                }
                return Err(GuestError::Timeout {
                    what,
                    after: timeout,
                });
            }
        };
        match reply.error.clone() {
            Some(error) => Err(GuestError::Refused(error)),
            None => Ok(reply),
        }
    }
}

async fn read_line(
    read: &mut (impl AsyncRead + Unpin),
    decoder: &mut LineDecoder,
    deadline: Instant,
) -> Result<Option<String>, GuestError> {
    let mut buf = [0u8; 8192];
    loop {
        match decoder.next_line() {
            Some(Ok(line)) => return Ok(Some(line)),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "bad line from the guest skipped");
                continue;
            }
            None => {}
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let n = match tokio::time::timeout(remaining, read.read(&mut buf)).await {
            Ok(result) => result?,
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return Err(GuestError::Disconnected);
        }
        decoder.feed(&buf[..n]);
    }
}

async fn read_events(
    mut read: impl AsyncRead + Unpin,
    mut decoder: LineDecoder,
    pending: Pending,
    events: mpsc::UnboundedSender<SessionEnded>,
    malformed: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(line) = decoder.next_line() {
            let event = line.and_then(|l| Ok(serde_json::from_str::<GuestEvent>(&l)?));
            match event {
                Ok(GuestEvent::Reply(reply)) => {
                    let waiter = pending.lock().ok().and_then(|mut p| p.remove(&reply.id));
                    match waiter {
                        Some(tx) => {
                            let _ = tx.send(reply);
                        }
                        None => tracing::debug!(id = %reply.id, "reply to no pending request"),
                    }
                }
                Ok(GuestEvent::SessionEnded(ended)) => {
                    let _ = events.send(ended);
                }
                Ok(other) => {
                    tracing::debug!(kind = other.tag().unwrap_or("?"), "guest event ignored")
                }
                Err(e) => {
                    malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "malformed frame from the guest skipped");
                }
            }
        }
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => decoder.feed(&buf[..n]),
        }
    }
    // Everyone still waiting learns the guest is gone (their senders drop here).
    if let Ok(mut p) = pending.lock() {
        p.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    async fn fake_guest(stream: tokio::io::DuplexStream, script: Vec<&'static str>) {
        let (read, mut write) = tokio::io::split(stream);
        write
            .write_all(b"{\"type\":\"hello\",\"agent_version\":\"0.1.0\",\"arch\":\"x86_64\",\"kernel\":\"6.1\",\"mounts\":[],\"mem_total_kb\":1,\"mem_available_kb\":1,\"uptime_ms\":5}\n")
            .await
            .unwrap();
        let mut lines = BufReader::new(read).lines();
        for answer in script {
            let Some(line) = lines.next_line().await.unwrap() else {
                return;
            };
            let request: Value = serde_json::from_str(&line).unwrap();
            let answer = answer.replace("ID", request["id"].as_str().unwrap());
            write.write_all(answer.as_bytes()).await.unwrap();
        }
        // Keep the connection open until the host drops it.
        let _ = lines.next_line().await;
    }

    #[tokio::test]
    async fn requests_get_their_replies_and_garbage_is_skipped() {
        let (host, guest) = tokio::io::duplex(1 << 16);
        tokio::spawn(fake_guest(
            guest,
            vec![
                "not json at all\n{\"type\":\"reply\",\"id\":\"ID\"}\n",
                "{\"type\":\"session_ended\",\"session_id\":\"s1\",\"code\":0}\n{\"type\":\"reply\",\"id\":\"ID\",\"error\":\"no such share\"}\n",
            ],
        ));
        let (link, hello, mut events) = GuestLink::handshake(host, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(hello.arch, "x86_64");
        link.ping().await.unwrap();
        let err = link.mount("s9", "/x").await.unwrap_err();
        assert_eq!(err.to_string(), "no such share");
        assert_eq!(events.recv().await.unwrap().session_id, "s1");
        assert_eq!(link.malformed.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_silent_guest_trips_the_hello_watchdog() {
        let (host, _guest) = tokio::io::duplex(1024);
        let err = GuestLink::handshake(host, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(matches!(err, GuestError::NoHello(_)), "{err}");
    }

    #[tokio::test]
    async fn a_vanished_guest_fails_waiting_calls() {
        let (host, guest) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(async move {
            let (_read, mut write) = tokio::io::split(guest);
            write.write_all(b"{\"type\":\"hello\",\"agent_version\":\"0\",\"arch\":\"x\",\"kernel\":\"k\",\"mounts\":[],\"mem_total_kb\":1,\"mem_available_kb\":1,\"uptime_ms\":1}\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        });
        let (link, _, _) = GuestLink::handshake(host, Duration::from_secs(5))
            .await
            .unwrap();
        task.await.unwrap();
        let err = link.ping().await.unwrap_err();
        assert!(
            matches!(err, GuestError::Disconnected | GuestError::Io(_)),
            "{err}"
        );
    }
}
