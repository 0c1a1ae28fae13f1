//! The host ends of the guest's vsock connections.
//!
//! With `vhost-device-vsock --uds-path=<base>`, a guest `connect(CID 2, port P)` becomes a Unix-socket
//! connection to `<base>_P`, so the host must be listening there before the guest boots. One accept task
//! per port queues the connections; `accept` takes them off the queue. Closing (or dropping) the
//! listeners stops the tasks and removes the socket files; connections already queued can still be
//! taken, after which `accept` returns `None`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::VmError;

/// Guest connections waiting to be accepted, per port, before the accept task stops taking more.
const QUEUE: usize = 16;

/// The socket path a guest connection to `port` arrives on.
pub(crate) fn port_socket_path(uds_base: &Path, port: u32) -> PathBuf {
    let mut path = OsString::from(uds_base.as_os_str());
    path.push(format!("_{port}"));
    PathBuf::from(path)
}

/// Listeners for every port of one VM.
#[derive(Debug)]
pub(crate) struct VsockListeners {
    queues: HashMap<u32, tokio::sync::Mutex<mpsc::Receiver<UnixStream>>>,
    first: watch::Receiver<Option<Instant>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stop: CancellationToken,
    paths: Vec<PathBuf>,
}

impl VsockListeners {
    /// Binds `<uds_base>_<port>` for each port (mode 0600) and starts accepting. The first port's
    /// first connection is reported through [`VsockListeners::first_connection`].
    pub async fn bind(uds_base: &Path, ports: &[u32]) -> Result<Self, VmError> {
        let stop = CancellationToken::new();
        let (first_tx, first) = watch::channel(None);
        let mut listeners = VsockListeners {
            queues: HashMap::new(),
            first,
            tasks: Mutex::new(Vec::new()),
            stop: stop.clone(),
            paths: Vec::new(),
        };
        let mut first_tx = Some(first_tx);
        for &port in ports {
            let path = port_socket_path(uds_base, port);
            let listener = UnixListener::bind(&path)
                .map_err(|e| VmError::io(format!("listen on {}", path.display()), e))?;
            listeners.paths.push(path.clone());
            tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .await
                .map_err(|e| VmError::io(format!("restrict {}", path.display()), e))?;
            let (tx, rx) = mpsc::channel(QUEUE);
            listeners.queues.insert(port, tokio::sync::Mutex::new(rx));
            let task = tokio::spawn(accept_loop(
                port,
                listener,
                tx,
                first_tx.take(),
                stop.clone(),
            ));
            listeners
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(task);
        }
        Ok(listeners)
    }

    /// When the first connection on the first port arrived (`None` until then).
    pub fn first_connection(&self) -> watch::Receiver<Option<Instant>> {
        self.first.clone()
    }

    /// Whether `port` has a listener.
    pub fn has_port(&self, port: u32) -> bool {
        self.queues.contains_key(&port)
    }

    /// The next connection on `port`; `None` for an unknown port or once closed and drained.
    pub async fn accept(&self, port: u32) -> Option<UnixStream> {
        let queue = self.queues.get(&port)?;
        queue.lock().await.recv().await
    }

    /// Stops accepting and removes the socket files. Idempotent.
    pub async fn close(&self) {
        self.stop.cancel();
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            let _ = task.await;
        }
        for path in &self.paths {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
}

impl Drop for VsockListeners {
    fn drop(&mut self) {
        self.stop.cancel();
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        for path in &self.paths {
            // A few unlink calls; dropping happens outside hot paths.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Accepts connections on one port until `stop`; owned by [`VsockListeners`].
async fn accept_loop(
    port: u32,
    listener: UnixListener,
    queue: mpsc::Sender<UnixStream>,
    mut first: Option<watch::Sender<Option<Instant>>>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tracing::debug!(port, "guest connected");
                if let Some(first) = first.take() {
                    let _ = first.send(Some(Instant::now()));
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    sent = queue.send(stream) => if sent.is_err() { return },
                }
            }
            Err(error) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(port, %error, "accepting a guest connection failed");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn queues_connections_per_port_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("vm.vsock");
        let listeners = VsockListeners::bind(&base, &[1024, 1025]).await.unwrap();
        let mut first = listeners.first_connection();
        assert!(first.borrow().is_none());

        let mut guest = UnixStream::connect(port_socket_path(&base, 1025))
            .await
            .unwrap();
        guest.write_all(b"session\n").await.unwrap();
        let mut host = listeners.accept(1025).await.unwrap();
        let mut buf = [0u8; 8];
        host.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"session\n");
        assert!(first.borrow().is_none(), "only the first port counts");

        let _sup = UnixStream::connect(port_socket_path(&base, 1024))
            .await
            .unwrap();
        first.wait_for(Option::is_some).await.unwrap();
        assert!(listeners.accept(1024).await.is_some());
        assert!(listeners.accept(9999).await.is_none());

        let mode = std::fs::metadata(port_socket_path(&base, 1024))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // A connection queued before close is still handed out, then the queue reports the end.
        let _late = UnixStream::connect(port_socket_path(&base, 1025))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        listeners.close().await;
        assert!(listeners.accept(1025).await.is_some());
        assert!(listeners.accept(1025).await.is_none());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "socket files removed"
        );
    }
}
