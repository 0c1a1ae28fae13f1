//! `workroom run`: one session, driven from the terminal.
//!
//! The chat loop waits on three things at once: the session's events, Ctrl-C, and what the person
//! types (read on the input thread, one line or one key at a time). A turn starts when a message is
//! sent and ends with the agent's `result` frame, a VM failure, or a boot that did not work.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tokio::signal::unix::{signal, SignalKind};
use workroom_host::session::{
    undo::FolderEstimate, Host, NewSession, PermissionAnswer, PermissionPrompt, SendOptions,
    SessionEvent, SessionHandle, VmState,
};
use workroom_host::store::SessionRecord;
use workroom_host::vm::Arch;

use crate::args::RunArgs;
use crate::input::{self, Got, Input, Key, Want};
use crate::prompt::{self, Choice};
use crate::render::{seconds, Renderer};
use crate::setup::{self, App};
use crate::term::{self, cyan, dim, Screen};

/// Two Ctrl-C presses closer together than this exit.
const DOUBLE_CTRL_C: Duration = Duration::from_secs(2);
/// Exit code after Ctrl-C, as shells expect (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

pub async fn run(app: &App, args: RunArgs) -> anyhow::Result<ExitCode> {
    let (host, record, resumed) = prepare(app, &args)?;
    let handle = host
        .open_session(&record.id)
        .context("the session could not be opened")?;
    let view = if args.json {
        View::Json
    } else {
        View::Readable(Box::new(Renderer::live(Screen::new())))
    };
    let mut chat = Chat {
        app: app.clone(),
        id: record.id.clone(),
        handle: Some(handle),
        view,
        input: Input::start(),
        one_shot: args.prompt.is_some(),
        turn: None,
        vm_running: false,
        booting: false,
        questions: VecDeque::new(),
        asking: None,
        last_ctrl_c: None,
        input_ended: false,
        last_turn_ok: true,
        finished: None,
        without_undo: args.no_undo,
        over_cap: None,
    };
    chat.header(&record, resumed);
    chat.go(args.prompt).await
}

/// Checks everything a session needs before touching the database, so bad input costs nothing;
/// then creates the session or finds the one to resume.
fn prepare(app: &App, args: &RunArgs) -> anyhow::Result<(Host, SessionRecord, bool)> {
    let folders = args
        .folders
        .iter()
        .map(|f| setup::existing_folder(f))
        .collect::<anyhow::Result<Vec<PathBuf>>>()?;
    let resuming = args.resume.is_some() || args.continue_;
    if folders.is_empty() && !resuming {
        bail!("choose a folder for the agent to work on: workroom run --folder DIR [PROMPT]");
    }
    workroom_host::image::locate(&app.images, Arch::default())?;
    let backend = setup::vm_backend(app)?;
    if let Some(config) = &args.mcp_config {
        // Checked now, so a typo is reported before a VM boots.
        workroom_host::connectors::load(config)
            .with_context(|| "--mcp-config is not usable".to_string())?;
    }
    let mcp_config = args.mcp_config.clone();
    let host = app.host_with(backend, |settings| {
        if let Some(config) = mcp_config {
            settings.mcp_config = Some(config);
        }
    })?;
    if !host.settings().has_credentials() {
        bail!(
            "no model credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment, \
             or use a local model with `workroom config set provider openai`"
        );
    }
    let store = host.store();
    let record = match (&args.resume, args.continue_) {
        (Some(id), _) => Some(crate::sessions::resolve(store, id)?),
        (None, true) => Some(latest(&host, &folders)?),
        (None, false) => None,
    };
    let Some(record) = record else {
        let options = NewSession {
            title: None,
            model: args.model.clone(),
            permission_mode: args.permission_mode.map(|m| m.as_str().to_string()),
        };
        return Ok((host.clone(), host.create_session(&folders, options)?, false));
    };
    for folder in &record.folders {
        if !folder.is_dir() {
            bail!(
                "the folder {} of this session is gone; put it back to continue the session",
                folder.display()
            );
        }
    }
    if !folders.is_empty() && folders != record.folders {
        term::warning(&format!(
            "the session keeps its own folders ({}); --folder is ignored when resuming",
            record
                .folders
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if args.model.is_some() || args.permission_mode.is_some() {
        store.update_session(
            &record.id,
            None,
            args.model.as_deref(),
            args.permission_mode.map(|m| m.as_str()),
        )?;
    }
    let record = store.session(&record.id)?;
    Ok((host, record, true))
}

/// The most recently used session, over `folders` when some are given.
fn latest(host: &Host, folders: &[PathBuf]) -> anyhow::Result<SessionRecord> {
    let sessions = host.store().sessions()?;
    sessions
        .into_iter()
        .find(|s| folders.is_empty() || s.folders == folders)
        .context(if folders.is_empty() {
            "there is no session to continue yet; start one with: workroom run --folder DIR"
        } else {
            "there is no session over these folders yet; leave out --continue to start one"
        })
}

enum View {
    Readable(Box<Renderer>),
    Json,
}

/// A permission question being answered.
struct Asking {
    prompt: PermissionPrompt,
    /// `m` was pressed: the next line is the message for the agent.
    want_message: bool,
    /// An `AskUserQuestion`: its questions, answered one line each, and the answers so far.
    questions: Vec<prompt::Question>,
    answers: std::collections::BTreeMap<String, String>,
}

struct Chat {
    app: App,
    id: String,
    handle: Option<SessionHandle>,
    view: View,
    input: Input,
    one_shot: bool,
    /// When the running turn started.
    turn: Option<Instant>,
    vm_running: bool,
    /// A message was sent while the VM was down: it is booting for it.
    booting: bool,
    /// Questions waiting for their turn (the agent may ask about parallel tool calls).
    questions: VecDeque<PermissionPrompt>,
    asking: Option<Asking>,
    last_ctrl_c: Option<Instant>,
    /// stdin is closed: exit once the agent is idle.
    input_ended: bool,
    /// How the last turn ended (the exit code when input ends after it).
    last_turn_ok: bool,
    finished: Option<ExitCode>,
    /// `--no-undo`: every message goes without a checkpoint.
    without_undo: bool,
    /// A message refused for the undo cap, sent again by `/no-undo`.
    over_cap: Option<String>,
}

/// What woke the loop.
enum Wake {
    Event(Option<SessionEvent>),
    CtrlC,
    Input(Got),
}

impl Chat {
    fn header(&mut self, record: &SessionRecord, resumed: bool) {
        let folders = record
            .folders
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let verb = if resumed { "Resuming" } else { "New" };
        let line = format!(
            "{verb} session {} · {} · {folders}",
            record.id, record.title
        );
        match &mut self.view {
            View::Readable(r) => {
                r.note(&line);
                if !self.one_shot && term::stdin_is_terminal() {
                    r.note("Type a message and press Enter. Ctrl-C interrupts the agent; press it twice to leave.");
                }
            }
            View::Json => eprintln!("{line}"),
        }
    }

    async fn go(&mut self, prompt: Option<String>) -> anyhow::Result<ExitCode> {
        let mut interrupts = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        if let Some(prompt) = prompt {
            self.send(prompt);
        }
        loop {
            self.ask_for_input();
            if let Some(code) = self.finished {
                self.close().await;
                return Ok(code);
            }
            let Some(handle) = self.handle.as_mut() else {
                return Ok(ExitCode::FAILURE);
            };
            let wake = tokio::select! {
                event = handle.next_event() => Wake::Event(event),
                _ = interrupts.recv() => Wake::CtrlC,
                got = self.input.next() => Wake::Input(got),
            };
            match wake {
                Wake::Event(Some(event)) => self.on_event(event),
                Wake::Event(None) => {
                    self.failure("the session ended unexpectedly");
                    self.finished = Some(ExitCode::FAILURE);
                }
                Wake::CtrlC => self.on_ctrl_c(),
                Wake::Input(got) => self.on_input(got),
            }
        }
    }

    fn renderer(&mut self) -> Option<&mut Renderer> {
        match &mut self.view {
            View::Readable(r) => Some(r),
            View::Json => None,
        }
    }

    fn note(&mut self, text: &str) {
        match self.renderer() {
            Some(r) => r.note(text),
            None => eprintln!("{text}"),
        }
    }

    fn failure(&mut self, text: &str) {
        match self.renderer() {
            Some(r) => r.failure(text),
            None => term::error(text),
        }
    }

    fn spin(&mut self, message: String) {
        if let Some(r) = self.renderer() {
            r.screen.spin(message);
        }
    }

    /// Starts a read when the loop needs one: the next question's key, or the next message.
    fn ask_for_input(&mut self) {
        if self.input.outstanding().is_some() || self.finished.is_some() {
            return;
        }
        if self.asking.is_none() {
            if let Some(prompt) = self.questions.pop_front() {
                input::discard_typed_ahead();
                let questions = if prompt.tool_name == "AskUserQuestion" {
                    prompt::questions(&prompt.input)
                } else {
                    Vec::new()
                };
                if let Some(first) = questions.first() {
                    let total = questions.len();
                    if let Some(r) = self.renderer() {
                        prompt::ask_question(&mut r.screen, first, 0, total);
                    }
                    self.asking = Some(Asking {
                        prompt,
                        want_message: false,
                        questions,
                        answers: Default::default(),
                    });
                    self.want_line();
                    return;
                }
                if let Some(r) = self.renderer() {
                    prompt::ask(&mut r.screen, &prompt);
                }
                self.asking = Some(Asking {
                    prompt,
                    want_message: false,
                    questions,
                    answers: Default::default(),
                });
                self.input.want(Want::Key);
                return;
            }
        }
        if self.asking.is_some() {
            return;
        }
        if self.turn.is_none() {
            if self.one_shot || self.input_ended {
                return;
            }
            let tty = term::stdin_is_terminal();
            if let Some(r) = self.renderer() {
                if tty {
                    r.screen.ask(format!("{} ", cyan().bold().apply_to("›")));
                }
            }
            self.want_line();
        }
    }

    /// Reads a line, which the person sees as they type it.
    fn want_line(&mut self) {
        input::set_echo(true);
        self.input.want(Want::Line);
    }

    fn send(&mut self, text: String) {
        self.send_with(text, self.without_undo);
    }

    fn send_with(&mut self, text: String, without_undo: bool) {
        let Some(handle) = &self.handle else { return };
        handle.send_with(text, SendOptions { without_undo });
        input::set_echo(false);
        self.turn = Some(Instant::now());
        self.last_ctrl_c = None;
        if self.vm_running {
            self.spin("thinking".into());
        } else {
            self.booting = true;
            self.spin("Booting the VM".into());
        }
    }

    fn end_turn(&mut self, ok: bool) {
        self.turn = None;
        self.last_turn_ok = ok;
        self.booting = false;
        self.questions.clear();
        self.asking = None;
        self.input.cancel_key();
        if let Some(r) = self.renderer() {
            r.screen.stop_spin();
        }
        if self.one_shot || self.input_ended {
            self.finished = Some(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    }

    fn on_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Vm(state) => self.on_vm(state),
            SessionEvent::Frame { frame } => self.on_frame(frame),
            SessionEvent::Permission(prompt) => self.on_permission(prompt),
            SessionEvent::PermissionWithdrawn { request_id } => {
                self.questions.retain(|q| q.request_id != request_id);
                if self
                    .asking
                    .as_ref()
                    .is_some_and(|a| a.prompt.request_id == request_id)
                {
                    self.asking = None;
                    self.input.cancel_key();
                    self.note("(the question was withdrawn)");
                }
            }
            SessionEvent::AutoAllowed {
                summary, reason, ..
            } => {
                if let Some(r) = self.renderer() {
                    r.auto_allowed(&summary, &reason);
                }
            }
            SessionEvent::Error { message } => {
                if self.booting {
                    self.boot_failed(&message);
                } else {
                    match self.renderer() {
                        Some(r) => r.warning(&message),
                        None => eprintln!("warning: {message}"),
                    }
                }
            }
            SessionEvent::UndoOverCap {
                text,
                cap_bytes,
                folders,
            } => self.over_undo_cap(text, cap_bytes, &folders),
            SessionEvent::Closed => {
                self.finished.get_or_insert(ExitCode::FAILURE);
            }
        }
    }

    /// The message was not sent: its checkpoint would be too big. Say so, and how to go on.
    fn over_undo_cap(&mut self, text: String, cap_bytes: u64, folders: &[FolderEstimate]) {
        let mib = |b: u64| b.div_ceil(1 << 20);
        for f in folders {
            self.failure(&format!(
                "Undo needs a checkpoint of {} that would copy {} MiB, more than the {} MiB limit (checkpoint_max_mb). The message was not sent.",
                f.folder.display(),
                mib(f.bytes),
                mib(cap_bytes)
            ));
        }
        if self.one_shot || self.input_ended {
            self.note("Run it again with --no-undo to go on without undo, or raise the limit: workroom config set checkpoint_max_mb N");
        } else {
            self.note("Type /no-undo to send it without undo (that turn cannot be undone), or another message.");
            self.over_cap = Some(text);
        }
        self.end_turn(false);
    }

    fn on_vm(&mut self, state: VmState) {
        match state {
            VmState::Booting { step } => {
                self.booting = true;
                match &mut self.view {
                    View::Readable(r) if r.screen.is_fancy() => {
                        r.screen.spin(format!("Booting the VM: {step}"));
                    }
                    _ => eprintln!("Booting the VM: {step}"),
                }
            }
            VmState::Running {
                accel,
                boot_ms,
                userland,
                userland_error,
            } => {
                self.vm_running = true;
                self.booting = false;
                let turn = self.turn.is_some();
                if let Some(r) = self.renderer() {
                    r.note(&format!(
                        "VM ready ({accel}, booted in {}, {userland} toolset)",
                        seconds(boot_ms)
                    ));
                    if let Some(error) = userland_error {
                        r.failure(&format!(
                            "the full toolset did not start ({error}); shell commands use the minimal one"
                        ));
                    }
                    if turn {
                        r.screen.spin("thinking");
                    }
                }
            }
            VmState::Stopped { reason } => {
                self.vm_running = false;
                // While the person is typing, a note would land in the middle of their line.
                if self.turn.is_some() {
                    self.note(&format!("VM stopped: {reason}"));
                }
            }
            VmState::Failed {
                reason,
                console_tail,
            } => {
                self.vm_running = false;
                self.booting = false;
                self.failure(&reason);
                self.console_hint(&console_tail);
                if self.turn.is_some() {
                    self.end_turn(false);
                }
            }
        }
    }

    fn boot_failed(&mut self, message: &str) {
        self.failure(&format!("The VM could not start: {message}"));
        self.console_hint("");
        if !self.one_shot {
            self.note("Your message was not sent; send it again once the problem is fixed.");
        }
        self.end_turn(false);
    }

    /// Where the guest's console log is (and its last lines, when known).
    fn console_hint(&mut self, tail: &str) {
        let log = self.app.console_log(&self.id);
        let last: Vec<&str> = tail.lines().rev().take(5).collect();
        if !last.is_empty() {
            self.note("The guest console ended with:");
            for line in last.iter().rev() {
                self.note(&format!("  {line}"));
            }
        }
        if log.exists() {
            self.note(&format!("The whole console log is in {}", log.display()));
        }
    }

    fn on_frame(&mut self, frame: Value) {
        let kind = frame["type"].as_str().unwrap_or_default().to_string();
        match &mut self.view {
            View::Json => println!("{frame}"),
            View::Readable(r) => {
                r.frame(&frame);
                // Between the model's answer and the next step, say what is going on.
                if self.turn.is_some() && kind != "result" && !r.screen.spinning() {
                    match r.tool_running().map(str::to_string) {
                        Some(tool) if self.asking.is_none() => {
                            r.screen.spin(format!("{tool} running"))
                        }
                        _ if kind == "user" => r.screen.spin("thinking"),
                        _ => {}
                    }
                }
            }
        }
        if kind == "result" {
            self.end_turn(frame["is_error"] != true);
        }
    }

    fn on_permission(&mut self, prompt: PermissionPrompt) {
        if matches!(self.view, View::Json) {
            // Nobody to ask: the call is denied, and the agent hears so.
            eprintln!("denied (no one to ask with --json): {}", prompt.summary);
            if let Some(handle) = &self.handle {
                handle.answer(&prompt.request_id, PermissionAnswer::Deny);
            }
            return;
        }
        if let Some(r) = self.renderer() {
            r.screen.stop_spin();
        }
        self.questions.push_back(prompt);
    }

    fn answer(&mut self, answer: PermissionAnswer) {
        let Some(asking) = self.asking.take() else {
            return;
        };
        let allowed = answer.allows();
        if let Some(r) = self.renderer() {
            prompt::echo(&mut r.screen, &answer);
            r.tool_allowed(asking.prompt.tool_use_id.as_deref());
        }
        if let Some(handle) = &self.handle {
            handle.answer(&asking.prompt.request_id, answer);
        }
        if self.questions.is_empty() && self.turn.is_some() {
            self.spin(if allowed {
                format!("{} running", asking.prompt.tool_name)
            } else {
                "thinking".into()
            });
        }
    }

    fn on_input(&mut self, got: Got) {
        match got {
            Got::Key(key) => self.on_key(key),
            Got::Line(line) => {
                if let Some(r) = self.renderer() {
                    r.screen.answered();
                }
                if self.turn.is_some() {
                    input::set_echo(false);
                }
                if self
                    .asking
                    .as_ref()
                    .is_some_and(|a| !a.questions.is_empty())
                {
                    self.on_question_line(line);
                    return;
                }
                if let Some(asking) = &self.asking {
                    if asking.want_message {
                        let message = line.unwrap_or_default().trim().to_string();
                        self.answer(if message.is_empty() {
                            PermissionAnswer::Deny
                        } else {
                            PermissionAnswer::DenyWithMessage(message)
                        });
                    }
                    return;
                }
                match line {
                    None => {
                        self.input_ended = true;
                        if self.turn.is_none() {
                            self.finished = Some(if self.last_turn_ok {
                                ExitCode::SUCCESS
                            } else {
                                ExitCode::FAILURE
                            });
                        }
                    }
                    Some(line) => {
                        let text = line.trim();
                        let stashed = self.over_cap.take();
                        if matches!(text, "/exit" | "/quit") {
                            self.finished = Some(ExitCode::SUCCESS);
                        } else if let (Some(stashed), "/no-undo") = (stashed, text) {
                            self.send_with(stashed, true);
                        } else if !text.is_empty() {
                            if !term::stdin_is_terminal() {
                                if let Some(r) = self.renderer() {
                                    r.user_message(text);
                                }
                            }
                            self.send(text.to_string());
                        }
                    }
                }
            }
        }
    }

    /// One typed answer to the current question of an `AskUserQuestion`; the last one sends them.
    fn on_question_line(&mut self, line: Option<String>) {
        let Some(asking) = &mut self.asking else {
            return;
        };
        let index = asking.answers.len();
        let Some(question) = asking.questions.get(index).cloned() else {
            return;
        };
        let Some(answer) = line
            .as_deref()
            .and_then(|l| prompt::answer_of(&question, l))
        else {
            // An empty line (or no more input) skips the questions: the agent goes on without.
            if line.is_none() {
                self.input_ended = true;
            }
            self.answer(PermissionAnswer::Deny);
            return;
        };
        asking.answers.insert(question.text.clone(), answer);
        let next = asking.questions.get(index + 1).cloned();
        let total = asking.questions.len();
        match next {
            Some(next) => {
                if let Some(r) = self.renderer() {
                    prompt::ask_question(&mut r.screen, &next, index + 1, total);
                }
                self.want_line();
            }
            None => {
                let answers = std::mem::take(&mut asking.answers);
                self.answer(PermissionAnswer::Answers(answers));
            }
        }
    }

    fn on_key(&mut self, key: Key) {
        let Some(asking) = &mut self.asking else {
            return;
        };
        if asking.want_message {
            return;
        }
        let tool = asking.prompt.tool_name.clone();
        match key {
            Key::Char(c) => match prompt::choice(&tool, c) {
                Choice::Answer(answer) => self.answer(answer),
                Choice::DenyWithMessage => {
                    if let Some(asking) = &mut self.asking {
                        asking.want_message = true;
                    }
                    if let Some(r) = self.renderer() {
                        r.screen.answered();
                        r.screen.line("");
                        prompt::ask_message(&mut r.screen);
                    }
                    self.want_line();
                }
                Choice::Unknown => {
                    if let Some(r) = self.renderer() {
                        r.screen.end_line();
                        prompt::ask_again(&mut r.screen, &tool);
                    }
                    self.input.want(Want::Key);
                }
            },
            Key::Interrupt => self.on_ctrl_c(),
            // No more input: nobody can say yes.
            Key::Eof => {
                self.input_ended = true;
                self.answer(PermissionAnswer::Deny);
            }
            Key::Cancelled => {}
        }
    }

    fn on_ctrl_c(&mut self) {
        let now = Instant::now();
        let again = self
            .last_ctrl_c
            .is_some_and(|t| now.duration_since(t) < DOUBLE_CTRL_C);
        self.last_ctrl_c = Some(now);
        if let Some(r) = self.renderer() {
            r.screen.stop_spin();
        }
        if again {
            self.finished = Some(ExitCode::from(EXIT_INTERRUPTED));
            return;
        }
        if self.turn.is_some() {
            self.questions.clear();
            self.asking = None;
            self.input.cancel_key();
            if let Some(handle) = &self.handle {
                handle.interrupt();
            }
            self.note("Interrupting… (press Ctrl-C again within 2 s to leave)");
        } else {
            self.note("Press Ctrl-C again within 2 s to leave (or type /exit).");
            if term::stdin_is_terminal() {
                if let Some(r) = self.renderer() {
                    r.screen.ask(format!("{} ", cyan().bold().apply_to("›")));
                }
            }
        }
    }

    /// Stops the VM (the conversation stays resumable) and says how to come back.
    async fn close(&mut self) {
        self.input.cancel_key();
        let vm_running = self.vm_running;
        if let Some(r) = self.renderer() {
            r.screen.stop_spin();
            r.screen.end_line();
            if vm_running {
                r.screen.spin("Stopping the VM");
            }
        }
        if let Some(handle) = self.handle.take() {
            handle.close().await;
        }
        let hint = format!(
            "Session saved. Resume it with: workroom run --resume {}",
            self.id
        );
        match self.renderer() {
            Some(r) => {
                r.screen.stop_spin();
                r.screen.line(dim().apply_to(hint));
            }
            None => eprintln!("{hint}"),
        }
    }
}
