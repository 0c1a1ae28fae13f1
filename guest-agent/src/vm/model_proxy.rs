//! Forwards the guest-local model port (plain HTTP) to the host's model proxy over vsock.
//!
//! The guest has no network device; this is the only way model requests leave it, and the host decides
//! what passes and adds the credentials.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workroom_protocol::vm::{ports, HOST_CID};

use super::vsock::VsockStream;

/// Accepts on `127.0.0.1:port` until `stop` fires; each connection gets its own vsock connection.
pub async fn serve(port: u16, stop: CancellationToken) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut tcp, _) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "model proxy accept failed");
                        continue;
                    }
                };
                connections.spawn(async move {
                    let mut upstream = match VsockStream::connect(HOST_CID, ports::MODEL, 3).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot reach the host's model proxy");
                            return;
                        }
                    };
                    if let Err(e) = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await {
                        tracing::debug!(error = %e, "model proxy connection ended");
                    }
                });
            }
            // Reap finished forwarders so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.cancelled() => return Ok(()),
        }
    }
}
