//! The supervisor channel: hello, then requests from the host until it goes away.

use std::io;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use workroom_protocol::ndjson::{self, LineDecoder};
use workroom_protocol::vm::{
    ports, GuestEvent, Hello, HostRequest, Mount, Reply, SessionEnded, GUEST_EGRESS_PORT, HOST_CID,
};

use super::cmdline::BootSettings;
use super::sessions::{self, Sessions};
use super::system;
use super::vsock::VsockStream;

/// How long the guest keeps dialling the host at boot (attempts with backoff up to 1 s).
const DIAL_ATTEMPTS: u32 = 60;

/// Serves one supervisor connection; returns when the host closes it.
pub async fn serve(settings: BootSettings) -> io::Result<()> {
    let stop = CancellationToken::new();
    let _stop_guard = stop.clone().drop_guard();
    for (port, vsock_port) in [
        (settings.model_port, ports::MODEL),
        (GUEST_EGRESS_PORT, ports::EGRESS),
    ] {
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = super::forward::serve(port, vsock_port, stop).await {
                tracing::error!(error = %e, port, "forwarder could not start");
            }
        });
    }

    let mut mounts = Vec::new();
    for share in &settings.shares {
        match mount_share(share) {
            Ok(()) => mounts.push(share.clone()),
            Err(e) => {
                tracing::error!(tag = %share.tag, path = %share.path, error = %e, "share not mounted")
            }
        }
    }
    // A handful of mount calls, like the shares above: quick enough for this thread.
    let userland = settings.userland.as_deref().map(super::userland::prepare);
    let stream = VsockStream::connect(HOST_CID, ports::SUPERVISOR, DIAL_ATTEMPTS).await?;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (mem_total_kb, mem_available_kb) = system::memory_kb();
    let hello = GuestEvent::Hello(Hello {
        agent_version: env!("CARGO_PKG_VERSION").into(),
        arch: std::env::consts::ARCH.into(),
        kernel: system::kernel_release(),
        mounts,
        mem_total_kb,
        mem_available_kb,
        uptime_ms: system::uptime_ms(),
        shell_root: userland.clone().and_then(Result::ok),
        userland_error: userland.and_then(Result::err),
        extra: Map::new(),
    });
    send(&mut writer, &hello).await?;
    tracing::info!(uptime_ms = system::uptime_ms(), "said hello to the host");

    let mut sessions = Sessions::default();
    let mut children = signal(SignalKind::child())?;
    let mut decoder = LineDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    // Children may have exited before the handler was installed.
    report_exits(&mut sessions, &mut writer).await?;
    loop {
        tokio::select! {
            read = reader.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the host closed the supervisor channel"));
                }
                decoder.feed(&buf[..n]);
                while let Some(line) = decoder.next_line() {
                    let request = line.and_then(|l| Ok(serde_json::from_str::<HostRequest>(&l)?));
                    match request {
                        Ok(request) => handle(request, &mut sessions, &mut writer).await?,
                        Err(e) => tracing::warn!(error = %e, "ignoring a malformed supervisor frame"),
                    }
                }
            }
            _ = children.recv() => report_exits(&mut sessions, &mut writer).await?,
        }
    }
}

async fn report_exits(
    sessions: &mut Sessions,
    writer: &mut (impl AsyncWrite + Unpin),
) -> io::Result<()> {
    for (pid, code) in sessions::reap() {
        if let Some(session_id) = sessions.reaped(pid) {
            tracing::info!(session = %session_id, pid, ?code, "session ended");
            send(
                writer,
                &GuestEvent::SessionEnded(SessionEnded { session_id, code }),
            )
            .await?;
        }
    }
    Ok(())
}

async fn handle(
    request: HostRequest,
    sessions: &mut Sessions,
    writer: &mut (impl AsyncWrite + Unpin),
) -> io::Result<()> {
    let reply = match request {
        HostRequest::Ping(p) => ok(p.id, json!({})),
        HostRequest::Mount(m) => {
            let share = Mount {
                tag: m.tag,
                path: m.path,
            };
            match mount_share(&share) {
                Ok(()) => ok(m.id, json!({"path": share.path})),
                Err(e) => failed(
                    m.id,
                    format!("cannot mount {} at {}: {e}", share.tag, share.path),
                ),
            }
        }
        HostRequest::OpenSession(open) => match sessions.open(&open).await {
            Ok(pid) => ok(open.id, json!({"pid": pid})),
            Err(e) => failed(open.id, e),
        },
        HostRequest::Stats(s) => {
            let (total, available) = system::memory_kb();
            ok(
                s.id,
                json!({"mem_total_kb": total, "mem_available_kb": available, "load1": system::load1(), "sessions": sessions.len(), "uptime_ms": system::uptime_ms()}),
            )
        }
        HostRequest::Shutdown(s) => {
            sessions.terminate_all();
            tokio::time::sleep(Duration::from_millis(100)).await;
            // SAFETY: sync(2) takes no arguments.
            unsafe { libc::sync() };
            send(writer, &ok(s.id, json!({}))).await?;
            tracing::info!("powering off");
            let e = system::power_off();
            return Err(e);
        }
        HostRequest::Other(v) => {
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let kind = v
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            failed(id, format!("unsupported request {kind}"))
        }
    };
    send(writer, &reply).await
}

fn mount_share(share: &Mount) -> io::Result<()> {
    super::shares::mount(&share.tag, &share.path)
}

fn ok(id: String, data: Value) -> GuestEvent {
    GuestEvent::Reply(Reply {
        id,
        error: None,
        data: match data {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    })
}

fn failed(id: String, error: String) -> GuestEvent {
    tracing::warn!(%error, "request failed");
    GuestEvent::Reply(Reply {
        id,
        error: Some(error),
        data: Map::new(),
    })
}

async fn send(writer: &mut (impl AsyncWrite + Unpin), event: &GuestEvent) -> io::Result<()> {
    let line = ndjson::encode(event).map_err(io::Error::other)?;
    writer.write_all(line.as_bytes()).await?;
    writer.flush().await
}
