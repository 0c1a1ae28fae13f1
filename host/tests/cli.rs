//! The `workroom` command-line program, driven as a person (or a script) would drive it: the real
//! binary on a pseudo-terminal, real VMs (QEMU, virtiofsd, vhost-device-vsock and the guest image),
//! and the fake model server behind the host's model proxy.
//!
//! The VM tests need the tools and a built image, found like `vm_boot.rs` finds it:
//! `$WORKROOM_TEST_IMAGE_DIR`, else `<$WORKROOM_HOME or ~/.local/share/workroom>/images/x86_64`. Each
//! test gets its own data directory (`WORKROOM_HOME`) with the image linked into it. VM tests run one at
//! a time (every TCG boot wants a whole core); the parallel-sessions test starts two at once on purpose.

#[path = "cli/pty.rs"]
mod pty;
#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fake_model::{FakeModel, Script};
use pty::Pty;
use serde_json::{json, Value};
use workroom_host::store::{Direction, Store};

/// A boot under TCG on a loaded machine, plus the agent's start.
const BOOT: Duration = Duration::from_secs(120);
/// Anything after the VM is up.
const STEP: Duration = Duration::from_secs(60);

static ONE_VM_TEST_AT_A_TIME: Mutex<()> = Mutex::new(());

fn vm_test() -> MutexGuard<'static, ()> {
    ONE_VM_TEST_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The built guest image (see the module docs).
fn image_source() -> PathBuf {
    support::built_image_dir()
}

/// Links the image into `<home>/images/x86_64`, where the CLI looks for it.
fn link_image(home: &Path) {
    let source = image_source();
    let target = home.join("images").join("x86_64");
    std::fs::create_dir_all(&target).unwrap();
    for file in ["kernel", "initramfs.cpio.gz", "manifest.json"] {
        std::os::unix::fs::symlink(source.join(file), target.join(file)).unwrap();
    }
}

/// A data directory, a work folder named `Project`, and (for sessions) a fake model.
struct Home {
    home: PathBuf,
    folder: PathBuf,
    model: Option<FakeModel>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Home {
    /// A data directory with nothing in it (no image).
    fn bare() -> Home {
        let home = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let folder = work.path().join("Project");
        std::fs::create_dir_all(&folder).unwrap();
        Home {
            home: home.path().to_path_buf(),
            folder: folder.canonicalize().unwrap(),
            model: None,
            _dirs: vec![home, work],
        }
    }

    /// A data directory with the image, and the fake model playing `script`.
    fn with_model(script: Value) -> Home {
        let mut home = Home::bare();
        link_image(&home.home);
        home.model =
            Some(FakeModel::start(Script::from_json_str(&script.to_string()).unwrap()).unwrap());
        home
    }

    fn model(&self) -> &FakeModel {
        self.model.as_ref().expect("this home has a model")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_workroom"));
        command
            .args(args)
            .current_dir(&self.folder)
            .env("WORKROOM_HOME", &self.home)
            .env("ANTHROPIC_API_KEY", "sk-test")
            .env("TERM", "xterm-256color");
        // Settings from the environment of whoever runs the tests must not leak in.
        for var in [
            "WORKROOM_PROVIDER",
            "WORKROOM_MODEL",
            "WORKROOM_BASE_URL",
            "WORKROOM_VM_MEMORY_MIB",
            "WORKROOM_MAX_TOTAL_MEMORY_MIB",
            "WORKROOM_IDLE_SECONDS",
            "WORKROOM_BOOT_TIMEOUT_SECS",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "NO_COLOR",
        ] {
            command.env_remove(var);
        }
        if let Some(model) = &self.model {
            command.env("WORKROOM_BASE_URL", model.base_url());
        }
        command
    }

    /// Runs to the end with pipes (no terminal), `stdin` as its input.
    fn output(&self, args: &[&str], stdin: &str) -> Output {
        run_with_input(self.command(args), stdin)
    }

    /// Starts on a pseudo-terminal.
    fn pty(&self, args: &[&str]) -> Pty {
        Pty::spawn(self.command(args))
    }

    fn store(&self) -> Store {
        Store::open(&self.home).unwrap()
    }

    /// The only session's id.
    fn session_id(&self) -> String {
        let sessions = self.store().sessions().unwrap();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        sessions[0].id.clone()
    }

    fn folder_arg(&self) -> String {
        self.folder.to_string_lossy().into_owned()
    }
}

fn run_with_input(mut command: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start workroom");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    pty::strip_ansi(&String::from_utf8_lossy(bytes))
}

fn say(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}]})
}

fn bash(command: &str) -> Value {
    json!({"content": [{"type": "tool_use", "name": "Bash", "input": {"command": command}}]})
}

/// The text of every message the model was sent in its last request.
fn last_request_history(model: &FakeModel) -> String {
    model
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with("/v1/messages") && !r.path.contains("count_tokens"))
        .map(|r| r.body["messages"].to_string())
        .unwrap_or_default()
}

fn model_requests(model: &FakeModel) -> usize {
    model
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/messages") && !r.path.contains("count_tokens"))
        .count()
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live processes whose command line mentions `needle` (the VM's helpers name the data directory).
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // A zombie has exited; only its parent has not collected it yet.
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if cmdline.contains(needle) && !zombie && pid != std::process::id() {
            found.push((pid, cmdline));
        }
    }
    found
}

/// A stuck process's state and where each of its threads waits (for a failing test's message).
fn describe_process(pid: u32) -> String {
    let read = |p: String| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = read(format!("/proc/{pid}/status"))
        .lines()
        .filter(|l| l.starts_with("State"))
        .collect::<Vec<_>>()
        .join(" ");
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let t = task.path();
            out.push_str(&format!(
                "\n  thread {} {}: {}",
                t.file_name().unwrap_or_default().to_string_lossy(),
                read(format!("{}/comm", t.display())).trim(),
                read(format!("{}/wchan", t.display()))
            ));
        }
    }
    out
}

fn vm_processes(home: &Home) -> Vec<(u32, String)> {
    processes_mentioning(&home.home.to_string_lossy())
        .into_iter()
        .filter(|(_, cmd)| !cmd.contains(env!("CARGO_BIN_EXE_workroom")))
        .collect()
}

#[test]
fn a_command_runs_after_the_person_allows_it_and_the_session_can_be_listed_shown_and_deleted() {
    let _vm = vm_test();
    let home = Home::with_model(json!({"steps": [
        {"content": [
            {"type": "text", "text": "I'll create the file with a command."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "touch made-by-agent.txt"}}
        ]},
        say("Created made-by-agent.txt for you."),
    ]}));
    let started = Instant::now();
    let mut pty = home.pty(&["run", "--folder", &home.folder_arg(), "make a file"]);
    pty.expect("Booting the VM", BOOT);
    // Keys pressed before a question is shown never answer it.
    pty.type_text("y");
    pty.expect("VM ready", BOOT);
    pty.expect("I'll create the file with a command.", STEP);
    pty.expect("● Bash  touch made-by-agent.txt", STEP);
    pty.expect("Run `touch made-by-agent.txt` in Project", STEP);
    pty.expect("m deny and say why", STEP);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !home.folder.join("made-by-agent.txt").exists() && !pty.text().contains("allowed once"),
        "nothing runs before the person answers"
    );
    pty.type_text("y");
    pty.expect("allowed once", STEP);
    pty.expect("Created made-by-agent.txt for you.", STEP);
    pty.expect("out tokens", STEP);
    pty.expect("Resume it with: workroom run --resume", STEP);
    let status = pty.wait(STEP);
    assert!(status.success(), "{status:?}\n{}", pty.text());
    assert!(home.folder.join("made-by-agent.txt").exists());
    eprintln!("allowed command: {:.1} s", started.elapsed().as_secs_f64());
    wait_until("the VM's processes to end", STEP, || {
        vm_processes(&home).is_empty()
    });

    let id = home.session_id();
    let short = &id[..8];
    let list = home.output(&["sessions"], "");
    let list_text = text(&list.stdout);
    assert!(list.status.success());
    assert!(
        list_text.contains(short)
            && list_text.contains("Project")
            && list_text.contains("just now"),
        "{list_text}"
    );
    let show = home.output(&["sessions", "show", short], "");
    let shown = text(&show.stdout);
    assert!(show.status.success(), "{}", text(&show.stderr));
    for expected in [
        "› make a file",
        "● Bash  touch made-by-agent.txt",
        "Bash allowed once by you",
        "Created made-by-agent.txt for you.",
        "out tokens",
    ] {
        assert!(
            shown.contains(expected),
            "{expected:?} missing from:\n{shown}"
        );
    }
    // What the turn changed, and undoing it: the host checkpointed the folder before the Bash ran.
    let changes = text(&home.output(&["changes", short, "--diff"], "").stdout);
    assert!(
        changes.contains("+ made-by-agent.txt") && changes.contains("Checkpoints take"),
        "{changes}"
    );
    let undo = home.output(&["undo", short], "");
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    assert!(
        !home.folder.join("made-by-agent.txt").exists(),
        "undo removed the new file"
    );
    let redo = home.output(&["undo", short, "--redo"], "");
    assert!(redo.status.success(), "{}", text(&redo.stderr));
    assert!(
        home.folder.join("made-by-agent.txt").exists(),
        "redo brought it back"
    );
    assert!(home.home.join("sessions").join(&id).exists());
    let delete = home.output(&["sessions", "delete", short], "");
    assert!(delete.status.success(), "{}", text(&delete.stderr));
    assert!(
        !home.home.join("sessions").join(&id).exists(),
        "the VM state goes too"
    );
    let list = text(&home.output(&["sessions"], "").stdout);
    assert!(list.contains("No sessions yet"), "{list}");
    let again = home.output(&["sessions", "show", short], "");
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("there is no session"));
}

#[test]
fn a_denied_rm_leaves_the_file_and_ctrl_c_interrupts_then_exits() {
    let _vm = vm_test();
    let home = Home::with_model(json!({"steps": [
        bash("rm keep.txt"),
        say("Understood, I left keep.txt alone."),
        {"content": [{"type": "text", "text": "this answer is never waited for"}], "headers_delay_ms": 120000},
    ]}));
    std::fs::write(home.folder.join("keep.txt"), "precious\n").unwrap();
    let started = Instant::now();
    // No prompt: an interactive chat.
    let mut pty = home.pty(&["run", "--folder", &home.folder_arg()]);
    pty.expect("Type a message", STEP);
    pty.type_text("please delete keep.txt\r");
    pty.expect("Run `rm keep.txt` in Project", BOOT);
    pty.expect("m deny and say why", STEP);
    pty.type_text("n");
    pty.expect("denied", STEP);
    pty.expect("Understood, I left keep.txt alone.", STEP);
    pty.expect("out tokens", STEP);
    assert_eq!(
        std::fs::read_to_string(home.folder.join("keep.txt")).unwrap(),
        "precious\n"
    );
    let history = last_request_history(home.model());
    assert!(
        history.contains("denied"),
        "the agent heard the denial: {history}"
    );

    // A slow answer: the first Ctrl-C interrupts the turn, the chat goes on.
    pty.type_text("take your time\r");
    let model = home.model();
    wait_until("the slow model request", STEP, || {
        model_requests(model) >= 3
    });
    pty.type_text("\x03");
    pty.expect("Interrupting", STEP);
    pty.expect("interrupted", STEP);
    // Two Ctrl-C in a row leave; the VM is shut down and the session can be resumed.
    std::thread::sleep(Duration::from_millis(2200));
    pty.type_text("\x03");
    pty.expect("Press Ctrl-C again", STEP);
    pty.type_text("\x03");
    pty.expect("Resume it with: workroom run --resume", STEP);
    let status = pty.wait(STEP);
    assert_eq!(status.code(), Some(130), "{}", pty.text());
    eprintln!("deny + interrupt: {:.1} s", started.elapsed().as_secs_f64());
    wait_until("the VM's processes to end", STEP, || {
        vm_processes(&home).is_empty()
    });
    assert!(home.folder.join("keep.txt").exists());
}

#[test]
fn a_session_killed_mid_turn_resumes_with_its_history_and_leaves_no_vm_behind() {
    let _vm = vm_test();
    let home = Home::with_model(json!({"steps": [
        say("I will remember the word banana."),
        {"content": [{"type": "text", "text": "this answer never arrives"}], "headers_delay_ms": 120000},
        say("The word was banana."),
    ]}));
    let started = Instant::now();
    let mut pty = home.pty(&["run", "--folder", &home.folder_arg()]);
    pty.expect("Type a message", STEP);
    pty.type_text("remember the word banana\r");
    pty.expect("I will remember the word banana.", BOOT);
    pty.expect("out tokens", STEP);
    pty.type_text("this turn will be cut short\r");
    let model = home.model();
    wait_until("the second model request", STEP, || {
        model_requests(model) >= 2
    });
    let helpers = vm_processes(&home);
    let names: Vec<&str> = helpers.iter().map(|(_, cmd)| cmd.as_str()).collect();
    assert!(
        names.iter().any(|c| c.contains("qemu-system"))
            && names.iter().any(|c| c.contains("virtiofsd"))
            && names.iter().any(|c| c.contains("vhost-device-vsock")),
        "the VM's processes are visible while it runs: {names:#?}"
    );
    pty.kill();
    wait_until(
        "the VM's processes to die with the host",
        Duration::from_secs(10),
        || vm_processes(&home).is_empty(),
    );

    // A script resumes it (no terminal), by a prefix of its id.
    let id = home.session_id();
    let out = home.output(&["run", "--resume", &id[..8], "what was the word?"], "");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("The word was banana."), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no colours or spinners when the output is not a terminal: {stdout:?}"
    );
    let history = last_request_history(model);
    assert!(
        history.contains("remember the word banana")
            && history.contains("I will remember the word banana."),
        "the resumed agent had the earlier messages: {history}"
    );
    eprintln!("kill + resume: {:.1} s", started.elapsed().as_secs_f64());
    wait_until("the VM's processes to end", STEP, || {
        vm_processes(&home).is_empty()
    });
}

#[test]
fn two_sessions_run_at_the_same_time_in_two_vms() {
    let _vm = vm_test();
    let started = Instant::now();
    // One data directory (one database), two folders, two model servers.
    let a = Home::with_model(json!({"steps": [
        {"content": [{"type": "text", "text": "Answer for session A."}], "headers_delay_ms": 2000},
    ]}));
    let mut b = Home::bare();
    b.home = a.home.clone();
    b.model = Some(
        FakeModel::start(
            Script::from_json_str(
                &json!({"steps": [
                    {"content": [{"type": "text", "text": "Answer for session B."}], "headers_delay_ms": 2000},
                ]})
                .to_string(),
            )
            .unwrap(),
        )
        .unwrap(),
    );
    let spawn = |home: &Home, prompt: &str| {
        home.command(&["run", "--folder", &home.folder_arg(), prompt])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn(&a, "question A");
    let mut second = spawn(&b, "question B");
    // Both agents are waiting for their models at once: two VMs are up side by side.
    let deadline = Instant::now() + BOOT;
    while model_requests(a.model()) < 1 || model_requests(b.model()) < 1 {
        let exited = first.try_wait().unwrap().is_some() || second.try_wait().unwrap().is_some();
        if exited || Instant::now() > deadline {
            for pid in [first.id(), second.id()] {
                eprintln!("process {pid}: {}", describe_process(pid));
            }
            let _ = (first.kill(), second.kill());
            let (first, second) = (
                first.wait_with_output().unwrap(),
                second.wait_with_output().unwrap(),
            );
            panic!(
                "the sessions did not both reach their models; A ({:?}):\n{}{}\nB ({:?}):\n{}{}",
                first.status,
                text(&first.stdout),
                text(&first.stderr),
                second.status,
                text(&second.stdout),
                text(&second.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(first.try_wait().unwrap().is_none() && second.try_wait().unwrap().is_none());
    let qemus = processes_mentioning(&a.home.to_string_lossy())
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("qemu-system"))
        .count();
    assert_eq!(qemus, 2, "one VM per session");
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    for (out, answer) in [
        (&first, "Answer for session A."),
        (&second, "Answer for session B."),
    ] {
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        assert!(stdout.contains(answer), "{stdout}");
    }
    assert_eq!(a.store().sessions().unwrap().len(), 2);
    eprintln!(
        "two sessions at once: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn provider_errors_are_shown_in_words_and_the_transcript_is_kept() {
    let _vm = vm_test();
    let home = Home::with_model(json!({"steps": [
        {"error": {"status": 500, "message": "the model service fell over", "headers": {"x-should-retry": "false"}}},
        {"error": {"status": 400, "type": "invalid_request_error", "message": "prompt is too long"}},
    ]}));
    let started = Instant::now();
    // A script feeding two messages on stdin, one per line.
    let out = home.output(
        &["run", "--folder", &home.folder_arg()],
        "first question\nsecond question\n",
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for expected in [
        "API Error: 500",
        "the model service fell over",
        "API Error: 400",
        "prompt is too long",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    let id = home.session_id();
    let shown = text(&home.output(&["sessions", "show", &id], "").stdout);
    for expected in [
        "› first question",
        "› second question",
        "fell over",
        "prompt is too long",
    ] {
        assert!(
            shown.contains(expected),
            "{expected:?} missing from:\n{shown}"
        );
    }
    eprintln!("provider errors: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_vm_that_cannot_boot_is_explained_with_where_its_console_log_is() {
    let _vm = vm_test();
    let home = Home::bare();
    // A damaged kernel: QEMU refuses it at once.
    let images = home.home.join("images").join("x86_64");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("kernel"), vec![0x42u8; 64 * 1024]).unwrap();
    let source = image_source();
    for file in ["initramfs.cpio.gz", "manifest.json"] {
        std::os::unix::fs::symlink(source.join(file), images.join(file)).unwrap();
    }
    let out = home.output(&["run", "--folder", &home.folder_arg(), "hello"], "");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("The VM could not start: QEMU stopped"),
        "{stdout}"
    );
    let id = home.session_id();
    let log = home.home.join("sessions").join(&id).join("console.log");
    assert!(
        stdout.contains(&format!("The whole console log is in {}", log.display())),
        "{stdout}"
    );
    // The session stays and can be resumed once the image is fixed; the undelivered message is kept
    // in the transcript, marked as not delivered.
    let shown = text(&home.output(&["sessions", "show", &id], "").stdout);
    assert!(
        shown.contains("hello") && shown.contains("not delivered"),
        "{shown}"
    );
    assert!(stdout.contains("workroom run --resume"), "{stdout}");
}

#[test]
fn bad_input_is_refused_in_words_before_anything_is_created() {
    let home = Home::bare();
    // No image yet.
    let out = home.output(&["run", "--folder", &home.folder_arg(), "hello"], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("guest image") && stderr.contains("workroom image build"),
        "{stderr}"
    );
    // A folder that is not there.
    link_image(&home.home);
    let missing = home.folder.join("nope");
    let out = home.output(
        &["run", "--folder", &missing.to_string_lossy(), "hello"],
        "",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("does not exist"), "{stderr}");
    // No folder at all.
    let out = home.output(&["run", "hello"], "");
    assert!(text(&out.stderr).contains("choose a folder"));
    // A connector configuration that cannot work.
    let out = home.output(
        &[
            "run",
            "--folder",
            &home.folder_arg(),
            "--mcp-config",
            r#"{"mcpServers": {"calc": {}}}"#,
            "hello",
        ],
        "",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("--mcp-config") && stderr.contains("either a command"),
        "{stderr}"
    );
    // No credentials.
    let mut command = home.command(&["run", "--folder", &home.folder_arg(), "hello"]);
    command.env_remove("ANTHROPIC_API_KEY");
    let out = run_with_input(command, "");
    assert!(
        text(&out.stderr).contains("no model credentials"),
        "{}",
        text(&out.stderr)
    );
    // QEMU and the daemons missing: each with the command that installs it.
    let empty = tempfile::tempdir().unwrap();
    let mut command = home.command(&["run", "--folder", &home.folder_arg(), "hello"]);
    command.env("PATH", empty.path()).env("HOME", empty.path());
    let out = run_with_input(command, "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("apt-get install qemu-system-x86")
            && stderr.contains("cargo install --locked vhost-device-vsock"),
        "{stderr}"
    );
    // Unknown ids and settings.
    let out = home.output(&["sessions", "show", "0000"], "");
    assert!(text(&out.stderr).contains("there is no session 0000"));
    let out = home.output(&["config", "set", "idle_seconds", "soon"], "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("whole number"));
    let out = home.output(&["config", "set", "colour", "blue"], "");
    assert!(text(&out.stderr).contains("there is no setting colour"));
    // None of it created a session.
    let list = text(&home.output(&["sessions"], "").stdout);
    assert!(list.contains("No sessions yet"), "{list}");
}

#[test]
fn settings_are_saved_and_read_back() {
    let home = Home::bare();
    let out = home.output(&["config", "set", "idle_seconds", "30"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = home.output(&["config", "get", "idle_seconds"], "");
    assert_eq!(text(&out.stdout).trim(), "30");
    let all = text(&home.output(&["config", "get"], "").stdout);
    for key in [
        "provider",
        "base_url",
        "model",
        "vm_memory_mib",
        "idle_seconds",
        "boot_timeout_secs",
    ] {
        assert!(all.contains(key), "{key} missing from:\n{all}");
    }
    assert!(all.contains("saved"), "{all}");
    // Unset: back to the default.
    let out = home.output(&["config", "unset", "idle_seconds"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = home.output(&["config", "get", "idle_seconds"], "");
    assert_eq!(text(&out.stdout).trim(), "600");
}

#[test]
fn doctor_says_what_is_missing_and_never_prints_the_key() {
    let home = Home::bare();
    let mut command = home.command(&["doctor"]);
    command.env_remove("ANTHROPIC_API_KEY");
    let out = run_with_input(command, "");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✗ guest image (x86_64)"), "{stdout}");
    assert!(
        stdout.contains("fix: workroom image build --arch x86_64"),
        "{stdout}"
    );
    assert!(stdout.contains("✗ model credentials"), "{stdout}");
    assert!(stdout.contains("✓ data directory"), "{stdout}");

    link_image(&home.home);
    let mut command = home.command(&["doctor"]);
    command.env("ANTHROPIC_API_KEY", "sk-ant-very-secret-key");
    let out = run_with_input(command, "");
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("very-secret"), "{stdout}");
    assert!(stdout.contains("✓ guest image (x86_64)"), "{stdout}");
    assert!(stdout.contains("✓ model credentials"), "{stdout}");
    for tool in [
        "qemu-system-x86_64",
        "virtiofsd",
        "vhost-device-vsock",
        "accelerator",
        "free disk space",
    ] {
        assert!(stdout.contains(tool), "{tool} missing from:\n{stdout}");
    }
    // The VM tests need the tools, so on a machine that runs them everything is there.
    assert!(out.status.success(), "{stdout}");
}

#[test]
fn a_damaged_transcript_row_is_skipped_and_counted() {
    let home = Home::bare();
    let store = home.store();
    store
        .create_session(
            "5e551011-damaged",
            "Damaged",
            std::slice::from_ref(&home.folder),
            None,
            "default",
        )
        .unwrap();
    let user = json!({"type": "user", "message": {"role": "user", "content": "first words"}});
    store
        .append_frame("5e551011-damaged", Direction::In, &user)
        .unwrap();
    let lost = json!({"type": "assistant", "message": {"id": "m1", "content": [{"type": "text", "text": "lost words"}]}});
    store
        .append_frame("5e551011-damaged", Direction::Out, &lost)
        .unwrap();
    let kept = json!({"type": "assistant", "message": {"id": "m2", "content": [{"type": "text", "text": "kept words"}]}});
    store
        .append_frame("5e551011-damaged", Direction::Out, &kept)
        .unwrap();
    drop(store);
    let db = rusqlite::Connection::open(home.home.join("workroom.db")).unwrap();
    db.execute(
        "UPDATE frames SET body = '{\"type\": \"assis' WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(db);

    let out = home.output(&["sessions", "show", "5e55"], "");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("first words") && stdout.contains("kept words"),
        "{stdout}"
    );
    assert!(!stdout.contains("lost words"));
    assert!(stdout.contains("1 damaged frame"), "{stdout}");
    let list = text(&home.output(&["sessions"], "").stdout);
    assert!(list.contains("Damaged"), "{list}");
}

/// Unmounts the test's tmpfs when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_reported_in_words_and_nothing_saved_is_lost() {
    // A small tmpfs stands in for the full disk; mounting one needs root.
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(mnt.path())
        .output();
    match mounted {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipped: cannot mount a tmpfs to fill up ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: cannot run mount ({e})");
            return;
        }
    }
    let _unmount = Mounted(mnt.path().to_path_buf());
    let mut home = Home::bare();
    home.home = mnt.path().join("home");
    std::fs::create_dir_all(&home.home).unwrap();
    link_image(&home.home);

    // A session saved before the disk filled up. The store stays open, so its write-ahead log and
    // shared-memory files keep the space they have: reading needs no new space, writing does.
    let store = home.store();
    store
        .create_session(
            "f011d15c-before",
            "Before",
            std::slice::from_ref(&home.folder),
            None,
            "default",
        )
        .unwrap();
    let user = json!({"type": "user", "message": {"role": "user", "content": "remember this"}});
    store
        .append_frame("f011d15c-before", Direction::In, &user)
        .unwrap();
    let said = json!({"type": "assistant", "message": {"id": "m1", "content": [{"type": "text", "text": "Remembered."}]}});
    store
        .append_frame("f011d15c-before", Direction::Out, &said)
        .unwrap();
    let filler = mnt.path().join("filler");
    fill(&filler);

    let out = home.output(&["run", "--folder", &home.folder_arg(), "new work"], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is full") && stderr.contains("nothing already saved was lost"),
        "{stderr}"
    );
    let out = home.output(&["sessions", "show", "f011"], "");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("remember this") && stdout.contains("Remembered."),
        "{stdout}"
    );

    std::fs::remove_file(&filler).unwrap();
    drop(store);
    let sessions = home.store().sessions().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].title, "Before");
}

/// Writes to `path` until the disk has no byte left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for size in [chunk.len(), 4096, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
    let _ = file.sync_all();
}
