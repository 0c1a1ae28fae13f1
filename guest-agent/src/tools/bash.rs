//! `Bash`, `BashOutput` and `KillShell`: shell commands with a working directory that persists between
//! calls, capped output, a timeout, and a kill of the whole process group on timeout or interrupt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::context::{ToolContext, ToolOutput};

/// Tool names.
pub const NAME: &str = "Bash";
/// Reads a background shell's new output.
pub const OUTPUT_NAME: &str = "BashOutput";
/// Kills a background shell.
pub const KILL_NAME: &str = "KillShell";

const DEFAULT_TIMEOUT_MS: u64 = 120_000;
const MAX_TIMEOUT_MS: u64 = 600_000;
/// What the model sees of a command's output (Claude Code's `BASH_MAX_OUTPUT_LENGTH`).
const MODEL_OUTPUT_CHARS: usize = 30_000;
/// What we keep in memory per stream; the rest is drained and counted.
const CAPTURE_BYTES: usize = 1 << 20;
/// Variables that must never reach a command the model runs.
const SECRET_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

/// Model-facing description.
pub fn description() -> &'static str {
    "Executes a shell command in a persistent working directory (it carries over between calls) and \
     returns its output. Use it for running programs, git, builds and tests; prefer Read, Write, Edit, \
     Glob and Grep for files. Quote paths with spaces. The optional timeout is in milliseconds (default \
     120000, max 600000). Output over 30000 characters is truncated in the middle. Set run_in_background \
     to start a long-running command and read its output later with BashOutput."
}

/// Input schema (Claude Code's).
pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command to execute"},
            "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
            "description": {"type": "string", "description": "Clear, concise description of what this command does in 5-10 words"},
            "run_in_background": {"type": "boolean", "description": "Set to true to run this command in the background. Use BashOutput to read the output later."},
            "dangerouslyDisableSandbox": {"type": "boolean", "description": "Ignored: commands always run inside the VM."}
        },
        "required": ["command"],
        "additionalProperties": false
    })
}

/// `BashOutput` description.
pub fn output_description() -> &'static str {
    "Retrieves new output from a background shell started with run_in_background, with its status. \
     Each call returns only the output produced since the previous call. An optional regex filter keeps \
     matching lines only."
}

/// `BashOutput` schema.
pub fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "bash_id": {"type": "string", "description": "The ID of the background shell"},
            "filter": {"type": "string", "description": "Optional regular expression; only matching lines are returned"}
        },
        "required": ["bash_id"],
        "additionalProperties": false
    })
}

/// `KillShell` description.
pub fn kill_description() -> &'static str {
    "Kills a background shell (and every process it started) by its ID."
}

/// `KillShell` schema.
pub fn kill_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"shell_id": {"type": "string", "description": "The ID of the background shell to kill"}},
        "required": ["shell_id"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BashArgs {
    command: String,
    #[serde(default)]
    timeout: Option<f64>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    run_in_background: Option<bool>,
    #[serde(default, rename = "dangerouslyDisableSandbox")]
    #[allow(dead_code)]
    dangerously_disable_sandbox: Option<bool>,
}

/// Makes `cmd` run inside `root` (a `chroot` in the child, before `exec`), in `cwd`: the folders
/// are bound into the root at the same paths, so the working directory means the same there.
fn enter_root(cmd: &mut Command, root: &Path, cwd: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(root), Ok(cwd)) = (
        std::ffi::CString::new(root.as_os_str().as_bytes()),
        std::ffi::CString::new(cwd.as_os_str().as_bytes()),
    ) else {
        return;
    };
    // SAFETY: between fork and exec the closure only calls chroot(2) and chdir(2), which are
    // async-signal-safe, on strings allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(root.as_ptr()) != 0 || libc::chdir(cwd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The session's shell state: working directory and background shells.
#[derive(Debug)]
pub struct Shell {
    program: PathBuf,
    /// The full userland's root (see `vm::userland`): commands run `chroot`ed there.
    root: Option<PathBuf>,
    cwd: Mutex<Option<PathBuf>>,
    background: Mutex<HashMap<String, Background>>,
    next_id: AtomicU32,
}

impl Default for Shell {
    fn default() -> Self {
        Self::new()
    }
}

impl Shell {
    /// A shell using `bash` when the system has it, else `/bin/sh` (busybox in the minimal guest).
    /// With the full userland up (its root handed over in `WORKROOM_SHELL_ROOT`), commands run
    /// in that root with its bash.
    pub fn new() -> Self {
        let root = std::env::var_os(workroom_protocol::vm::SHELL_ROOT_ENV)
            .map(PathBuf::from)
            .filter(|root| root.join("usr/bin/bash").exists());
        let program = match &root {
            Some(_) => PathBuf::from("/usr/bin/bash"),
            None => ["/bin/bash", "/usr/bin/bash"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from("/bin/sh")),
        };
        Self {
            program,
            root,
            cwd: Mutex::new(None),
            background: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(1),
        }
    }

    fn cwd(&self, ctx: &ToolContext) -> PathBuf {
        self.cwd
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|c| c.is_dir())
            .unwrap_or_else(|| ctx.cwd().to_path_buf())
    }

    fn command(&self, script: &str, cwd: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("-c")
            .arg(script)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PAGER", "cat")
            .env("GIT_PAGER", "cat")
            .env("GIT_TERMINAL_PROMPT", "0")
            // Its own process group, so a timeout or interrupt can kill everything it started.
            .process_group(0)
            .kill_on_drop(true);
        for var in SECRET_VARS {
            cmd.env_remove(var);
        }
        if let Some(root) = &self.root {
            enter_root(&mut cmd, root, cwd);
        }
        cmd
    }

    /// Runs `Bash`.
    pub async fn run(&self, ctx: &ToolContext, input: Value) -> ToolOutput {
        let args: BashArgs = match serde_json::from_value(input) {
            Ok(a) => a,
            Err(e) => return ToolOutput::error(format!("Bash: invalid input: {e}")),
        };
        if args.command.trim().is_empty() {
            return ToolOutput::error("Bash: the command is empty.");
        }
        if args.run_in_background == Some(true) {
            return self.start_background(ctx, &args.command);
        }
        let timeout_ms = args
            .timeout
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(|t| (t as u64).min(MAX_TIMEOUT_MS))
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        self.run_foreground(ctx, &args.command, Duration::from_millis(timeout_ms))
            .await
    }

    async fn run_foreground(
        &self,
        ctx: &ToolContext,
        command: &str,
        timeout: Duration,
    ) -> ToolOutput {
        let cwd = self.cwd(ctx);
        let cwd_file =
            std::env::temp_dir().join(format!("workroom-cwd-{}", uuid::Uuid::new_v4().simple()));
        // The trailing lines record where the command left the shell, so `cd` persists between calls.
        let script = format!(
            "{command}\n__workroom_status=$?\npwd -P > '{}' 2>/dev/null\nexit $__workroom_status",
            cwd_file.display()
        );
        let mut child = match self.command(&script, &cwd).spawn() {
            Ok(c) => c,
            Err(e) => {
                return ToolOutput::error(format!(
                    "Bash: could not start {}: {e}",
                    self.program.display()
                ))
            }
        };
        let (stdout, stderr) = capture(&mut child);
        let outcome = tokio::select! {
            status = child.wait() => Outcome::Exited(status.ok().and_then(|s| s.code())),
            _ = tokio::time::sleep(timeout) => Outcome::TimedOut,
            _ = ctx.cancel.cancelled() => Outcome::Interrupted,
        };
        if !matches!(outcome, Outcome::Exited(_)) {
            kill_group(&child);
            let _ = child.wait().await;
        }
        let stdout = finish_capture(stdout).await;
        let stderr = finish_capture(stderr).await;
        let note = self.update_cwd(ctx, &cwd_file).await;

        let interrupted = matches!(outcome, Outcome::Interrupted);
        let mut text = join_output(&stdout, &stderr);
        let mut is_error = false;
        match outcome {
            Outcome::Exited(Some(0)) => {}
            Outcome::Exited(code) => {
                is_error = true;
                let code = code.map_or("killed by a signal".to_string(), |c| {
                    format!("Exit code {c}")
                });
                text = if text.is_empty() {
                    code
                } else {
                    format!("{code}\n{text}")
                };
            }
            Outcome::TimedOut => {
                is_error = true;
                text.push_str(&format!(
                    "\nCommand timed out after {} ms and was killed.",
                    timeout.as_millis()
                ));
            }
            Outcome::Interrupted => {
                is_error = true;
                text.push_str("\nCommand was interrupted by the user and killed.");
            }
        }
        if let Some(note) = note {
            text.push_str(&format!("\n{note}"));
        }
        let text = if text.trim().is_empty() {
            "(Bash completed with no output)".to_string()
        } else {
            truncate_middle(text.trim_matches('\n'), MODEL_OUTPUT_CHARS)
        };
        ToolOutput {
            content: super::context::ToolContent::Text(text),
            is_error,
            structured: json!({
                "stdout": truncate_middle(&stdout, MODEL_OUTPUT_CHARS),
                "stderr": truncate_middle(&stderr, MODEL_OUTPUT_CHARS),
                "interrupted": interrupted,
                "isImage": false,
                "noOutputExpected": false,
            }),
        }
    }

    /// Adopts the directory the command ended in, unless it left the shared folders.
    async fn update_cwd(&self, ctx: &ToolContext, cwd_file: &Path) -> Option<String> {
        let recorded = tokio::fs::read_to_string(cwd_file).await.ok();
        let _ = tokio::fs::remove_file(cwd_file).await;
        let new = PathBuf::from(recorded?.trim());
        let inside = ctx.roots.iter().any(|r| new.starts_with(r));
        let mut cwd = self.cwd.lock().ok()?;
        if inside {
            *cwd = Some(new);
            None
        } else {
            *cwd = None;
            Some(format!(
                "Shell cwd was reset to {} (commands start inside the shared folders).",
                ctx.cwd().display()
            ))
        }
    }

    fn start_background(&self, ctx: &ToolContext, command: &str) -> ToolOutput {
        let cwd = self.cwd(ctx);
        let mut child = match self.command(command, &cwd).spawn() {
            Ok(c) => c,
            Err(e) => return ToolOutput::error(format!("Bash: could not start the command: {e}")),
        };
        let id = format!("bash_{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        if let Some(out) = child.stdout.take() {
            tasks.push(tokio::spawn(pump(out, buffer.clone())));
        }
        if let Some(err) = child.stderr.take() {
            tasks.push(tokio::spawn(pump(err, buffer.clone())));
        }
        let pid = child.id();
        let status = Arc::new(Mutex::new(None));
        let status_writer = status.clone();
        // The waiter owns the child; it is aborted (killing the child) when the shell entry is dropped.
        tasks.push(tokio::spawn(async move {
            let code = child.wait().await.ok().map(|s| s.code().unwrap_or(-1));
            if let Ok(mut s) = status_writer.lock() {
                *s = Some(code.unwrap_or(-1));
            }
        }));
        if let Ok(mut shells) = self.background.lock() {
            shells.insert(
                id.clone(),
                Background {
                    command: command.to_string(),
                    pid,
                    buffer,
                    read_upto: 0,
                    status,
                    killed: false,
                    tasks,
                },
            );
        }
        ToolOutput::ok(
            format!("Command running in background with ID: {id}"),
            json!({"stdout": "", "stderr": "", "interrupted": false, "isImage": false, "backgroundTaskId": id}),
        )
    }

    /// Runs `BashOutput`.
    pub fn output(&self, input: Value) -> ToolOutput {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Args {
            bash_id: String,
            #[serde(default)]
            filter: Option<String>,
        }
        let args: Args = match serde_json::from_value(input) {
            Ok(a) => a,
            Err(e) => return ToolOutput::error(format!("BashOutput: invalid input: {e}")),
        };
        let filter = match args.filter.as_deref().map(grep_regex::RegexMatcher::new) {
            Some(Err(e)) => return ToolOutput::error(format!("BashOutput: invalid filter: {e}")),
            Some(Ok(m)) => Some(m),
            None => None,
        };
        let Ok(mut shells) = self.background.lock() else {
            return ToolOutput::error("BashOutput: shell table unavailable");
        };
        let Some(shell) = shells.get_mut(&args.bash_id) else {
            return ToolOutput::error(format!(
                "BashOutput: no background shell with ID {}",
                args.bash_id
            ));
        };
        let new = shell.take_new();
        let new = match &filter {
            Some(m) => new
                .lines()
                .filter(|l| grep_matcher::Matcher::is_match(m, l.as_bytes()).unwrap_or(false))
                .collect::<Vec<_>>()
                .join("\n"),
            None => new,
        };
        let status = shell.status_text();
        let code = shell.status.lock().ok().and_then(|s| *s);
        ToolOutput::ok(
            format!(
                "<status>{status}</status>\n{}<output>\n{}\n</output>",
                code.map(|c| format!("<exit_code>{c}</exit_code>\n"))
                    .unwrap_or_default(),
                truncate_middle(&new, MODEL_OUTPUT_CHARS)
            ),
            json!({"shellId": args.bash_id, "command": shell.command, "status": status, "exitCode": code, "stdout": new, "stderr": ""}),
        )
    }

    /// Runs `KillShell`.
    pub fn kill(&self, input: Value) -> ToolOutput {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Args {
            shell_id: String,
        }
        let args: Args = match serde_json::from_value(input) {
            Ok(a) => a,
            Err(e) => return ToolOutput::error(format!("KillShell: invalid input: {e}")),
        };
        let Ok(mut shells) = self.background.lock() else {
            return ToolOutput::error("KillShell: shell table unavailable");
        };
        let Some(shell) = shells.get_mut(&args.shell_id) else {
            return ToolOutput::error(format!(
                "KillShell: no background shell with ID {}",
                args.shell_id
            ));
        };
        shell.kill();
        ToolOutput::ok(
            format!(
                "Successfully killed shell: {} ({})",
                args.shell_id, shell.command
            ),
            json!({"message": format!("Successfully killed shell: {}", args.shell_id), "shell_id": args.shell_id}),
        )
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Ok(mut shells) = self.background.lock() {
            for shell in shells.values_mut() {
                shell.kill();
            }
        }
    }
}

#[derive(Debug)]
struct Background {
    command: String,
    pid: Option<u32>,
    buffer: Arc<Mutex<Vec<u8>>>,
    read_upto: usize,
    status: Arc<Mutex<Option<i32>>>,
    killed: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    fn take_new(&mut self) -> String {
        let Ok(buffer) = self.buffer.lock() else {
            return String::new();
        };
        let new = String::from_utf8_lossy(&buffer[self.read_upto.min(buffer.len())..]).into_owned();
        self.read_upto = buffer.len();
        new
    }

    fn status_text(&self) -> &'static str {
        match (self.killed, self.status.lock().ok().and_then(|s| *s)) {
            (true, _) => "killed",
            (false, Some(0)) => "completed",
            (false, Some(_)) => "failed",
            (false, None) => "running",
        }
    }

    fn kill(&mut self) {
        if self.status.lock().ok().and_then(|s| *s).is_none() {
            if let Some(pid) = self.pid {
                kill_pgid(pid);
            }
            self.killed = true;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
        for task in &self.tasks {
            task.abort();
        }
    }
}

enum Outcome {
    Exited(Option<i32>),
    TimedOut,
    Interrupted,
}

type Capture = JoinHandle<(Vec<u8>, usize)>;

fn capture(child: &mut Child) -> (Option<Capture>, Option<Capture>) {
    let out = child.stdout.take().map(|s| tokio::spawn(drain(s)));
    let err = child.stderr.take().map(|s| tokio::spawn(drain(s)));
    (out, err)
}

/// Reads a pipe to its end, keeping the first [`CAPTURE_BYTES`] and counting the rest.
async fn drain(mut pipe: impl AsyncRead + Unpin) -> (Vec<u8>, usize) {
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = CAPTURE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
        dropped += n.saturating_sub(room);
    }
    (kept, dropped)
}

async fn finish_capture(task: Option<Capture>) -> String {
    let Some(mut task) = task else {
        return String::new();
    };
    // A process that escaped the group (setsid) may hold the pipe open forever: do not wait for it.
    let result = tokio::select! {
        r = &mut task => r.ok(),
        _ = tokio::time::sleep(Duration::from_secs(2)) => { task.abort(); None }
    };
    let Some((bytes, dropped)) = result else {
        return String::new();
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if dropped > 0 {
        text.push_str(&format!("\n... [{dropped} more bytes of output not kept]"));
    }
    text
}

async fn pump(mut pipe: impl AsyncRead + Unpin, buffer: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if let Ok(mut b) = buffer.lock() {
            // Keep the most recent output when a chatty background job overflows the cap.
            if b.len() + n > CAPTURE_BYTES {
                let excess = (b.len() + n - CAPTURE_BYTES).min(b.len());
                b.drain(..excess);
            }
            b.extend_from_slice(&chunk[..n]);
        }
    }
}

fn kill_group(child: &Child) {
    if let Some(pid) = child.id() {
        kill_pgid(pid);
    }
}

fn kill_pgid(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: killpg only sends a signal; the group id is the child's pid because it was spawned
    // with `process_group(0)`, so this cannot signal our own group.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

fn join_output(stdout: &str, stderr: &str) -> String {
    match (stdout.trim_end().is_empty(), stderr.trim_end().is_empty()) {
        (_, true) => stdout.trim_end().to_string(),
        (true, false) => stderr.trim_end().to_string(),
        (false, false) => format!("{}\n{}", stdout.trim_end(), stderr.trim_end()),
    }
}

/// Keeps the head and tail of `text` within `max` characters, marking what was cut.
pub fn truncate_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let half = max / 2;
    let head: String = text.chars().take(half).collect();
    let tail: String = text.chars().skip(count - half).collect();
    format!(
        "{head}\n\n... [{} characters truncated] ...\n\n{tail}",
        count - 2 * half
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::context::ToolContent;

    fn ctx(dir: &Path) -> ToolContext {
        ToolContext::new(vec![dir.to_path_buf()]).unwrap()
    }

    fn text(out: &ToolOutput) -> &str {
        match &out.content {
            ToolContent::Text(t) => t,
            ToolContent::Blocks(_) => panic!("blocks"),
        }
    }

    #[tokio::test]
    async fn runs_commands_and_keeps_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let ctx = ctx(dir.path());
        let shell = Shell::new();
        let out = shell
            .run(&ctx, json!({"command": "cd sub && echo hi"}))
            .await;
        assert_eq!(text(&out), "hi");
        assert!(!out.is_error);
        let out = shell.run(&ctx, json!({"command": "pwd"})).await;
        assert!(text(&out).ends_with("/sub"), "{}", text(&out));
    }

    #[tokio::test]
    async fn leaving_the_folders_resets_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let shell = Shell::new();
        let out = shell.run(&ctx, json!({"command": "cd /"})).await;
        assert!(text(&out).contains("reset"), "{}", text(&out));
        let out = shell.run(&ctx, json!({"command": "pwd"})).await;
        assert_eq!(text(&out), ctx.cwd().to_string_lossy());
    }

    #[tokio::test]
    async fn failures_report_exit_code_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let out = Shell::new()
            .run(
                &ctx(dir.path()),
                json!({"command": "echo oops >&2; exit 3"}),
            )
            .await;
        assert!(out.is_error);
        assert_eq!(text(&out), "Exit code 3\noops");
        assert_eq!(out.structured["stderr"], "oops\n");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let command = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = std::time::Instant::now();
        let out = Shell::new()
            .run(
                &ctx(dir.path()),
                json!({"command": command, "timeout": 300}),
            )
            .await;
        assert!(out.is_error);
        assert!(text(&out).contains("timed out"));
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "a grandchild outlived the timeout");
    }

    #[tokio::test]
    async fn interrupt_stops_a_running_command() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        });
        let out = Shell::new().run(&ctx, json!({"command": "sleep 30"})).await;
        assert_eq!(out.structured["interrupted"], true);
    }

    #[tokio::test]
    async fn huge_output_is_truncated_for_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let out = Shell::new()
            .run(
                &ctx(dir.path()),
                json!({"command": "head -c 3000000 /dev/zero | tr '\\0' a"}),
            )
            .await;
        assert!(text(&out).chars().count() < MODEL_OUTPUT_CHARS + 200);
        assert!(text(&out).contains("characters truncated"));
    }

    #[tokio::test]
    async fn secrets_do_not_reach_commands() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("ANTHROPIC_API_KEY", "sk-secret-test");
        let out = Shell::new()
            .run(
                &ctx(dir.path()),
                json!({"command": "echo \"[$ANTHROPIC_API_KEY]\""}),
            )
            .await;
        assert_eq!(text(&out), "[]");
    }

    #[tokio::test]
    async fn background_shells_report_and_die() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let shell = Shell::new();
        let started = shell
            .run(
                &ctx,
                json!({"command": "echo first; sleep 30", "run_in_background": true}),
            )
            .await;
        let id = started.structured["backgroundTaskId"]
            .as_str()
            .unwrap()
            .to_string();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let out = shell.output(json!({"bash_id": id}));
        assert!(
            text(&out).contains("running") && text(&out).contains("first"),
            "{}",
            text(&out)
        );
        let out = shell.kill(json!({"shell_id": id}));
        assert!(!out.is_error);
        let out = shell.output(json!({"bash_id": id}));
        assert!(text(&out).contains("killed"));
        assert!(shell.output(json!({"bash_id": "nope"})).is_error);
    }

    #[tokio::test]
    async fn bad_input_is_a_tool_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = Shell::new()
            .run(&ctx(dir.path()), json!({"cmd": "ls"}))
            .await;
        assert!(out.is_error);
        assert!(text(&out).contains("invalid input"));
    }
}
