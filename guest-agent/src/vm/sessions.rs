//! Agent sessions as child processes, each speaking stream-json over its own vsock connection.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use workroom_protocol::vm::{ports, OpenSession, SessionHello, HOST_CID};

use super::vsock;

/// Flags every session gets, before the host's own arguments.
const STREAM_JSON: &[&str] = &[
    "--output-format",
    "stream-json",
    "--input-format",
    "stream-json",
    "--verbose",
];

/// Running sessions by process id.
#[derive(Debug, Default)]
pub struct Sessions {
    by_pid: HashMap<u32, String>,
}

impl Sessions {
    /// Dials the host's session port, introduces the connection, and starts the session process on it.
    pub async fn open(&mut self, request: &OpenSession) -> Result<u32, String> {
        let cwd = Path::new(&request.cwd);
        if !cwd.is_absolute() || !cwd.is_dir() {
            return Err(format!(
                "the session folder {} does not exist in the guest",
                request.cwd
            ));
        }
        let fd = vsock::connect_with_retry(HOST_CID, ports::SESSION, false, 5)
            .await
            .map_err(|e| format!("cannot open the session channel to the host: {e}"))?;
        let mut connection = std::fs::File::from(fd);
        let hello = SessionHello {
            kind: "session_hello".into(),
            session_id: request.session_id.clone(),
        };
        let mut line = serde_json::to_string(&hello).map_err(|e| e.to_string())?;
        line.push('\n');
        connection
            .write_all(line.as_bytes())
            .map_err(|e| format!("cannot write to the session channel: {e}"))?;
        let stdin = connection.try_clone().map_err(|e| e.to_string())?;
        let stdout = connection.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new("/proc/self/exe");
        command
            .args(STREAM_JSON)
            .args(&request.args)
            .current_dir(cwd)
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::inherit());
        if let Some(root) = super::userland::shell_root() {
            command.env(workroom_protocol::vm::SHELL_ROOT_ENV, root);
        }
        for (key, value) in &request.env {
            if let Some(value) = value.as_str() {
                command.env(key, value);
            }
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start the session process: {e}"))?;
        let pid = child.id();
        // The child is reaped by the SIGCHLD handler (waitpid(-1)), not through this handle.
        drop(child);
        self.by_pid.insert(pid, request.session_id.clone());
        tracing::info!(session = %request.session_id, pid, "session started");
        Ok(pid)
    }

    /// Forgets a reaped process; returns its session id if it was one.
    pub fn reaped(&mut self, pid: u32) -> Option<String> {
        self.by_pid.remove(&pid)
    }

    /// Number of running sessions.
    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    /// Asks every session to stop.
    pub fn terminate_all(&self) {
        for pid in self.by_pid.keys() {
            if let Ok(pid) = libc::pid_t::try_from(*pid) {
                // SAFETY: kill(2) with a pid we started.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
    }
}

/// Collects every exited child (sessions and orphans reparented to PID 1): (pid, exit code).
pub fn reap() -> Vec<(u32, Option<i32>)> {
    let mut exited = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid pointer to `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return exited;
        }
        let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        exited.push((pid as u32, code));
    }
}
