//! One `workroom-agent` process driven over stdin/stdout with stream-json frames, as an SDK does.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tempfile::TempDir;

/// A frame the bench waits for that has not come by then means the agent hung: fail, do not block.
const FRAME_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process may take to exit once its stdin is closed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent under test: `WORKROOM_AGENT_BIN` if set (to measure another build), else the binary
/// Cargo built for this bench (with the bench profile, which inherits `release`).
pub fn agent_binary() -> PathBuf {
    std::env::var_os("WORKROOM_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_workroom-agent")))
}

/// A fresh working folder and state folder for one agent process, deleted on drop.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("workroom-agent-bench-")
            .tempdir()
            .context("creating a temporary folder")?;
        for sub in ["work", "state"] {
            std::fs::create_dir(dir.path().join(sub))
                .with_context(|| format!("creating {sub}/ in {}", dir.path().display()))?;
        }
        Ok(Self { dir })
    }

    /// The agent's working folder (its cwd and only root).
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn stderr_log(&self) -> PathBuf {
        self.dir.path().join("agent-stderr.log")
    }
}

/// A running agent. Dropping it kills the process if it is still running.
pub struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    /// stdout lines, read by a thread so that waits can time out.
    lines: Receiver<String>,
    stderr_log: PathBuf,
}

impl Agent {
    /// Starts the agent in `sandbox` against the model at `base_url`, with the flags the Python SDK
    /// passes, and permissions bypassed so that tool calls never wait for a prompt.
    pub fn spawn(sandbox: &Sandbox, base_url: &str) -> Result<Self> {
        let stderr_log = sandbox.stderr_log();
        let stderr = std::fs::File::create(&stderr_log)
            .with_context(|| format!("creating {}", stderr_log.display()))?;
        let binary = agent_binary();
        let mut command = Command::new(&binary);
        command
            .args(["--output-format", "stream-json", "--verbose"])
            .args(["--system-prompt", ""])
            .args(["--permission-mode", "bypassPermissions"])
            .args(["--input-format", "stream-json"])
            .current_dir(sandbox.work())
            .env("ANTHROPIC_BASE_URL", base_url)
            .env("ANTHROPIC_API_KEY", "sk-test")
            .env("WORKROOM_AGENT_STATE_DIR", sandbox.state())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        // Settings from the developer's shell must not change what is measured.
        for var in [
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_MODEL",
            "OPENAI_BASE_URL",
            "OPENAI_API_KEY",
            "WORKROOM_PROVIDER",
            "WORKROOM_LOG",
        ] {
            command.env_remove(var);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("agent stdout not captured")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                // A read error ends the stream like EOF; a gone receiver means nobody listens.
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
            stderr_log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one NDJSON frame to the agent's stdin.
    pub fn send(&mut self, frame: &Value) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        let mut line = frame.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| self.with_stderr(anyhow!(e).context("writing to the agent's stdin")))
    }

    /// Reads stdout frames until one satisfies `wanted` (returned); `what` names it in errors.
    pub fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.with_stderr(anyhow!("no {what} within {FRAME_TIMEOUT:?}")))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.with_stderr(anyhow!("agent stdout closed before {what}")))
                }
            };
            let frame: Value = serde_json::from_str(&line)
                .with_context(|| format!("agent wrote a line that is not JSON: {line}"))?;
            if wanted(&frame) {
                return Ok(frame);
            }
        }
    }

    /// Sends the SDK's `initialize` control request and waits for its answer.
    pub fn initialize(&mut self) -> Result<Value> {
        self.send(&json!({
            "type": "control_request",
            "request_id": "init",
            "request": {"subtype": "initialize", "hooks": null},
        }))?;
        let response = self.wait_for("initialize control_response", |f| {
            f["type"] == "control_response" && f["response"]["request_id"] == "init"
        })?;
        if response["response"]["subtype"] != "success" {
            bail!("initialize failed: {response}");
        }
        Ok(response)
    }

    /// Sends one user message and waits for the turn's `result`, which must be a success.
    pub fn run_turn(&mut self, text: &str) -> Result<Value> {
        self.send(&json!({
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": null,
        }))?;
        let result = self.wait_for("result", |f| f["type"] == "result")?;
        if result["subtype"] != "success" || result["is_error"] == true {
            bail!("turn ended in error: {result}");
        }
        Ok(result)
    }

    /// The process's peak resident set size so far (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64> {
        proc_status_kib(self.pid(), "VmHWM").map(|kib| kib as f64 / 1024.0)
    }

    /// CPU time the process has used so far, all its threads (live or ended) counted, its
    /// children not: unlike wall time, this hardly depends on what else the machine is doing.
    /// The kernel counts it in ticks of 10 ms, so measure spans of a second or more.
    pub fn cpu_time(&self) -> Result<Duration> {
        let path = Path::new("/proc").join(self.pid().to_string()).join("stat");
        let stat = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        // Fields follow the command name, which is in parentheses and may itself hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 of the line; `fields` starts at field 3.
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        let (user, system) = ticks(11)
            .zip(ticks(12))
            .with_context(|| format!("no utime/stime in {}", path.display()))?;
        // /proc reports USER_HZ ticks, which Linux fixes at 100 per second on every architecture.
        Ok(Duration::from_millis((user + system) * 10))
    }

    /// Closes stdin (end of the session) and waits for the process to exit, which it must do
    /// successfully.
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for the agent")? {
                if !status.success() {
                    return Err(self.with_stderr(anyhow!("agent exited with {status}")));
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.with_stderr(anyhow!(
                    "agent still running {EXIT_TIMEOUT:?} after stdin closed"
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Adds the end of the agent's stderr to `error`: that is where it says what went wrong.
    fn with_stderr(&self, error: anyhow::Error) -> anyhow::Error {
        let log = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        if tail.is_empty() {
            return error;
        }
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        anyhow!("{error:#} (agent stderr: {})", tail.join(" | "))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Only reached with the process alive when a measurement failed half-way.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `kB` field of `/proc/PID/status`, e.g. `VmHWM`.
fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let path = Path::new("/proc").join(pid.to_string()).join("status");
    let status =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse().ok())
        .with_context(|| format!("no {field} in {}", path.display()))
}
