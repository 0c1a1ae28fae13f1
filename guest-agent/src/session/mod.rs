//! One stream-json session: read frames, answer control requests at once, run user turns in order.
//!
//! The input side runs on its own task so that `interrupt`, `set_permission_mode` and answers to our
//! own control requests are handled while a turn is busy. Turns run one after another on the caller's
//! task. When the input closes, queued turns still run to completion, then [`run`] returns.

pub mod config;
pub mod control;
pub mod frames;
pub mod outbox;
pub mod transcript;

use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workroom_protocol::anthropic::{Message, Usage};
use workroom_protocol::control::{
    ControlCancelRequest, ControlError as ControlErrorBody, ControlRequest, ControlRequestFrame,
    ControlResponse, ControlResponseFrame, ControlSuccess, PermissionUpdate,
};
use workroom_protocol::frame::UserFrame;
use workroom_protocol::ndjson::{self, LineDecoder};
use workroom_protocol::{Frame, CLAUDE_CODE_COMPAT_VERSION};

use crate::hooks::Hooks;
use crate::model::{ModelClient, Provider};
use crate::permissions::rules::Rule;
use crate::permissions::{Mode, RuleSet};
use crate::tools::{ToolContext, Toolbox};
use config::Config;
use control::PendingRequests;
use outbox::Outbox;
use transcript::Transcript;

/// Settings that control requests may change during the session.
#[derive(Debug)]
pub struct Live {
    /// Permission mode.
    pub mode: Mode,
    /// Model for the next request.
    pub model: String,
    /// Allow/deny/ask rules, including ones granted during the session.
    pub rules: RuleSet,
    /// Hooks registered in `initialize`.
    pub hooks: Hooks,
    /// Sub-agent types the client defined in `initialize`.
    pub agents: Vec<crate::agents::AgentDef>,
}

/// Cumulative accounting.
#[derive(Debug, Default)]
pub struct Totals {
    /// Dollars spent in this process.
    pub cost_usd: f64,
    /// Usage per model.
    pub by_model: std::collections::BTreeMap<String, (Usage, f64)>,
    /// Tokens in the context at the last request (input + output), for compaction.
    pub context_tokens: u64,
}

/// Everything a turn needs.
pub struct Session {
    /// Fixed settings.
    pub config: Config,
    /// This session's id (also the transcript's name).
    pub id: String,
    /// The output stream.
    pub outbox: Outbox,
    /// Our outstanding control requests.
    pub pending: PendingRequests,
    /// Changeable settings.
    pub live: Mutex<Live>,
    /// Tools and their state.
    pub toolbox: Toolbox,
    /// The model client.
    pub client: ModelClient,
    /// One token per received user message, oldest first: the running turn's, then the queued ones.
    /// `interrupt` cancels the oldest, so a "Stop" sent right after a prompt still stops that prompt.
    pub turns: Mutex<std::collections::VecDeque<CancellationToken>>,
    /// In-process MCP servers of the SDK client.
    pub mcp: crate::mcp::McpServers,
    /// Cost and usage.
    pub totals: Mutex<Totals>,
    /// Where the history is saved.
    pub transcript: Transcript,
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// `--resume` named a session that was never saved here.
    #[error("No conversation found with session ID: {0}")]
    NoSuchSession(String),
    /// The HTTP client could not be built.
    #[error("cannot set up the model client: {0}")]
    Client(String),
}

impl Session {
    /// A session from its configuration; returns it with the history to resume from.
    pub fn new(
        config: Config,
        options: &crate::cli::Options,
        output: impl tokio::io::AsyncWrite + Send + Unpin + 'static,
    ) -> Result<(Self, Vec<Message>), StartError> {
        let resume = match (&options.resume, options.continue_last, &config.state_dir) {
            (Some(id), _, _) => Some(id.clone()),
            (None, true, Some(dir)) => transcript::latest(dir),
            _ => None,
        };
        let history = match (&resume, &config.state_dir) {
            (Some(id), Some(dir)) => {
                transcript::load(dir, id).ok_or_else(|| StartError::NoSuchSession(id.clone()))?
            }
            (Some(id), None) => return Err(StartError::NoSuchSession(id.clone())),
            (None, _) => Vec::new(),
        };
        let id = resume
            .or_else(|| options.session_id.clone())
            .unwrap_or_else(frames::uuid);

        let ctx = ToolContext::new(config.roots.clone()).map_err(|source| {
            config::ConfigError::Folder {
                path: config.roots.first().cloned().unwrap_or_default(),
                source,
            }
        })?;
        let base = ctx.cwd().to_path_buf();
        let parse = |list: &[String]| -> Vec<Rule> {
            list.iter().filter_map(|r| Rule::parse(r, &base)).collect()
        };
        let mut rules = RuleSet {
            allow: parse(&config.allowed),
            deny: parse(&config.disallowed),
            ask: Vec::new(),
        };
        if let Some(settings) = &options.settings {
            apply_settings(&mut rules, settings, &base);
        }
        let bare_denied: Vec<String> = config
            .disallowed
            .iter()
            .filter(|d| !d.contains('('))
            .cloned()
            .collect();
        let toolbox = Toolbox::new(ctx, config.tools.as_deref(), &bare_denied);
        let client = ModelClient::new(config.provider.clone())
            .map_err(|e| StartError::Client(e.to_string()))?;
        let transcript = Transcript::new(config.state_dir.as_deref(), &id);
        let live = Live {
            mode: config.mode,
            model: config.model.clone(),
            rules,
            hooks: Hooks::default(),
            agents: Vec::new(),
        };
        Ok((
            Self {
                config,
                id,
                outbox: Outbox::new(output),
                pending: PendingRequests::default(),
                live: Mutex::new(live),
                toolbox,
                client,
                turns: Mutex::default(),
                mcp: crate::mcp::McpServers::from_config(options.mcp_config.as_deref()),
                totals: Mutex::new(Totals::default()),
                transcript,
            },
            history,
        ))
    }

    /// Emits a frame.
    pub async fn emit(&self, frame: &Frame) {
        self.outbox.send(frame).await;
    }

    /// Emits `session_state_changed` when the client asked for state reports.
    pub async fn report_state(&self, state: &str) {
        if self.config.report_state {
            self.emit(&frames::state(&self.id, state)).await;
        }
    }

    /// The current permission mode.
    pub fn mode(&self) -> Mode {
        self.live.lock().map(|l| l.mode).unwrap_or(Mode::Default)
    }

    /// The current model.
    pub fn model(&self) -> String {
        self.live
            .lock()
            .map(|l| l.model.clone())
            .unwrap_or_else(|_| self.config.model.clone())
    }

    /// Applies permission updates the user granted.
    /// Plan mode ends (to `default`) when the user approves the plan.
    pub async fn leave_plan_mode(&self) {
        let left = match self.live.lock() {
            Ok(mut live) if live.mode == Mode::Plan => {
                live.mode = Mode::Default;
                true
            }
            _ => false,
        };
        if left {
            self.emit(&frames::system(
                &self.id,
                "status",
                json!({"status": null, "permissionMode": Mode::Default.as_str()}),
            ))
            .await;
        }
    }

    pub async fn apply_updates(&self, updates: &[PermissionUpdate]) {
        let base = self.toolbox.context().cwd().to_path_buf();
        let mut new_mode = None;
        if let Ok(mut live) = self.live.lock() {
            for update in updates {
                match update {
                    PermissionUpdate::AddRules(u) => live.rules.apply(u, false, false, &base),
                    PermissionUpdate::ReplaceRules(u) => live.rules.apply(u, true, false, &base),
                    PermissionUpdate::RemoveRules(u) => live.rules.apply(u, false, true, &base),
                    PermissionUpdate::SetMode(m) => {
                        if let Some(mode) = Mode::parse(&m.mode) {
                            live.mode = mode;
                            new_mode = Some(mode);
                        }
                    }
                    // The folders are fixed by the host; directories cannot be granted from inside.
                    PermissionUpdate::AddDirectories(_)
                    | PermissionUpdate::RemoveDirectories(_)
                    | PermissionUpdate::Other(_) => {
                        tracing::info!(?update, "permission update ignored");
                    }
                }
            }
        }
        if let Some(mode) = new_mode {
            self.emit(&frames::system(
                &self.id,
                "status",
                json!({"status": null, "permissionMode": mode.as_str()}),
            ))
            .await;
        }
    }

    /// `apiKeySource` for `system/init`.
    pub fn api_key_source(&self) -> &'static str {
        match self.client.provider() {
            Provider::Anthropic { auth, .. } => auth.source(),
            Provider::OpenAi {
                api_key: Some(_), ..
            } => "OPENAI_API_KEY",
            Provider::OpenAi { api_key: None, .. } => "none",
        }
    }
}

/// `--settings` may carry `{"permissions":{"allow":[..],"deny":[..],"ask":[..]}}`, inline or in a file.
fn apply_settings(rules: &mut RuleSet, settings: &str, base: &std::path::Path) {
    let text = if settings.trim_start().starts_with('{') {
        settings.to_string()
    } else {
        match std::fs::read_to_string(settings) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(path = settings, error = %e, "cannot read --settings");
                return;
            }
        }
    };
    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        tracing::warn!("--settings is not valid JSON; ignored");
        return;
    };
    let list = |key: &str| -> Vec<Rule> {
        value
            .pointer(&format!("/permissions/{key}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|r| Rule::parse(r, base))
            .collect()
    };
    rules.allow.extend(list("allow"));
    rules.deny.extend(list("deny"));
    rules.ask.extend(list("ask"));
}

/// Runs the session over `input` until it closes and every queued turn is done. Returns whether the
/// last turn ended in error (the process exit code follows it, as with Claude Code).
pub async fn run(
    session: std::sync::Arc<Session>,
    mut history: Vec<Message>,
    input: impl AsyncRead + Send + Unpin + 'static,
) -> bool {
    let (turns_tx, mut turns_rx) = mpsc::unbounded_channel::<(UserFrame, CancellationToken)>();
    let reader = tokio::spawn(read_input(session.clone(), input, turns_tx));
    let mut last_was_error = false;
    while let Some((user, cancel)) = turns_rx.recv().await {
        last_was_error = crate::turn::run(&session, &mut history, user, cancel).await;
        if let Ok(mut turns) = session.turns.lock() {
            turns.pop_front();
        }
    }
    // The reader ends by itself at end of input; it has already closed the queue.
    if let Err(e) = reader.await {
        tracing::error!(error = %e, "input task failed");
    }
    last_was_error
}

/// The input task: decodes frames and routes them. Owned by [`run`], ends at end of input.
async fn read_input(
    session: std::sync::Arc<Session>,
    mut input: impl AsyncRead + Send + Unpin,
    turns: mpsc::UnboundedSender<(UserFrame, CancellationToken)>,
) {
    let mut decoder = LineDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "input read failed; treating as end of input");
                break;
            }
        };
        decoder.feed(&buf[..n]);
        while let Some(line) = decoder.next_line() {
            handle_line(&session, line, &turns).await;
        }
    }
    if let Some(line) = decoder.finish() {
        handle_line(&session, line, &turns).await;
    }
    session.pending.close();
    tracing::debug!("input closed");
}

async fn handle_line(
    session: &Session,
    line: Result<String, ndjson::FrameError>,
    turns: &mpsc::UnboundedSender<(UserFrame, CancellationToken)>,
) {
    let frame = match line.and_then(|l| {
        if l.trim_start().starts_with('{') {
            ndjson::decode(&l)
        } else {
            Err(ndjson::FrameError::Json(serde::de::Error::custom(
                "a line that is not a JSON object",
            )))
        }
    }) {
        Ok(frame) => frame,
        Err(e) => {
            // Bad input must not end the session: report it and keep reading.
            tracing::warn!(error = %e, "ignoring an input line");
            return;
        }
    };
    match frame {
        Frame::User(user) => {
            let cancel = CancellationToken::new();
            if let Ok(mut queue) = session.turns.lock() {
                queue.push_back(cancel.clone());
            }
            if turns.send((user, cancel)).is_err() {
                tracing::warn!("user message after the session ended");
            }
        }
        Frame::ControlRequest(request) => answer_control(session, request).await,
        Frame::ControlResponse(ControlResponseFrame { response }) => {
            session.pending.resolve(response)
        }
        Frame::ControlCancelRequest(_) | Frame::KeepAlive(_) => {}
        other => tracing::debug!(frame_type = other.tag().unwrap_or("?"), "ignoring a frame"),
    }
}

async fn answer_control(session: &Session, frame: ControlRequestFrame) {
    let id = frame.request_id;
    let result: Result<Value, String> = match frame.request {
        ControlRequest::Initialize(init) => {
            if let Ok(mut live) = session.live.lock() {
                live.hooks = Hooks::new(init.hooks.clone());
                if let Some(agents) = &init.agents {
                    live.agents = crate::agents::from_initialize(agents);
                }
            }
            Ok(initialize_response(session, init.hooks.is_some()))
        }
        ControlRequest::Interrupt(request) => {
            let cancel_queued = request.extra.get("cancel_queued") == Some(&Value::Bool(true));
            if let Ok(turns) = session.turns.lock() {
                let take = if cancel_queued { turns.len() } else { 1 };
                turns.iter().take(take).for_each(CancellationToken::cancel);
            }
            // Take down open prompts before acknowledging, as Claude Code does.
            for request_id in session.pending.withdraw_all() {
                session
                    .emit(&Frame::ControlCancelRequest(ControlCancelRequest {
                        request_id,
                    }))
                    .await;
            }
            Ok(json!({"still_queued": []}))
        }
        ControlRequest::SetPermissionMode(m) => match Mode::parse(&m.mode) {
            Some(mode) => {
                if let Ok(mut live) = session.live.lock() {
                    live.mode = mode;
                }
                session
                    .emit(&frames::system(
                        &session.id,
                        "status",
                        json!({"status": null, "permissionMode": mode.as_str()}),
                    ))
                    .await;
                Ok(json!({"mode": mode.as_str()}))
            }
            None => Err(format!("Invalid permission mode: {}", m.mode)),
        },
        ControlRequest::SetModel(m) => {
            let model = match m.model.as_deref() {
                None | Some("default") => session.config.model.clone(),
                Some(other) => other.to_string(),
            };
            if let Ok(mut live) = session.live.lock() {
                live.model = model.clone();
            }
            Ok(json!({"model": model}))
        }
        other => Err(format!(
            "Unsupported control request subtype: {}",
            other.tag().unwrap_or("unknown")
        )),
    };
    let response = match result {
        Ok(payload) => ControlResponse::Success(ControlSuccess {
            request_id: id,
            response: Some(payload),
        }),
        Err(error) => ControlResponse::Error(ControlErrorBody {
            request_id: id,
            error,
        }),
    };
    session
        .emit(&Frame::ControlResponse(ControlResponseFrame { response }))
        .await;
}

fn initialize_response(session: &Session, hooks: bool) -> Value {
    let model = session.model();
    json!({
        "commands": [],
        "agents": [],
        "output_style": "default",
        "available_output_styles": ["default"],
        "models": [{"value": model, "resolvedModel": model, "displayName": model, "description": "Current model"}],
        "account": {},
        "pid": std::process::id(),
        "claude_code_version": CLAUDE_CODE_COMPAT_VERSION,
        "current_permission_mode": session.mode().as_str(),
        "hooks_applied": hooks,
        "session_state": "idle",
        "capabilities": [],
    })
}
