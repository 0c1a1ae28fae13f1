//! Forwards guest-local TCP ports to the host over vsock: the model port (plain HTTP to the host's
//! model proxy) and the egress port (an HTTP proxy: `CONNECT` for HTTPS, absolute URLs for HTTP).
//!
//! The guest has no network device; these are the only ways anything leaves it, and the host decides
//! what passes: it adds the model credentials, and applies the person's per-domain network policy.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workroom_protocol::vm::HOST_CID;

use super::vsock::VsockStream;

/// Accepts on `127.0.0.1:port` until `stop` fires; each connection gets its own vsock connection to
/// the host's `vsock_port`.
pub async fn serve(port: u16, vsock_port: u32, stop: CancellationToken) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut tcp, _) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, port, "forwarder accept failed");
                        continue;
                    }
                };
                connections.spawn(async move {
                    let mut upstream = match VsockStream::connect(HOST_CID, vsock_port, 3).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, vsock_port, "cannot reach the host");
                            return;
                        }
                    };
                    if let Err(e) = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await {
                        tracing::debug!(error = %e, vsock_port, "forwarded connection ended");
                    }
                });
            }
            // Reap finished forwarders so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.cancelled() => return Ok(()),
        }
    }
}
