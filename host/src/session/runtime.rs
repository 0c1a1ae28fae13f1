//! One session's task: boots the VM on demand, pumps frames between the front end and the agent,
//! stores everything, brokers permissions, and survives the VM going away.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use super::broker::{self, PermissionAnswer, PermissionPrompt};
use super::connection::{AgentConnection, Incoming};
use super::{set_working, Command, HostInner, SendOptions, SessionEvent, VmState};
use crate::connectors::Connectors;
use crate::folders::FolderMap;
use crate::guest::egress::{EgressEvent, EgressPolicy, EgressProxy, NetworkAnswer};
use crate::guest::model_proxy::ModelProxy;
use crate::image;
use crate::machine::Machine;
use crate::store::{Direction, SessionRecord, TurnUsage};
use crate::vm::{Arch, VmConfig, VmStatus};

/// `<data>/sessions/<id>`: console log and the agent's own state.
pub fn session_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("sessions").join(id)
}

/// Where a session's guest console is written.
pub fn console_log(data_dir: &Path, id: &str) -> PathBuf {
    session_dir(data_dir, id).join("console.log")
}

/// Whether the session goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// A running VM with its agent connection.
struct Live {
    machine: Machine,
    agent: AgentConnection,
    /// The person's MCP connectors, started on first use, stopped with the VM.
    connectors: Arc<Connectors>,
    /// Answers of connectors to the agent's `mcp_message` requests (request id, JSON-RPC answer).
    mcp_answers: mpsc::UnboundedReceiver<(String, Value)>,
    mcp_tx: mpsc::UnboundedSender<(String, Value)>,
    /// Questions and records from the VM's egress proxy.
    egress: mpsc::UnboundedReceiver<EgressEvent>,
    status: tokio::sync::watch::Receiver<VmStatus>,
    /// The VM's share of the memory cap, given back when the VM is gone.
    _lease: super::lease::MemoryLease,
}

struct Runtime {
    host: Arc<HostInner>,
    record: SessionRecord,
    folders: FolderMap,
    events: mpsc::UnboundedSender<SessionEvent>,
    live: Option<Live>,
    /// Questions waiting for the person, by request id.
    pending: HashMap<String, PermissionPrompt>,
    /// Files the agent created in this session (host paths): editing them again needs no question.
    created: HashSet<PathBuf>,
    /// Messages sent to the agent and not yet answered by a `result`, oldest first.
    in_flight: VecDeque<SendOptions>,
    /// Messages waiting for the VM to come up.
    queued: VecDeque<(String, SendOptions)>,
    last_activity: Instant,
    /// The running agent process's cumulative cost at its last result (0 for a new process).
    agent_cost_so_far: f64,
    /// The running turn's checkpoint.
    turn_checkpoint: TurnCheckpoint,
    /// Hosts the person let the agent's tools reach for this session (shared with the egress proxy).
    net_granted: Arc<std::sync::Mutex<HashSet<String>>>,
    /// Network questions waiting for the person, by request id: the host, and every connection
    /// waiting for it (several may ask about the same host at once).
    net_pending: HashMap<String, (String, Vec<oneshot::Sender<NetworkAnswer>>)>,
}

/// Where the running turn stands with undo.
#[derive(Debug, Default)]
enum TurnCheckpoint {
    /// No tool that changes files has run yet.
    #[default]
    NotYet,
    /// The folders before the turn's first mutating tool.
    Taken(Vec<(PathBuf, crate::checkpoint::SnapshotId)>),
    /// The turn runs without undo (the person chose so, or checkpointing failed).
    Without,
    /// The checkpoint went over the cap mid-turn: tools that change files are refused, because the
    /// person agreed to this turn on the promise that it could be undone.
    Refused(String),
}

/// Runs a session until it is closed or its handle is dropped.
pub(crate) async fn run(
    host: Arc<HostInner>,
    record: SessionRecord,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<SessionEvent>,
) {
    let folders = FolderMap::new(&record.id, &record.folders);
    let mut rt = Runtime {
        host,
        record,
        folders,
        events,
        live: None,
        pending: HashMap::new(),
        created: HashSet::new(),
        in_flight: VecDeque::new(),
        queued: VecDeque::new(),
        last_activity: Instant::now(),
        agent_cost_so_far: 0.0,
        turn_checkpoint: TurnCheckpoint::NotYet,
        net_granted: Arc::default(),
        net_pending: HashMap::new(),
    };
    let idle = Duration::from_secs(u64::from(rt.host.settings.idle_seconds.max(1)));
    // Commands that arrived while a VM was booting, handled once it is up.
    let mut deferred: VecDeque<Command> = VecDeque::new();
    loop {
        if let Some(command) = deferred.pop_front() {
            if rt.handle(command, &mut commands, &mut deferred).await == Flow::Close {
                break;
            }
            continue;
        }
        let idle_left = idle.saturating_sub(rt.last_activity.elapsed());
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Close) | None => break,
                Some(command) => {
                    if rt.handle(command, &mut commands, &mut deferred).await == Flow::Close {
                        break;
                    }
                }
            },
            event = from_live(&mut rt.live) => match event {
                Some(FromLive::Agent(incoming)) => rt.on_agent_frame(incoming).await,
                Some(FromLive::Egress(event)) => rt.on_egress(event),
                Some(FromLive::Mcp(id, answer)) => {
                    rt.reply(&id, json!({"mcp_response": answer})).await
                }
                None => rt.agent_gone().await,
            },
            _ = tokio::time::sleep(idle_left), if rt.live.is_some() && rt.is_quiet() => {
                rt.stop_vm("stopped after being idle; it starts again with the next message").await;
            }
        }
    }
    rt.stop_vm("the session was closed").await;
    rt.record_turn_changes().await;
    set_working(&rt.record.id, false);
    let _ = rt.events.send(SessionEvent::Closed);
}

/// What a running VM says.
enum FromLive {
    /// A frame from the agent.
    Agent(Incoming),
    /// A question or record from the egress proxy.
    Egress(EgressEvent),
    /// A connector's answer to the agent's `mcp_message`.
    Mcp(String, Value),
}

/// The next thing from the VM; `None` when the agent's connection closed or the VM ended.
async fn from_live(live: &mut Option<Live>) -> Option<FromLive> {
    let Some(live) = live else {
        return std::future::pending().await;
    };
    tokio::select! {
        incoming = live.agent.next() => incoming.map(FromLive::Agent),
        Some(event) = live.egress.recv() => Some(FromLive::Egress(event)),
        Some((id, answer)) = live.mcp_answers.recv() => Some(FromLive::Mcp(id, answer)),
        _ = live.status.wait_for(VmStatus::is_ended) => None,
    }
}

impl Runtime {
    fn emit(&self, event: SessionEvent) {
        let _ = self.events.send(event);
    }

    fn is_quiet(&self) -> bool {
        self.in_flight.is_empty() && self.pending.is_empty() && self.queued.is_empty()
    }

    /// Stores a frame; a failing store is reported but never stops the session.
    fn record(&self, direction: Direction, frame: &Value) {
        if let Err(e) = self
            .host
            .store
            .append_frame(&self.record.id, direction, frame)
        {
            self.emit(SessionEvent::Error {
                message: format!("The transcript could not be saved: {e}"),
            });
        }
    }

    async fn handle(
        &mut self,
        command: Command,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        deferred: &mut VecDeque<Command>,
    ) -> Flow {
        self.last_activity = Instant::now();
        match command {
            Command::Send(text, options) => {
                if !options.without_undo {
                    let over = over_undo_cap(self.host.clone(), self.record.folders.clone()).await;
                    if let Some((cap_bytes, folders)) = over {
                        self.emit(SessionEvent::UndoOverCap {
                            text,
                            cap_bytes,
                            folders,
                        });
                        return Flow::Continue;
                    }
                }
                self.queued.push_back((text, options));
                if self.live.is_none() {
                    // Booting takes seconds: keep listening, so closing the session stops the boot
                    // (dropping the boot kills the half-started VM) and other commands wait their turn.
                    let booted = {
                        let boot = self.boot();
                        tokio::pin!(boot);
                        loop {
                            tokio::select! {
                                result = &mut boot => break Some(result),
                                command = commands.recv() => match command {
                                    Some(Command::Close) | None => break None,
                                    Some(other) => deferred.push_back(other),
                                },
                            }
                        }
                    };
                    let Some(booted) = booted else {
                        for (text, _) in self.queued.drain(..).collect::<Vec<_>>() {
                            self.record(Direction::Host, &json!({"type": "workroom_unsent", "text": text, "reason": "the session was closed while its VM was starting"}));
                        }
                        return Flow::Close;
                    };
                    if let Err(message) = booted {
                        // Keep what the person wrote in the transcript even though the agent never saw it.
                        for (text, _) in self.queued.drain(..).collect::<Vec<_>>() {
                            self.record(Direction::Host, &json!({"type": "workroom_unsent", "text": text, "reason": message}));
                        }
                        self.emit(SessionEvent::Error { message });
                        return Flow::Continue;
                    }
                    // An interrupt sent during the boot withdraws the messages it was booting for.
                    if deferred.iter().any(|c| matches!(c, Command::Interrupt)) {
                        self.queued.clear();
                    }
                }
                self.flush_queue().await;
            }
            Command::Interrupt => {
                self.queued.clear();
                self.withdraw_network_questions();
                let frame = json!({"type": "control_request", "request_id": format!("interrupt-{}", uuid::Uuid::new_v4()), "request": {"subtype": "interrupt"}});
                self.send_to_agent(&frame).await;
            }
            Command::Answer(request_id, answer) => self.answer(&request_id, answer).await,
            Command::SetMode(mode) => {
                if let Err(e) =
                    self.host
                        .store
                        .update_session(&self.record.id, None, None, Some(&mode))
                {
                    self.emit(SessionEvent::Error {
                        message: e.to_string(),
                    });
                }
                self.record.permission_mode = mode.clone();
                let frame = json!({"type": "control_request", "request_id": format!("mode-{}", uuid::Uuid::new_v4()), "request": {"subtype": "set_permission_mode", "mode": mode}});
                self.send_to_agent(&frame).await;
            }
            Command::Close => return Flow::Close,
        }
        Flow::Continue
    }

    async fn flush_queue(&mut self) {
        while let Some((text, options)) = self.queued.pop_front() {
            let frame = json!({"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": null, "session_id": ""});
            self.record(Direction::In, &frame);
            self.in_flight.push_back(options);
            set_working(&self.record.id, true);
            self.send_to_agent(&frame).await;
        }
    }

    async fn send_to_agent(&mut self, frame: &Value) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if let Err(e) = live.agent.send(frame).await {
            tracing::warn!(error = %e, "could not write to the agent");
        }
    }

    async fn boot(&mut self) -> Result<(), String> {
        let settings = self.host.vm_settings();
        let lease = super::lease::acquire(
            &self.host.data_dir.join("leases"),
            &self.record.id,
            settings.vm_memory_mib,
            settings.max_total_memory_mib,
        )
        .map_err(|e| e.to_string())?;
        self.boot_inner(lease, settings).await
    }

    async fn boot_inner(
        &mut self,
        lease: super::lease::MemoryLease,
        settings: crate::settings::Settings,
    ) -> Result<(), String> {
        let memory = settings.vm_memory_mib;
        let host = self.host.clone();
        self.emit(SessionEvent::Vm(VmState::Booting {
            step: "preparing the virtual machine".into(),
        }));
        let arch = Arch::default();
        let image = image::locate(&host.images, arch).map_err(|e| e.to_string())?;
        let dir = session_dir(&host.data_dir, &self.record.id);
        let agent_state = dir.join("agent");
        std::fs::create_dir_all(&agent_state)
            .map_err(|e| format!("cannot create {}: {e}", agent_state.display()))?;
        let run_dir = host
            .data_dir
            .join("run")
            .join(&self.record.id[..8.min(self.record.id.len())]);
        let _ = std::fs::remove_dir_all(&run_dir);
        let mut config = VmConfig::new(
            image.kernel,
            image.initramfs,
            run_dir,
            dir.join("console.log"),
        );
        config.arch = arch;
        config.memory_mib = memory;
        config.cpus = settings.vm_cpus;
        config.shares = self.folders.shares(&agent_state);
        config.cmdline_extra = self.folders.cmdline();
        if settings.full_userland {
            let image::UserlandState::Ready { root, .. } = image::userland(&host.images, arch)
            else {
                return Err(image::USERLAND_MISSING.into());
            };
            let (share, words) = crate::folders::userland_share(root);
            config.shares.push(share);
            config.cmdline_extra.extend(words);
        }
        config.boot_timeout = Duration::from_secs(u64::from(settings.boot_timeout_secs));
        let proxy = ModelProxy::new(settings.upstream())
            .map_err(|e| format!("cannot set up the model proxy: {e}"))?;
        self.emit(SessionEvent::Vm(VmState::Booting {
            step: "starting the virtual machine".into(),
        }));
        let started = Instant::now();
        let (egress_tx, egress_rx) = mpsc::unbounded_channel();
        let policy = EgressPolicy::new(
            settings.network_allow.clone(),
            settings.network_deny.clone(),
            settings.provider_host(),
            self.net_granted.clone(),
            egress_tx,
        );
        let egress = EgressProxy::new(policy)
            .map_err(|e| format!("cannot set up the network proxy: {e}"))?;
        let connectors = Arc::new(Connectors::new(self.connector_specs()));
        let machine = Machine::boot(host.backend.as_ref(), config, proxy, egress)
            .await
            .map_err(|e| e.to_string())?;
        let boot_ms = started.elapsed().as_millis() as u64;
        self.emit(SessionEvent::Vm(VmState::Booting {
            step: "starting the agent".into(),
        }));
        let cwd = self
            .folders
            .first()
            .map(|f| f.guest.clone())
            .unwrap_or_else(|| "/".into());
        let stream = machine
            .open_session(
                &self.record.id,
                &cwd,
                self.agent_args(&settings, &agent_state, connectors.agent_config()),
                Map::new(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let status = machine.vm().status();
        let accel = format!("{:?}", machine.vm().accel()).to_lowercase();
        let hello = machine.hello();
        let userland = if hello.shell_root.is_some() {
            "full"
        } else {
            "minimal"
        };
        // An image from before the full toolset ignores the request and says nothing about it.
        let userland_error = hello.userland_error.clone().or_else(|| {
            (settings.full_userland && hello.shell_root.is_none()).then(|| {
                "the guest image is too old for the full toolset; rebuild it (workroom image build, or prepare it again in the app)".to_string()
            })
        });
        if let Some(error) = &userland_error {
            tracing::warn!(%error, "the full userland did not come up; shell commands use busybox");
        }
        let mut frame = json!({"type": "workroom_vm", "state": "running", "accel": accel, "boot_ms": boot_ms, "userland": userland});
        if let Some(error) = &userland_error {
            frame["userland_error"] = Value::String(error.clone());
        }
        let mut agent = AgentConnection::new(stream.stream, stream.leftover);
        // Before a tool that may change files runs, the agent asks the host (the hook), which takes
        // the turn's checkpoint first: undo then covers shell commands too.
        let hooks = json!({"PreToolUse": [{"matcher": super::undo::mutating_tools(),
            "hookCallbackIds": [super::undo::CHECKPOINT_HOOK], "timeout": 600}]});
        let init = json!({"type": "control_request", "request_id": "initialize", "request": {"subtype": "initialize", "hooks": hooks}});
        agent
            .send(&init)
            .await
            .map_err(|e| format!("the agent did not accept its first message: {e}"))?;
        self.agent_cost_so_far = 0.0;
        let (mcp_tx, mcp_answers) = mpsc::unbounded_channel();
        self.live = Some(Live {
            machine,
            agent,
            connectors,
            mcp_answers,
            mcp_tx,
            egress: egress_rx,
            status,
            _lease: lease,
        });
        self.record(Direction::Host, &frame);
        self.emit(SessionEvent::Vm(VmState::Running {
            accel,
            boot_ms,
            userland: userland.to_string(),
            userland_error,
        }));
        Ok(())
    }

    /// The agent's command line: permission prompts come to us, stored rules apply, and a known
    /// conversation is resumed from the agent's own state (kept on the host, shared into the guest).
    fn agent_args(
        &self,
        settings: &crate::settings::Settings,
        agent_state: &Path,
        mcp_config: Option<String>,
    ) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--permission-prompt-tool".into(),
            "stdio".into(),
            "--permission-mode".into(),
            self.record.permission_mode.clone(),
            "--include-partial-messages".into(),
        ];
        if let Some(model) = settings.agent_model(self.record.model.as_deref()) {
            args.extend(["--model".into(), model]);
        }
        for folder in self.folders.folders().iter().skip(1) {
            args.extend(["--add-dir".into(), folder.guest.clone()]);
        }
        let rules = self
            .host
            .store
            .rules_for(self.record.folders.first().map(PathBuf::as_path))
            .unwrap_or_default();
        let joined = |behavior: &str| {
            rules
                .iter()
                .filter(|r| r.behavior == behavior)
                .map(|r| r.rule.clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        for (flag, behavior) in [("--allowedTools", "allow"), ("--disallowedTools", "deny")] {
            let list = joined(behavior);
            if !list.is_empty() {
                args.extend([flag.into(), list]);
            }
        }
        if let Some(agent_id) = &self.record.agent_session_id {
            if agent_state
                .join("sessions")
                .join(format!("{agent_id}.jsonl"))
                .exists()
            {
                args.extend(["--resume".into(), agent_id.clone()]);
            }
        }
        if let Some(config) = mcp_config {
            args.extend(["--mcp-config".into(), config]);
        }
        args
    }

    async fn on_agent_frame(&mut self, incoming: Incoming) {
        self.last_activity = Instant::now();
        let frame = match incoming {
            Incoming::Frame(frame) => frame,
            Incoming::Malformed(reason) => {
                tracing::warn!(%reason, "malformed frame from the agent skipped");
                return;
            }
        };
        let kind = frame["type"].as_str().unwrap_or_default().to_string();
        // Raw stream deltas are not stored: the complete blocks follow as `assistant` frames.
        if kind != "stream_event" {
            self.record(Direction::Out, &frame);
        }
        match kind.as_str() {
            "system" if frame["subtype"] == "init" => {
                let agent_id = frame["session_id"].as_str().map(str::to_string);
                if agent_id.is_some() && agent_id != self.record.agent_session_id {
                    self.record.agent_session_id = agent_id.clone();
                    if let Err(e) = self.host.store.update_session(
                        &self.record.id,
                        agent_id.as_deref(),
                        None,
                        None,
                    ) {
                        self.emit(SessionEvent::Error {
                            message: e.to_string(),
                        });
                    }
                }
            }
            // The agent changed its mode itself (an approved plan ends plan mode): keep it, so the
            // next VM's agent starts in it too.
            "system" if frame["subtype"] == "status" => {
                if let Some(mode) = frame["permissionMode"].as_str() {
                    if mode != self.record.permission_mode {
                        self.record.permission_mode = mode.to_string();
                        if let Err(e) =
                            self.host
                                .store
                                .update_session(&self.record.id, None, None, Some(mode))
                        {
                            tracing::warn!(error = %e, "the new permission mode was not saved");
                        }
                    }
                }
            }
            "control_request" => {
                self.agent_request(&frame).await;
                return;
            }
            "control_cancel_request" => {
                if let Some(id) = frame["request_id"].as_str() {
                    if self.pending.remove(id).is_some() {
                        self.emit(SessionEvent::PermissionWithdrawn {
                            request_id: id.to_string(),
                        });
                    }
                }
                return;
            }
            "user" => self.note_created_files(&frame),
            "result" => {
                self.in_flight.pop_front();
                let usage = &frame["usage"];
                let tokens = |k: &str| usage[k].as_i64().unwrap_or(0);
                let turn = TurnUsage {
                    input_tokens: tokens("input_tokens")
                        + tokens("cache_read_input_tokens")
                        + tokens("cache_creation_input_tokens"),
                    output_tokens: tokens("output_tokens"),
                    cost_usd: self.turn_cost(&frame),
                    duration_ms: frame["duration_ms"].as_i64().unwrap_or(0),
                    is_error: frame["is_error"].as_bool().unwrap_or(false),
                };
                if let Err(e) = self.host.store.record_turn(&self.record.id, &turn) {
                    self.emit(SessionEvent::Error {
                        message: e.to_string(),
                    });
                }
                self.record_turn_changes().await;
                // Only now: undo must not start between the result and the changes record.
                set_working(&self.record.id, !self.in_flight.is_empty());
            }
            _ => {}
        }
        self.emit(SessionEvent::Frame { frame });
    }

    /// The hook before every tool that may change files; the turn's first one snapshots every
    /// shared folder before the tool runs. Returns the hook's output (`{}`: go on).
    async fn checkpoint_before_change(&mut self) -> Value {
        match &self.turn_checkpoint {
            TurnCheckpoint::NotYet => {}
            TurnCheckpoint::Refused(reason) => return refuse_tool(reason),
            TurnCheckpoint::Taken(_) | TurnCheckpoint::Without => return json!({}),
        }
        if self.in_flight.front().is_some_and(|t| t.without_undo) {
            self.turn_without_undo("you chose to send it without undo");
            return json!({});
        }
        let Ok(checkpoints) = self.host.checkpoints.clone() else {
            self.turn_without_undo("the checkpoint store could not be opened");
            return json!({});
        };
        let folders = self.record.folders.clone();
        let opts = self.host.settings.snapshot_options();
        let taken = tokio::task::spawn_blocking(move || {
            super::undo::snapshot_all(&checkpoints, &folders, &opts)
        })
        .await;
        match taken {
            Ok(Ok(before)) => {
                self.turn_checkpoint = TurnCheckpoint::Taken(before);
                json!({})
            }
            Ok(Err(crate::checkpoint::CheckpointError::TooLarge { needed, cap })) => {
                // The estimate before the turn fitted, so the folder grew since (the person or a
                // background command): refuse rather than change files that cannot be undone.
                let reason = format!(
                    "Workroom refused this change: undo would need a checkpoint of {} MiB, over the {} MiB limit. \
                     Ask the person to send the message again and choose to go on without undo, or to raise checkpoint_max_mb.",
                    needed.div_ceil(1 << 20),
                    cap >> 20
                );
                self.emit(SessionEvent::Error {
                    message: format!(
                        "The folders grew past the undo limit during this turn, so the agent's changes are being refused ({} MiB over a {} MiB limit).",
                        needed.div_ceil(1 << 20),
                        cap >> 20
                    ),
                });
                self.turn_checkpoint = TurnCheckpoint::Refused(reason.clone());
                refuse_tool(&reason)
            }
            Ok(Err(e)) => {
                self.turn_without_undo(&format!("the folders could not be checkpointed ({e})"));
                json!({})
            }
            Err(e) => {
                tracing::warn!(error = %e, "the checkpoint task failed");
                self.turn_without_undo("the checkpoint task failed");
                json!({})
            }
        }
    }

    /// Records (and shows) that the running turn cannot be undone, and why.
    fn turn_without_undo(&mut self, reason: &str) {
        self.turn_checkpoint = TurnCheckpoint::Without;
        let frame = json!({"type": "workroom_no_undo", "reason": reason});
        self.record(Direction::Host, &frame);
        self.emit(SessionEvent::Frame { frame });
    }

    /// At the end of a turn (or when its VM died): what it changed, recorded and shown.
    async fn record_turn_changes(&mut self) {
        let TurnCheckpoint::Taken(before) = std::mem::take(&mut self.turn_checkpoint) else {
            return;
        };
        let Ok(checkpoints) = self.host.checkpoints.clone() else {
            return;
        };
        let settings = self.host.settings.clone();
        let frame = tokio::task::spawn_blocking(move || {
            let frame =
                super::undo::changes_frame(&checkpoints, &before, settings.checkpoint_skip_git);
            super::undo::collect_garbage(&checkpoints, &settings);
            frame
        })
        .await;
        match frame {
            Ok(Ok(frame)) => {
                self.record(Direction::Host, &frame);
                self.emit(SessionEvent::Frame { frame });
            }
            Ok(Err(e)) => self.emit(SessionEvent::Error {
                message: format!(
                    "What this turn changed could not be recorded ({e}); it cannot be undone."
                ),
            }),
            Err(e) => tracing::warn!(error = %e, "the checkpoint task failed"),
        }
    }

    /// `total_cost_usd` is cumulative over one agent process; the turn's cost is the increase since
    /// the previous result of the same process.
    fn turn_cost(&mut self, frame: &Value) -> f64 {
        let total = frame["total_cost_usd"].as_f64().unwrap_or(0.0);
        let cost = (total - self.agent_cost_so_far).max(0.0);
        self.agent_cost_so_far = total;
        cost
    }

    fn note_created_files(&mut self, frame: &Value) {
        if frame["tool_use_result"]["type"] == "create" {
            if let Some(path) = frame["tool_use_result"]["filePath"]
                .as_str()
                .and_then(|p| self.folders.to_host(p))
            {
                self.created.insert(path);
            }
        }
    }

    async fn agent_request(&mut self, frame: &Value) {
        let Some(request_id) = frame["request_id"].as_str().map(str::to_string) else {
            return;
        };
        let request = &frame["request"];
        match request["subtype"].as_str() {
            Some("can_use_tool") => {
                let prompt = broker::prompt(&self.folders, &request_id, request);
                if let Some(reason) = broker::auto_allow(&self.folders, &self.created, &prompt) {
                    let decision = json!({"type": "workroom_permission", "request_id": request_id, "tool_name": prompt.tool_name,
                        "tool_use_id": prompt.tool_use_id, "decision": "allow_once", "by": "host", "reason": reason});
                    self.record(Direction::Host, &decision);
                    self.reply(
                        &request_id,
                        broker::response(&prompt, &PermissionAnswer::AllowOnce),
                    )
                    .await;
                    self.emit(SessionEvent::AutoAllowed {
                        request_id,
                        reason: reason.into(),
                        summary: prompt.summary,
                    });
                    return;
                }
                self.pending.insert(request_id, prompt.clone());
                self.emit(SessionEvent::Permission(prompt));
            }
            Some("mcp_message") => {
                let server = request["server_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let message = request["message"].clone();
                let Some(live) = self.live.as_ref() else {
                    return;
                };
                let (connectors, answers) = (live.connectors.clone(), live.mcp_tx.clone());
                // A connector may take its time; the session goes on meanwhile. The task ends
                // with its answer, or with the connectors when the VM goes.
                tokio::spawn(async move {
                    let answer = connectors.handle(&server, &message).await;
                    let _ = answers.send((request_id, answer));
                });
            }
            Some("hook_callback") => {
                let output = if request["callback_id"] == super::undo::CHECKPOINT_HOOK {
                    self.checkpoint_before_change().await
                } else {
                    json!({})
                };
                self.reply(&request_id, output).await
            }
            other => {
                let error = json!({"type": "control_response", "response": {"subtype": "error", "request_id": request_id,
                    "error": format!("unsupported request {}", other.unwrap_or("?"))}});
                self.send_to_agent(&error).await;
            }
        }
    }

    async fn reply(&mut self, request_id: &str, response: Value) {
        let frame = json!({"type": "control_response", "response": {"subtype": "success", "request_id": request_id, "response": response}});
        self.record(Direction::In, &frame);
        self.send_to_agent(&frame).await;
    }

    async fn answer(&mut self, request_id: &str, answer: PermissionAnswer) {
        if self.net_pending.contains_key(request_id) {
            self.answer_network(request_id, &answer);
            return;
        }
        let Some(prompt) = self.pending.remove(request_id) else {
            self.emit(SessionEvent::Error {
                message: "That question was already answered or withdrawn.".into(),
            });
            return;
        };
        let mut decision = json!({"type": "workroom_permission", "request_id": request_id, "tool_name": prompt.tool_name,
            "tool_use_id": prompt.tool_use_id, "decision": answer.as_str(), "by": "user"});
        if answer == PermissionAnswer::AlwaysAllow {
            let rule = broker::rule_for(&prompt);
            let folder = self.record.folders.first().cloned();
            match self.host.store.add_rule("allow", &rule, folder.as_deref()) {
                Ok(()) => decision["rule"] = json!(rule),
                Err(e) => self.emit(SessionEvent::Error {
                    message: format!("The rule could not be saved: {e}"),
                }),
            }
        }
        self.record(Direction::Host, &decision);
        self.reply(request_id, broker::response(&prompt, &answer))
            .await;
    }

    /// The person's MCP servers: the `mcp_config` setting (a file or inline JSON), else
    /// `<data>/mcp.json` when there is one. A broken configuration is reported and turns
    /// connectors off, not the session.
    fn connector_specs(&self) -> std::collections::BTreeMap<String, crate::connectors::ServerSpec> {
        let default = self.host.data_dir.join("mcp.json");
        let source = match &self.host.settings.mcp_config {
            Some(source) => source.clone(),
            None if default.is_file() => default.display().to_string(),
            None => return Default::default(),
        };
        match crate::connectors::load(&source) {
            Ok(specs) => specs,
            Err(e) => {
                self.emit(SessionEvent::Error {
                    message: format!("MCP connectors are off for this session: {e}"),
                });
                Default::default()
            }
        }
    }

    /// The egress proxy asks about a host, or reports a request.
    fn on_egress(&mut self, event: EgressEvent) {
        match event {
            EgressEvent::Ask { host, reply } => {
                if let Some((_, waiting)) = self.net_pending.values_mut().find(|(h, _)| *h == host)
                {
                    waiting.push(reply);
                    return;
                }
                let request_id = format!("net-{}", uuid::Uuid::new_v4());
                let prompt = broker::network_prompt(&request_id, &host);
                self.net_pending
                    .insert(request_id.clone(), (host, vec![reply]));
                self.emit(SessionEvent::Permission(prompt));
            }
            EgressEvent::Log(request) => {
                let mut frame = serde_json::to_value(&request).unwrap_or_default();
                frame["type"] = json!("workroom_network");
                self.record(Direction::Host, &frame);
                self.emit(SessionEvent::Frame { frame });
            }
        }
    }

    /// The person answered a network question.
    fn answer_network(&mut self, request_id: &str, answer: &PermissionAnswer) {
        let Some((host, waiting)) = self.net_pending.remove(request_id) else {
            return;
        };
        let decision = match answer {
            PermissionAnswer::AllowOnce
            | PermissionAnswer::Answers(_)
            | PermissionAnswer::ApprovePlan(_) => NetworkAnswer::Once,
            PermissionAnswer::AllowForSession => NetworkAnswer::Session,
            PermissionAnswer::AlwaysAllow => NetworkAnswer::Always,
            PermissionAnswer::Deny | PermissionAnswer::DenyWithMessage(_) => NetworkAnswer::Deny,
        };
        if matches!(decision, NetworkAnswer::Session | NetworkAnswer::Always) {
            self.net_granted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(host.clone());
        }
        if decision == NetworkAnswer::Always {
            if let Err(e) = self.save_network_allow(&host) {
                self.emit(SessionEvent::Error {
                    message: format!(
                        "{host} is allowed for this session, but could not be saved for later: {e}"
                    ),
                });
            }
        }
        self.record(
            Direction::Host,
            &json!({"type": "workroom_permission", "request_id": request_id, "tool_name": broker::NETWORK_TOOL,
                "host": host, "decision": answer.as_str(), "by": "user"}),
        );
        for reply in waiting {
            let _ = reply.send(decision);
        }
    }

    /// Adds `host` to the stored `network_allow` setting.
    fn save_network_allow(&self, host: &str) -> Result<(), crate::store::StoreError> {
        let store = &self.host.store;
        let mut hosts = store
            .setting(crate::settings::keys::NETWORK_ALLOW)?
            .map(|v| crate::guest::egress::parse_hosts(&v))
            .unwrap_or_default();
        if !hosts.iter().any(|h| h == host) {
            hosts.push(host.to_string());
        }
        store.set_setting(crate::settings::keys::NETWORK_ALLOW, &hosts.join(","))
    }

    /// Network questions end with the VM or the turn: the connections waiting on them are refused.
    fn withdraw_network_questions(&mut self) {
        for (request_id, _) in std::mem::take(&mut self.net_pending) {
            self.emit(SessionEvent::PermissionWithdrawn { request_id });
        }
    }

    /// The agent connection or the VM ended without being asked to.
    async fn agent_gone(&mut self) {
        let Some(live) = self.live.take() else { return };
        let reason = match &*live.status.borrow() {
            VmStatus::Failed { reason, .. } => reason.clone(),
            VmStatus::Stopped { exit } => exit.to_string(),
            _ => "the agent's connection closed".to_string(),
        };
        let console_tail = live.machine.vm().console_tail(4096);
        live.machine.vm().kill().await;
        for request_id in self.pending.drain().map(|(id, _)| id).collect::<Vec<_>>() {
            self.emit(SessionEvent::PermissionWithdrawn { request_id });
        }
        self.withdraw_network_questions();
        let interrupted = !self.in_flight.is_empty();
        self.in_flight.clear();
        // What the turn changed before the VM died can still be undone.
        self.record_turn_changes().await;
        set_working(&self.record.id, false);
        let message = if interrupted {
            format!("The virtual machine stopped in the middle of a turn ({reason}). The conversation is saved; send a message to continue.")
        } else {
            format!("The virtual machine stopped ({reason}). Send a message to start it again.")
        };
        self.record(
            Direction::Host,
            &json!({"type": "workroom_vm", "state": "failed", "reason": reason}),
        );
        self.emit(SessionEvent::Vm(VmState::Failed {
            reason: message,
            console_tail,
        }));
    }

    async fn stop_vm(&mut self, reason: &str) {
        let Some(mut live) = self.live.take() else {
            return;
        };
        live.agent.close_input().await;
        let exit = live.machine.shutdown(Duration::from_secs(10)).await;
        tracing::info!(session = %self.record.id, %exit, "VM stopped");
        self.record(
            Direction::Host,
            &json!({"type": "workroom_vm", "state": "stopped", "reason": reason}),
        );
        self.emit(SessionEvent::Vm(VmState::Stopped {
            reason: reason.to_string(),
        }));
    }
}

/// A `PreToolUse` hook output that stops the tool, with the reason the model sees.
fn refuse_tool(reason: &str) -> Value {
    json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": reason}})
}

/// Before a message is sent: the folders whose checkpoint would copy more than the cap, with
/// the cap. `None` when all fit (or undo is unavailable: the turn then says so itself).
async fn over_undo_cap(
    host: Arc<HostInner>,
    folders: Vec<PathBuf>,
) -> Option<(u64, Vec<super::undo::FolderEstimate>)> {
    let checkpoints = host.checkpoints.clone().ok()?;
    let opts = host.settings.snapshot_options();
    let cap = opts.max_new_bytes?;
    let over =
        tokio::task::spawn_blocking(move || super::undo::over_cap(&checkpoints, &folders, &opts))
            .await;
    match over {
        Ok(Ok(over)) if !over.is_empty() => Some((cap, over)),
        Ok(Ok(_)) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not estimate the checkpoint's size");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "the estimate task failed");
            None
        }
    }
}
