//! Test support: a guest played by the test itself, running the real agent binary on the host.
//!
//! It speaks the real supervisor protocol over the fake backend's vsock connections, forwards a local
//! TCP port to the model port (so model calls go through the real model proxy), and runs each session
//! as a real `workroom-agent` process. Only the hypervisor is missing; `vm_*.rs` tests boot real VMs.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use workroom_host::vm::FakeGuest;
use workroom_protocol::vm::{cmdline, decode_cmdline_value, ports};

/// The built x86_64 guest image: `$WORKROOM_TEST_IMAGE_DIR`, else the data directory's
/// `images/x86_64` (`$WORKROOM_HOME` or the platform default). Tests do not build it themselves: a nested
/// `cargo run` would wait on the outer `cargo test`'s build lock. CI builds it first.
pub fn built_image_dir() -> PathBuf {
    let dir = std::env::var_os("WORKROOM_TEST_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workroom_host::paths::images_dir().join("x86_64"));
    for file in ["kernel", "initramfs.cpio.gz", "manifest.json"] {
        assert!(
            dir.join(file).is_file(),
            "the guest image is missing in {} (no {file}): build it with `cargo run -p workroom-image -- build --arch x86_64` \
             (or point WORKROOM_TEST_IMAGE_DIR at a directory with kernel, initramfs.cpio.gz and manifest.json)",
            dir.display()
        );
    }
    dir
}

/// The built x86_64 full userland, beside the image (`images/userland-x86_64`; CI builds it with
/// `cargo run -p workroom-image -- userland --arch x86_64`).
pub fn built_userland_dir() -> PathBuf {
    let image = built_image_dir();
    let dir = image
        .parent()
        .map(|p| p.join("userland-x86_64"))
        .unwrap_or_default();
    assert!(
        dir.join("root/usr/bin/bash").exists() && dir.join("manifest.json").is_file(),
        "the full userland is missing in {}: build it with `cargo run -p workroom-image -- userland --arch x86_64`",
        dir.display()
    );
    dir
}

/// The agent binary (built on demand).
pub fn agent_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/workroom-agent");
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "workroom-agent"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building workroom-agent failed");
    }
    bin
}

/// Plays the guest of `guest` until it is told to shut down or the host goes away.
pub async fn serve_local_guest(guest: Arc<FakeGuest>) {
    let config = guest.config().clone();
    // tag -> host folder, and guest path -> host folder, from the shares and the command line.
    let hosts: HashMap<String, PathBuf> = config
        .shares
        .iter()
        .map(|s| (s.tag.clone(), s.host_path.clone()))
        .collect();
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for word in &config.cmdline_extra {
        if let Some(rest) = word.strip_prefix(&format!("{}=", cmdline::SHARE)) {
            if let Some((tag, path)) = rest.split_once(':') {
                if let (Some(host), Some(path)) = (hosts.get(tag), decode_cmdline_value(path)) {
                    mounts.push((path, host.clone()));
                }
            }
        }
    }
    let to_host = |path: &str| -> String {
        for (guest_path, host) in &mounts {
            if let Ok(rest) = Path::new(path).strip_prefix(guest_path) {
                return host.join(rest).to_string_lossy().into_owned();
            }
        }
        path.to_string()
    };
    let model_port = start_model_forwarder(guest.clone()).await;
    let Ok(supervisor) = guest.connect(ports::SUPERVISOR).await else {
        return;
    };
    let (read, mut write) = tokio::io::split(supervisor);
    let hello = json!({"type": "hello", "agent_version": "test", "arch": "x86_64", "kernel": "local",
        "mounts": [], "mem_total_kb": 1, "mem_available_kb": 1, "uptime_ms": 1});
    if write
        .write_all(format!("{hello}\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let write = Arc::new(tokio::sync::Mutex::new(write));
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(request) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let id = request["id"].clone();
        match request["type"].as_str() {
            Some("open_session") => {
                let cwd = to_host(request["cwd"].as_str().unwrap_or("/"));
                let args: Vec<String> = request["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(&to_host)
                    .collect();
                let state = to_host(workroom_protocol::vm::AGENT_STATE_DIR);
                let session_id = request["session_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let pid = start_session(
                    &guest,
                    &session_id,
                    &cwd,
                    args,
                    &state,
                    model_port,
                    write.clone(),
                )
                .await;
                reply(&write, json!({"type": "reply", "id": id, "pid": pid})).await;
            }
            Some("shutdown") => {
                reply(&write, json!({"type": "reply", "id": id})).await;
                guest.power_off();
                return;
            }
            _ => reply(&write, json!({"type": "reply", "id": id})).await,
        }
    }
}

type Writer = Arc<tokio::sync::Mutex<tokio::io::WriteHalf<tokio::net::UnixStream>>>;

async fn reply(write: &Writer, frame: Value) {
    let _ = write
        .lock()
        .await
        .write_all(format!("{frame}\n").as_bytes())
        .await;
}

async fn start_model_forwarder(guest: Arc<FakeGuest>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let guest = guest.clone();
            tokio::spawn(async move {
                if let Ok(mut upstream) = guest.connect(ports::MODEL).await {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
                }
            });
        }
    });
    port
}

async fn start_session(
    guest: &Arc<FakeGuest>,
    session_id: &str,
    cwd: &str,
    args: Vec<String>,
    state: &str,
    model_port: u16,
    supervisor: Writer,
) -> u32 {
    let Ok(mut stream) = guest.connect(ports::SESSION).await else {
        return 0;
    };
    let hello = json!({"type": "session_hello", "session_id": session_id});
    let _ = stream.write_all(format!("{hello}\n").as_bytes()).await;
    let mut child = Command::new(agent_binary())
        .args([
            "--output-format",
            "stream-json",
            "--input-format",
            "stream-json",
            "--verbose",
        ])
        .args(&args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", state)
        .env(
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{model_port}"),
        )
        .env("WORKROOM_AGENT_STATE_DIR", state)
        .env("WORKROOM_RETRY_BASE_MS", "20")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("agent starts");
    let pid = child.id().unwrap_or(0);
    let (mut stdin, mut stdout) = (
        child.stdin.take().expect("stdin"),
        child.stdout.take().expect("stdout"),
    );
    let session_id = session_id.to_string();
    tokio::spawn(async move {
        let (mut from_host, mut to_host) = tokio::io::split(stream);
        // When the agent's output ends, end the host's view of the stream too.
        let up = async {
            let _ = tokio::io::copy(&mut stdout, &mut to_host).await;
            let _ = to_host.shutdown().await;
        };
        let down = async {
            let _ = tokio::io::copy(&mut from_host, &mut stdin).await;
            drop(stdin);
        };
        let _ = tokio::join!(up, down);
        let code = child.wait().await.ok().and_then(|s| s.code());
        reply(
            &supervisor,
            json!({"type": "session_ended", "session_id": session_id, "code": code}),
        )
        .await;
    });
    pid
}
