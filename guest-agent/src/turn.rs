//! One turn: from a user message to exactly one `result` frame.
//!
//! Model request → stream the reply (one `assistant` frame per block) → for each tool call: PreToolUse
//! hooks → permission decision (rules, else ask the client) → run → PostToolUse hooks → `user`
//! tool_result frame → next request, until the model stops calling tools, the user interrupts, the
//! turn limit is reached, or the API fails for good.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;
use workroom_protocol::anthropic::{
    AssistantMessage, CacheControl, ContentBlock, Delta, Empty, Message, MessageContent,
    MessageDelta, MessageDeltaBody, MessagesRequest, Role, StreamEvent, SystemBlock,
    ToolDefinition, ToolResultBlock, ToolResultContent, ToolUseBlock, Usage,
};
use workroom_protocol::control::{CanUseTool, ControlRequest, HookCallback, PermissionResult};
use workroom_protocol::frame::{
    AssistantFrame, PermissionDenial, ResultFrame, StreamEventFrame, UserFrame,
};
use workroom_protocol::Frame;

use crate::agents::AgentDef;
use crate::compact;
use crate::hooks::{HookPermission, HookVerdict};
use crate::model::{pricing, retry, ModelError};
use crate::permissions::{self, Decision};
use crate::session::control::{self, ControlError};
use crate::session::{frames, Session};
use crate::tools::{self, ToolContent, ToolOutput};

/// Runs one turn; returns whether its result was an error.
pub async fn run(
    s: &Session,
    history: &mut Vec<Message>,
    user: UserFrame,
    cancel: CancellationToken,
) -> bool {
    s.mcp.connect(s).await;
    let tools = all_tools(s).await;
    let mut turn = Turn {
        s,
        parent: None,
        system_prompt: None,
        model: None,
        tools,
        cancel,
        started: Instant::now(),
        stop_continued: 0,
        api_time: Duration::ZERO,
        requests: 0,
        usage: Usage::default(),
        denials: Vec::new(),
        last_text: String::new(),
        stop_reason: None,
    };
    s.report_state("running").await;
    s.emit(&init_frame(s, &turn.tools).await).await;
    let mut blocks = user.message.content.into_blocks();
    let prompt = MessageContent::Blocks(blocks.clone()).text();
    let submit = turn
        .run_hooks("UserPromptSubmit", None, json!({"prompt": prompt}))
        .await;
    let end = match (submit.permission, submit.stop.clone()) {
        (Some(HookPermission::Deny), _) | (_, Some(_)) => End::PromptBlocked(
            submit
                .reason
                .or(submit.stop)
                .unwrap_or_else(|| "A hook blocked this prompt.".into()),
        ),
        _ => {
            if !submit.additional_context.is_empty() {
                blocks.push(ContentBlock::text(reminder(&submit.additional_context)));
            }
            push_user(s, history, blocks, true).await;
            turn.agent_loop(history).await
        }
    };
    let mut result = turn.result_frame(end);
    if let Some(uuid) = user.uuid {
        result
            .extra
            .insert("user_message_uuids".into(), json!([uuid]));
    }
    let is_error = result.is_error;
    s.emit(&Frame::Result(result)).await;
    s.report_state("idle").await;
    is_error
}

/// How a turn ended.
enum End {
    /// The model finished.
    Completed,
    /// A hook said `continue: false`.
    Stopped(String),
    /// The user interrupted while the model was answering.
    InterruptedStreaming,
    /// The user interrupted during tool use.
    InterruptedTools,
    /// `--max-turns` reached.
    MaxTurns(u32),
    /// The API failed for good.
    Api(ModelError),
    /// A UserPromptSubmit hook refused the prompt.
    PromptBlocked(String),
}

struct Turn<'a> {
    s: &'a Session,
    /// For a sub-agent: the `Task` call it runs for. Its frames carry it as `parent_tool_use_id`,
    /// and its messages stay out of the session's transcript.
    parent: Option<String>,
    /// A sub-agent's system prompt (the session's otherwise).
    system_prompt: Option<String>,
    /// A sub-agent's model (the session's otherwise).
    model: Option<String>,
    /// Tools offered this turn (built-ins and MCP tools).
    tools: Vec<ToolDefinition>,
    cancel: CancellationToken,
    started: Instant,
    /// How often Stop hooks sent the model back to work this turn.
    stop_continued: usize,
    api_time: Duration,
    requests: u32,
    usage: Usage,
    denials: Vec<PermissionDenial>,
    last_text: String,
    stop_reason: Option<String>,
}

/// A completed model response.
struct Reply {
    message: AssistantMessage,
    /// Tool calls whose input was not valid JSON, with the parse error.
    bad_inputs: HashMap<String, String>,
}

enum StreamFailure {
    Interrupted,
    Model(ModelError),
}

impl Turn<'_> {
    /// Emits a frame, tagged with the parent `Task` call for a sub-agent.
    async fn emit(&self, mut frame: Frame) {
        if let Some(parent) = &self.parent {
            match &mut frame {
                Frame::Assistant(f) => f.parent_tool_use_id = Some(parent.clone()),
                Frame::User(f) => f.parent_tool_use_id = Some(parent.clone()),
                Frame::StreamEvent(f) => f.parent_tool_use_id = Some(parent.clone()),
                _ => {}
            }
        }
        self.s.emit(&frame).await;
    }

    /// Appends user content to the history (and, for the main agent, to the transcript).
    async fn push_user(&self, history: &mut Vec<Message>, blocks: Vec<ContentBlock>) {
        push_user(self.s, history, blocks, self.parent.is_none()).await;
    }

    async fn agent_loop(&mut self, history: &mut Vec<Message>) -> End {
        let mut stop_hook_active = false;
        loop {
            if self.cancel.is_cancelled() {
                return self.interrupted_streaming(history).await;
            }
            // A sub-agent's context is short-lived; only the session's own is compacted.
            if self.parent.is_none() {
                if let Err(e) = compact::maybe_compact(self.s, history, &self.cancel).await {
                    tracing::warn!(error = %e, "compaction failed; continuing with the full history");
                }
            }
            self.requests += 1;
            let mut request = build_request(self.s, history, &self.tools);
            if let Some(prompt) = &self.system_prompt {
                request.system[0].text = prompt.clone();
            }
            if let Some(model) = &self.model {
                request.model = model.clone();
            }
            let reply = match self.request_with_retries(&request).await {
                Ok(reply) => reply,
                Err(StreamFailure::Interrupted) => {
                    return self.interrupted_streaming(history).await
                }
                Err(StreamFailure::Model(e)) => {
                    self.emit_api_error(&e).await;
                    return End::Api(e);
                }
            };
            self.account(&request.model, &reply.message.usage);
            self.stop_reason = reply.message.stop_reason.clone();
            let text: Vec<String> = reply
                .message
                .content
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text(t) => Some(t.text.clone()),
                    _ => None,
                })
                .collect();
            if !text.is_empty() {
                self.last_text = text.join("\n");
            }
            let calls: Vec<ToolUseBlock> = reply
                .message
                .content
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::ToolUse(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            let assistant = Message {
                role: Role::Assistant,
                content: MessageContent::Blocks(reply.message.content.clone()),
            };
            if self.parent.is_none() {
                self.s.transcript.append(&assistant).await;
            }
            history.push(assistant);
            if calls.is_empty() {
                match self.stop_hook_feedback(&mut stop_hook_active).await {
                    Some(feedback) => {
                        self.push_user(history, vec![ContentBlock::text(feedback)])
                            .await;
                        continue;
                    }
                    None => return End::Completed,
                }
            }
            if let Some(max) = self.s.config.max_turns {
                if self.requests >= max {
                    // Keep the history valid for a later turn: every tool_use needs its result.
                    let results = calls
                        .iter()
                        .map(|c| {
                            error_result(&c.id, "Not run: the maximum number of turns was reached.")
                        })
                        .collect();
                    self.push_user(history, results).await;
                    return End::MaxTurns(max);
                }
            }
            let outcome = self.run_tools(&calls, &reply.bad_inputs).await;
            let mut blocks = outcome.results;
            if outcome.interrupted {
                let marker = ContentBlock::text("[Request interrupted by user for tool use]");
                self.emit(frames::user(&self.s.id, vec![marker.clone()], None))
                    .await;
                blocks.push(marker);
            }
            self.push_user(history, blocks).await;
            if outcome.interrupted {
                return End::InterruptedTools;
            }
            if let Some(reason) = outcome.stop {
                return End::Stopped(reason);
            }
        }
    }

    async fn interrupted_streaming(&mut self, history: &mut Vec<Message>) -> End {
        let marker = ContentBlock::text("[Request interrupted by user]");
        self.emit(frames::user(&self.s.id, vec![marker.clone()], None))
            .await;
        self.push_user(history, vec![marker]).await;
        End::InterruptedStreaming
    }

    fn account(&mut self, model: &str, usage: &Usage) {
        self.usage.add(usage);
        let cost = pricing::cost_usd(model, usage);
        if let Ok(mut totals) = self.s.totals.lock() {
            totals.cost_usd += cost;
            let entry = totals.by_model.entry(model.to_string()).or_default();
            entry.0.add(usage);
            entry.1 += cost;
            totals.context_tokens = usage.total_input() + usage.output_tokens;
        }
    }

    async fn request_with_retries(
        &mut self,
        request: &MessagesRequest,
    ) -> Result<Reply, StreamFailure> {
        let max_retries = retry::max_retries();
        let mut attempt = 0;
        loop {
            self.s
                .emit(&frames::system(
                    &self.s.id,
                    "status",
                    json!({"status": "requesting"}),
                ))
                .await;
            let started = Instant::now();
            let outcome = self.stream_once(request).await;
            self.api_time += started.elapsed();
            match outcome {
                Ok(reply) => return Ok(reply),
                Err(StreamFailure::Model(e)) if e.retryable() && attempt < max_retries => {
                    attempt += 1;
                    let delay = retry::delay(attempt, &e);
                    tracing::info!(attempt, delay_ms = delay.as_millis() as u64, error = %e, "retrying the model request");
                    self.s
                        .emit(&frames::system(
                            &self.s.id,
                            "api_retry",
                            json!({
                                "attempt": attempt,
                                "max_retries": max_retries,
                                "retry_delay_ms": delay.as_millis() as u64,
                                "error_status": e.status(),
                                "error": e.category(),
                            }),
                        ))
                        .await;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.cancel.cancelled() => return Err(StreamFailure::Interrupted),
                    }
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// One streamed request: forwards events, emits one `assistant` frame per finished block.
    async fn stream_once(&mut self, request: &MessagesRequest) -> Result<Reply, StreamFailure> {
        let mut stream = tokio::select! {
            r = self.s.client.stream(request) => r.map_err(StreamFailure::Model)?,
            _ = self.cancel.cancelled() => return Err(StreamFailure::Interrupted),
        };
        let mut acc = Accumulator::default();
        loop {
            let event = tokio::select! {
                e = stream.next() => e,
                _ = self.cancel.cancelled() => {
                    self.abandon(&acc).await;
                    return Err(StreamFailure::Interrupted);
                }
            };
            let event = match event {
                None => break,
                Some(Ok(event)) => event,
                Some(Err(e)) => return Err(StreamFailure::Model(e)),
            };
            let finished = acc.apply(&event).map_err(StreamFailure::Model)?;
            let is_stop = matches!(event, StreamEvent::ContentBlockStop(_));
            if !is_stop {
                self.forward(&acc, event.clone()).await;
            }
            if let Some(block) = finished {
                self.emit_block(&acc, block).await;
            }
            if is_stop {
                self.forward(&acc, event).await;
            }
        }
        acc.finish().map_err(StreamFailure::Model)
    }

    async fn forward(&self, acc: &Accumulator, event: StreamEvent) {
        if !self.s.config.include_partial {
            return;
        }
        let mut extra = Map::new();
        if let Some(id) = acc.message.as_ref().map(|m| m.id.clone()) {
            extra.insert("api_message_id".into(), Value::String(id));
        }
        self.emit(Frame::StreamEvent(StreamEventFrame {
            event,
            session_id: self.s.id.clone(),
            parent_tool_use_id: None,
            uuid: frames::uuid(),
            extra,
        }))
        .await;
    }

    /// On interrupt mid-stream, close the partial message for clients that render stream events.
    async fn abandon(&self, acc: &Accumulator) {
        if acc.message.is_none() {
            return;
        }
        self.forward(
            acc,
            StreamEvent::MessageDelta(MessageDelta {
                delta: MessageDeltaBody::default(),
                usage: json!({}),
            }),
        )
        .await;
        let mut extra = Map::new();
        extra.insert(
            "abandoned_blocks".into(),
            json!({"api_message_id": acc.message.as_ref().map(|m| m.id.clone()), "from_block_index": acc.completed}),
        );
        self.forward(acc, StreamEvent::MessageStop(Empty { extra }))
            .await;
    }

    async fn emit_block(&self, acc: &Accumulator, block: ContentBlock) {
        let Some(shell) = &acc.message else { return };
        let mut message = shell.clone();
        message.content = vec![block];
        message.stop_reason = None;
        let mut extra = Map::new();
        extra.insert("timestamp".into(), Value::String(frames::timestamp()));
        self.emit(Frame::Assistant(AssistantFrame {
            message,
            parent_tool_use_id: None,
            session_id: self.s.id.clone(),
            uuid: frames::uuid(),
            extra,
        }))
        .await;
    }

    /// A synthetic assistant message saying what went wrong, as Claude Code emits.
    async fn emit_api_error(&self, e: &ModelError) {
        let mut extra = Map::new();
        extra.insert("error".into(), Value::String(e.category().into()));
        extra.insert("is_api_error_message".into(), Value::Bool(true));
        if let Some(status) = e.status() {
            extra.insert("api_error_status".into(), json!(status));
        }
        self.emit(Frame::Assistant(AssistantFrame {
            message: AssistantMessage {
                id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
                kind: "message".into(),
                role: Role::Assistant,
                model: "<synthetic>".into(),
                content: vec![ContentBlock::text(e.to_string())],
                stop_reason: Some("stop_sequence".into()),
                stop_sequence: None,
                usage: Usage::default(),
                extra: Map::new(),
            },
            parent_tool_use_id: None,
            session_id: self.s.id.clone(),
            uuid: frames::uuid(),
            extra,
        }))
        .await;
    }

    /// Runs every `Task` call of a reply at once, each as a sub-agent with its own context, and
    /// returns their outputs (with the permission record) by call id.
    async fn run_subagents(
        &mut self,
        calls: &[ToolUseBlock],
        bad_inputs: &HashMap<String, String>,
    ) -> HashMap<String, (ToolOutput, Value)> {
        let tasks: Vec<&ToolUseBlock> = calls
            .iter()
            .filter(|c| is_task(&c.name) && !bad_inputs.contains_key(&c.id))
            .collect();
        // Sub-agents have no Task tool: one level, as in Claude Code.
        if tasks.is_empty() || self.parent.is_some() {
            return HashMap::new();
        }
        let (agents, decisions): (Vec<AgentDef>, Vec<Decision>) = {
            let Ok(live) = self.s.live.lock() else {
                return HashMap::new();
            };
            let agents = crate::agents::available(self.s.toolbox.context().cwd(), &live.agents);
            let decisions = tasks
                .iter()
                .map(|c| {
                    permissions::decide(
                        live.mode,
                        &live.rules,
                        &self.s.toolbox.facts(tools::task::NAME, &c.input),
                    )
                })
                .collect();
            (agents, decisions)
        };
        let mut done = HashMap::new();
        let mut runs = Vec::new();
        for (call, decision) in tasks.into_iter().zip(decisions) {
            match decision {
                Decision::Deny { message } => {
                    self.denials.push(PermissionDenial {
                        tool_name: call.name.clone(),
                        tool_use_id: call.id.clone(),
                        tool_input: call.input.clone(),
                    });
                    let meta = json!([{"id": call.id, "permission_decision": {"decision": "reject", "source": "config"}}]);
                    done.insert(call.id.clone(), (ToolOutput::error(message), meta));
                }
                _ => runs.push(call),
            }
        }
        let outputs = futures_util::future::join_all(runs.iter().map(|call| {
            run_subagent(
                self.s,
                call,
                self.cancel.child_token(),
                &self.tools,
                &agents,
            )
        }))
        .await;
        for (call, (out, usage)) in runs.into_iter().zip(outputs) {
            self.usage.add(&usage);
            let meta = json!([{"id": call.id, "permission_decision": {"decision": "accept", "source": "readOnly"}}]);
            done.insert(call.id.clone(), (out, meta));
        }
        done
    }

    async fn run_tools(
        &mut self,
        calls: &[ToolUseBlock],
        bad_inputs: &HashMap<String, String>,
    ) -> ToolsOutcome {
        let mut outcome = ToolsOutcome::default();
        let mut delegated = self.run_subagents(calls, bad_inputs).await;
        for call in calls {
            // Sub-agents already ran (together); their results keep the calls' order.
            if let Some((out, meta)) = delegated.remove(&call.id) {
                let result = self.emit_result(&call.id, &out, &[], Some(meta)).await;
                outcome.results.push(result);
                continue;
            }
            if outcome.interrupted || self.cancel.is_cancelled() {
                outcome.interrupted = true;
                outcome.results.push(error_result(
                    &call.id,
                    "Interrupted by user before this tool ran.",
                ));
                continue;
            }
            let result = match bad_inputs.get(&call.id) {
                Some(error) => {
                    let out = ToolOutput::error(format!(
                        "{}: the tool input was not valid JSON ({error}). Send the call again with a valid JSON object.",
                        call.name
                    ));
                    self.emit_result(&call.id, &out, &[], None).await
                }
                None => self.run_one(call, &mut outcome).await,
            };
            outcome.results.push(result);
        }
        outcome
    }

    async fn run_one(&mut self, call: &ToolUseBlock, outcome: &mut ToolsOutcome) -> ContentBlock {
        let s = self.s;
        let mut input = call.input.clone();
        let pre = self
            .run_hooks(
                "PreToolUse",
                Some(call),
                json!({"tool_name": call.name, "tool_input": input, "tool_use_id": call.id}),
            )
            .await;
        if let Some(reason) = &pre.stop {
            outcome.stop = Some(reason.clone());
        }
        if let Some(updated) = pre.updated_input.clone() {
            input = updated;
        }
        let decision = match pre.permission {
            Some(HookPermission::Deny) => Decision::Deny {
                message: pre
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("A hook blocked {}.", call.name)),
            },
            Some(HookPermission::Allow) => Decision::Allow {
                reason: "hook".into(),
            },
            hook => {
                let facts = s.toolbox.facts(&call.name, &input);
                let decision = match s.live.lock() {
                    Ok(live) => permissions::decide(live.mode, &live.rules, &facts),
                    Err(_) => Decision::Deny {
                        message: "permission state unavailable".into(),
                    },
                };
                match (hook, decision) {
                    (Some(HookPermission::Ask), Decision::Allow { .. }) => {
                        match permissions::decide(
                            crate::permissions::Mode::Default,
                            &Default::default(),
                            &facts,
                        ) {
                            ask @ Decision::Ask { .. } => ask,
                            _ => Decision::Ask {
                                reason: "hook".into(),
                                suggestions: Vec::new(),
                                blocked_path: None,
                            },
                        }
                    }
                    (_, d) => d,
                }
            }
        };
        // Who decided, for the client's records (Claude Code's `tool_result_meta`).
        let (allowed, source) = match decision {
            Decision::Allow { reason } => (Ok(input), reason),
            Decision::Deny { message } => (Err((message, false)), "config".to_string()),
            Decision::Ask {
                reason,
                suggestions,
                blocked_path,
            } => {
                let answer = self
                    .ask(call, input, reason, suggestions, blocked_path)
                    .await;
                let source = if answer.is_ok() {
                    "user"
                } else {
                    "user_reject"
                };
                (answer, source.to_string())
            }
        };
        let meta = json!([{"id": call.id, "permission_decision": {
            "decision": if allowed.is_ok() { "accept" } else { "reject" },
            "source": source,
        }}]);
        let input = match allowed {
            Ok(input) => input,
            Err((message, interrupt)) => {
                self.denials.push(PermissionDenial {
                    tool_name: call.name.clone(),
                    tool_use_id: call.id.clone(),
                    tool_input: call.input.clone(),
                });
                if interrupt {
                    outcome.interrupted = true;
                    self.cancel.cancel();
                }
                let out = ToolOutput::error(message);
                return self.emit_result(&call.id, &out, &[], Some(meta)).await;
            }
        };
        let started = Instant::now();
        let out = match s.mcp.find(&call.name).await {
            Some((server, tool)) => {
                s.mcp
                    .call(s, &server, &tool, input.clone(), &call.id, &self.cancel)
                    .await
            }
            None => {
                s.toolbox
                    .run(&call.name, input.clone(), self.cancel.child_token())
                    .await
            }
        };
        if self.cancel.is_cancelled() {
            outcome.interrupted = true;
        }
        let post = if outcome.interrupted {
            HookVerdict::default()
        } else {
            let mut fields = json!({
                "tool_name": call.name,
                "tool_input": input,
                "tool_use_id": call.id,
                "duration_ms": started.elapsed().as_millis() as u64,
            });
            let event = if out.is_error {
                fields["error"] = json!(tool_text(&out));
                "PostToolUseFailure"
            } else {
                fields["tool_response"] = out.structured.clone();
                "PostToolUse"
            };
            self.run_hooks(event, Some(call), fields).await
        };
        if let Some(reason) = &post.stop {
            outcome.stop = Some(reason.clone());
        }
        let mut context = pre.additional_context;
        context.extend(post.additional_context);
        self.emit_result(&call.id, &out, &context, Some(meta)).await
    }

    /// Asks the client (or auto-denies without a prompt tool). `Err((message, interrupt))` means denied.
    async fn ask(
        &mut self,
        call: &ToolUseBlock,
        input: Value,
        reason: String,
        suggestions: Vec<workroom_protocol::control::PermissionUpdate>,
        blocked_path: Option<String>,
    ) -> Result<Value, (String, bool)> {
        let s = self.s;
        if !s.config.prompt_tool_stdio {
            let message = format!(
                "Claude requested permissions to use {}, but you haven't granted it yet.",
                call.name
            );
            s.emit(&frames::system(
                &s.id,
                "permission_denied",
                json!({"tool_name": call.name, "tool_use_id": call.id, "message": message}),
            ))
            .await;
            return Err((message, false));
        }
        let description = tools::describe_call(s.toolbox.context(), &call.name, &input);
        let title = match call.name.as_str() {
            "Bash" => format!(
                "Claude wants to run `{}`",
                input
                    .get("command")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
            "Write" | "Edit" => format!("Claude wants to change {description}"),
            tools::ask::EXIT_PLAN_NAME => "Claude has a plan for you to approve".to_string(),
            tools::ask::QUESTION_NAME => "Claude has a question for you".to_string(),
            name => format!("Claude wants to use {name}"),
        };
        let request = ControlRequest::CanUseTool(CanUseTool {
            tool_name: call.name.clone(),
            display_name: Some(call.name.clone()),
            input: input.clone(),
            description: Some(description),
            title: Some(title),
            permission_suggestions: suggestions,
            blocked_path,
            decision_reason: Some(reason),
            tool_use_id: Some(call.id.clone()),
            extra: Map::new(),
        });
        s.report_state("requires_action").await;
        let answer = control::request(&s.outbox, &s.pending, request, &self.cancel, None).await;
        s.report_state("running").await;
        let value = match answer {
            Ok(v) => v,
            Err(ControlError::Interrupted) => {
                return Err((
                    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it \
                     was a file edit, the new_string was NOT written to the file). STOP what you are doing and \
                     wait for the user to tell you how to proceed."
                        .into(),
                    true,
                ))
            }
            Err(e) => return Err((format!("Tool permission request failed: {e}"), false)),
        };
        match serde_json::from_value::<PermissionResult>(value) {
            Ok(PermissionResult::Allow(allow)) => {
                if let Some(updates) = &allow.updated_permissions {
                    s.apply_updates(updates).await;
                }
                // An approved plan ends planning, whether or not the client also set a mode.
                if call.name == tools::ask::EXIT_PLAN_NAME {
                    s.leave_plan_mode().await;
                }
                Ok(allow
                    .updated_input
                    .filter(Value::is_object)
                    .unwrap_or(input))
            }
            Ok(PermissionResult::Deny(deny)) => {
                let message = if deny.message.is_empty() {
                    "The user denied this tool use.".to_string()
                } else {
                    deny.message
                };
                Err((message, deny.interrupt))
            }
            Ok(PermissionResult::Other(v)) => Err((
                format!("Tool permission request failed: unrecognised answer {v}"),
                false,
            )),
            Err(e) => Err((format!("Tool permission request failed: {e}"), false)),
        }
    }

    /// Stop hooks may ask the model to keep going ("decision":"block" with a reason); bounded so a hook
    /// cannot keep a turn alive forever.
    async fn stop_hook_feedback(&mut self, active: &mut bool) -> Option<String> {
        const MAX_CONTINUATIONS: usize = 8;
        // Stop hooks are about the session's turn, not a sub-agent's.
        if self.stop_continued >= MAX_CONTINUATIONS || self.parent.is_some() {
            return None;
        }
        let verdict = self
            .run_hooks("Stop", None, json!({"stop_hook_active": *active}))
            .await;
        if verdict.permission != Some(HookPermission::Deny) {
            return None;
        }
        *active = true;
        self.stop_continued += 1;
        Some(format!(
            "Stop hook feedback:\n{}",
            verdict.reason.unwrap_or_else(|| "Continue.".into())
        ))
    }

    /// Runs the client's hooks for `event`; `call` is the tool call for tool events.
    async fn run_hooks(
        &self,
        event: &str,
        call: Option<&ToolUseBlock>,
        fields: Value,
    ) -> HookVerdict {
        let s = self.s;
        let callbacks = match s.live.lock() {
            Ok(live) => live.hooks.callbacks(event, call.map(|c| c.name.as_str())),
            Err(_) => Vec::new(),
        };
        let mut verdict = HookVerdict::default();
        for callback in callbacks {
            let mut input = json!({
                "session_id": s.id,
                "transcript_path": "",
                "cwd": s.toolbox.context().cwd(),
                "permission_mode": s.mode().as_str(),
                "hook_event_name": event,
            });
            if let (Some(obj), Value::Object(more)) = (input.as_object_mut(), &fields) {
                obj.extend(more.clone());
            }
            let request = ControlRequest::HookCallback(HookCallback {
                callback_id: callback.id.clone(),
                input,
                tool_use_id: call.map(|c| c.id.clone()),
            });
            let timeout = Duration::from_secs_f64(callback.timeout_secs.clamp(0.1, 3600.0));
            match control::request(&s.outbox, &s.pending, request, &self.cancel, Some(timeout))
                .await
            {
                Ok(output) => verdict.absorb(&output),
                Err(e) => {
                    tracing::warn!(hook = %callback.id, event, error = %e, "hook failed; continuing without it")
                }
            }
        }
        verdict
    }

    /// Emits the `user` tool_result frame and returns the block for the history.
    async fn emit_result(
        &self,
        tool_use_id: &str,
        out: &ToolOutput,
        context: &[String],
        meta: Option<Value>,
    ) -> ContentBlock {
        let mut content = match &out.content {
            ToolContent::Text(text) => ToolResultContent::Text(text.clone()),
            ToolContent::Blocks(blocks) => ToolResultContent::Blocks(
                blocks
                    .iter()
                    .filter_map(|b| serde_json::from_value(b.clone()).ok())
                    .collect(),
            ),
        };
        if !context.is_empty() {
            let note = format!("\n\n{}", reminder(context));
            content = match content {
                ToolResultContent::Text(t) => ToolResultContent::Text(t + &note),
                ToolResultContent::Blocks(mut b) => {
                    b.push(ContentBlock::text(note));
                    ToolResultContent::Blocks(b)
                }
            };
        }
        let block = ContentBlock::ToolResult(ToolResultBlock {
            tool_use_id: tool_use_id.to_string(),
            content: Some(content),
            is_error: Some(out.is_error),
            cache_control: None,
            extra: Map::new(),
        });
        let mut frame = frames::user(
            &self.s.id,
            vec![block.clone()],
            Some(out.structured.clone()),
        );
        if let (Frame::User(user), Some(meta)) = (&mut frame, meta) {
            user.extra.insert("tool_result_meta".into(), meta);
        }
        self.emit(frame).await;
        block
    }

    fn result_frame(&self, end: End) -> ResultFrame {
        let (subtype, is_error, terminal, errors, api_status, result) = match &end {
            End::Completed => (
                "success",
                false,
                "completed",
                None,
                None,
                Some(self.last_text.clone()),
            ),
            End::Stopped(reason) => (
                "success",
                false,
                "hook_stopped",
                None,
                None,
                Some(reason.clone()),
            ),
            End::InterruptedStreaming => (
                "error_during_execution",
                true,
                "aborted_streaming",
                Some(vec!["Interrupted by user".to_string()]),
                None,
                None,
            ),
            End::InterruptedTools => (
                "error_during_execution",
                true,
                "aborted_tools",
                Some(vec!["Interrupted by user".to_string()]),
                None,
                None,
            ),
            End::MaxTurns(n) => (
                "error_max_turns",
                true,
                "max_turns",
                Some(vec![format!("Reached maximum number of turns ({n})")]),
                None,
                None,
            ),
            End::Api(e) => (
                "success",
                true,
                "api_error",
                None,
                e.status(),
                Some(e.to_string()),
            ),
            End::PromptBlocked(reason) => (
                "success",
                false,
                "prompt_blocked",
                None,
                None,
                Some(reason.clone()),
            ),
        };
        let (cost, model_usage) = match self.s.totals.lock() {
            Ok(t) => (
                t.cost_usd,
                model_usage(&t.by_model, self.s.config.max_tokens),
            ),
            Err(_) => (0.0, json!({})),
        };
        let mut extra = Map::new();
        extra.insert("modelUsage".into(), model_usage);
        ResultFrame {
            subtype: subtype.into(),
            is_error,
            duration_ms: self.started.elapsed().as_millis() as u64,
            duration_api_ms: self.api_time.as_millis() as u64,
            num_turns: self.requests,
            session_id: self.s.id.clone(),
            result,
            total_cost_usd: cost,
            usage: self.usage.clone(),
            permission_denials: self.denials.clone(),
            stop_reason: self.stop_reason.clone(),
            terminal_reason: Some(terminal.into()),
            errors,
            api_error_status: api_status,
            uuid: Some(frames::uuid()),
            extra,
        }
    }
}

fn is_task(name: &str) -> bool {
    name == tools::task::NAME || name == tools::task::ALIAS
}

/// A boxed future: a sub-agent's loop is the same function as the one that starts it, so the
/// recursion needs one box with a named type.
type SubagentRun<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (ToolOutput, Usage)> + Send + 'a>>;

/// Runs one sub-agent to the end: its own history (the prompt), its own system prompt and tools,
/// the session's permission flow; cancelled with the turn. Returns its output and usage.
fn run_subagent<'a>(
    s: &'a Session,
    call: &'a ToolUseBlock,
    cancel: CancellationToken,
    parent_tools: &'a [ToolDefinition],
    agents: &'a [AgentDef],
) -> SubagentRun<'a> {
    Box::pin(subagent(s, call, cancel, parent_tools, agents))
}

async fn subagent(
    s: &Session,
    call: &ToolUseBlock,
    cancel: CancellationToken,
    parent_tools: &[ToolDefinition],
    agents: &[AgentDef],
) -> (ToolOutput, Usage) {
    let started = Instant::now();
    let prompt = call.input["prompt"].as_str().unwrap_or_default().trim();
    if prompt.is_empty() {
        return (
            ToolOutput::error("Task needs a `prompt`: the whole task for the sub-agent."),
            Usage::default(),
        );
    }
    let kind = call.input["subagent_type"]
        .as_str()
        .filter(|k| !k.is_empty())
        .unwrap_or(crate::agents::GENERAL);
    let Some(def) = agents.iter().find(|a| a.name == kind) else {
        let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
        return (
            ToolOutput::error(format!(
                "Agent type '{kind}' not found. Available agents: {}",
                names.join(", ")
            )),
            Usage::default(),
        );
    };
    let tools: Vec<ToolDefinition> = parent_tools
        .iter()
        .filter(|t| !is_task(&t.name))
        .filter(|t| def.tools.as_ref().is_none_or(|only| only.contains(&t.name)))
        .cloned()
        .collect();
    let system_prompt = format!("{}\n\n{}", def.prompt, s.config.system_prompt);
    let mut turn = Turn {
        s,
        parent: Some(call.id.clone()),
        system_prompt: Some(system_prompt),
        model: def.model.clone(),
        tools,
        cancel,
        started,
        stop_continued: 0,
        api_time: Duration::ZERO,
        requests: 0,
        usage: Usage::default(),
        denials: Vec::new(),
        last_text: String::new(),
        stop_reason: None,
    };
    let first = ContentBlock::text(prompt);
    turn.emit(frames::user(&s.id, vec![first.clone()], None))
        .await;
    let mut history = vec![Message {
        role: Role::User,
        content: MessageContent::Blocks(vec![first]),
    }];
    let end = turn.agent_loop(&mut history).await;
    let tool_uses = history
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .flat_map(|m| m.content.clone().into_blocks())
        .filter(|b| matches!(b, ContentBlock::ToolUse(_)))
        .count();
    let usage = turn.usage.clone();
    let text = turn.last_text.clone();
    let structured = json!({
        "status": "completed",
        "agentId": call.id,
        "content": [{"type": "text", "text": text}],
        "totalToolUseCount": tool_uses,
        "totalDurationMs": started.elapsed().as_millis() as u64,
        "totalTokens": usage.input_tokens + usage.output_tokens,
        "usage": usage,
        "prompt": prompt,
    });
    let out = match end {
        End::Completed | End::Stopped(_) | End::MaxTurns(_) if !text.is_empty() => {
            ToolOutput::ok(text, structured)
        }
        End::Completed | End::Stopped(_) | End::MaxTurns(_) => {
            ToolOutput::ok("The sub-agent finished without a report.", structured)
        }
        End::InterruptedStreaming | End::InterruptedTools => {
            ToolOutput::error("The sub-agent was interrupted by the user.")
        }
        End::Api(e) => ToolOutput::error(format!("The sub-agent stopped: {e}")),
        End::PromptBlocked(reason) => ToolOutput::error(reason),
    };
    (out, usage)
}

#[derive(Default)]
struct ToolsOutcome {
    results: Vec<ContentBlock>,
    interrupted: bool,
    stop: Option<String>,
}

/// Every tool offered this turn: the built-ins, then the client's MCP tools.
pub async fn all_tools(s: &Session) -> Vec<ToolDefinition> {
    let mut tools = s.toolbox.definitions();
    // The sub-agent types depend on the folder and the client: describe them as of now.
    if let Some(task) = tools.iter_mut().find(|t| is_task(&t.name)) {
        let client = s.live.lock().map(|l| l.agents.clone()).unwrap_or_default();
        let agents = crate::agents::available(s.toolbox.context().cwd(), &client);
        task.description = tools::task::description_with(&agents);
    }
    if let Some(skill) = tools.iter_mut().find(|t| t.name == tools::skill::NAME) {
        skill.description =
            tools::skill::description_with(&crate::skills::available(s.toolbox.context().cwd()));
    }
    tools.extend(s.mcp.definitions().await);
    tools
}

fn reminder(lines: &[String]) -> String {
    format!(
        "<system-reminder>\n{}\n</system-reminder>",
        lines.join("\n")
    )
}

fn tool_text(out: &ToolOutput) -> String {
    match &out.content {
        ToolContent::Text(t) => t.clone(),
        ToolContent::Blocks(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn error_result(tool_use_id: &str, message: &str) -> ContentBlock {
    ContentBlock::ToolResult(ToolResultBlock {
        tool_use_id: tool_use_id.into(),
        content: Some(ToolResultContent::Text(message.into())),
        is_error: Some(true),
        cache_control: None,
        extra: Map::new(),
    })
}

fn model_usage(by_model: &BTreeMap<String, (Usage, f64)>, max_output: u32) -> Value {
    let map: Map<String, Value> = by_model
        .iter()
        .map(|(model, (u, cost))| {
            (
                model.clone(),
                json!({
                    "inputTokens": u.input_tokens,
                    "outputTokens": u.output_tokens,
                    "cacheReadInputTokens": u.cache_read_input_tokens,
                    "cacheCreationInputTokens": u.cache_creation_input_tokens,
                    "webSearchRequests": 0,
                    "costUSD": cost,
                    "contextWindow": pricing::context_window(model),
                    "maxOutputTokens": max_output,
                }),
            )
        })
        .collect();
    Value::Object(map)
}

/// Appends user content, merging with a trailing user message so roles keep alternating.
async fn push_user(
    s: &Session,
    history: &mut Vec<Message>,
    blocks: Vec<ContentBlock>,
    record: bool,
) {
    if blocks.is_empty() {
        return;
    }
    let message = Message {
        role: Role::User,
        content: MessageContent::Blocks(blocks),
    };
    if record {
        s.transcript.append(&message).await;
    }
    match history.last_mut() {
        Some(last) if last.role == Role::User => {
            let mut merged =
                std::mem::replace(&mut last.content, MessageContent::Blocks(Vec::new()))
                    .into_blocks();
            merged.extend(message.content.into_blocks());
            last.content = MessageContent::Blocks(merged);
        }
        _ => history.push(message),
    }
}

/// The request for the current history, with prompt-cache breakpoints on the system prompt and on the
/// last block of the last message (a moving breakpoint, as Claude Code places it).
pub fn build_request(
    s: &Session,
    history: &[Message],
    tools: &[ToolDefinition],
) -> MessagesRequest {
    let mut messages = history.to_vec();
    if let Some(last) = messages.last_mut() {
        let mut blocks =
            std::mem::replace(&mut last.content, MessageContent::Blocks(Vec::new())).into_blocks();
        if let Some(block) = blocks.last_mut() {
            block.set_cache_control(Some(CacheControl::ephemeral()));
        }
        last.content = MessageContent::Blocks(blocks);
    }
    let thinking = (s.config.thinking_budget > 0)
        .then(|| json!({"type": "enabled", "budget_tokens": s.config.thinking_budget}));
    MessagesRequest {
        model: s.model(),
        max_tokens: s.config.max_tokens,
        messages,
        system: vec![SystemBlock {
            kind: "text".into(),
            text: s.config.system_prompt.clone(),
            cache_control: Some(CacheControl::ephemeral()),
        }],
        tools: tools.to_vec(),
        stream: true,
        thinking,
        extra: Map::new(),
    }
}

async fn init_frame(s: &Session, tools: &[ToolDefinition]) -> Frame {
    let roots: Vec<String> = s
        .config
        .roots
        .iter()
        .map(|r| r.display().to_string())
        .collect();
    let tools: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let mcp_servers = s.mcp.status().await;
    frames::system(
        &s.id,
        "init",
        json!({
            "cwd": roots.first(),
            "tools": tools,
            "mcp_servers": mcp_servers,
            "model": s.model(),
            "permissionMode": s.mode().as_str(),
            "slash_commands": [],
            "apiKeySource": s.api_key_source(),
            "claude_code_version": workroom_protocol::CLAUDE_CODE_COMPAT_VERSION,
            "output_style": "default",
            "agents": [],
            "skills": [],
            "plugins": [],
            "additional_directories": roots.iter().skip(1).collect::<Vec<_>>(),
        }),
    )
}

/// Builds a message from stream events.
#[derive(Default)]
struct Accumulator {
    message: Option<AssistantMessage>,
    blocks: BTreeMap<usize, (ContentBlock, String)>,
    done: Vec<(usize, ContentBlock)>,
    bad_inputs: HashMap<String, String>,
    completed: usize,
    stopped: bool,
}

impl Accumulator {
    /// Applies an event; returns the block it completed, if any.
    fn apply(&mut self, event: &StreamEvent) -> Result<Option<ContentBlock>, ModelError> {
        match event {
            StreamEvent::MessageStart(start) => {
                self.message = Some(start.message.clone());
            }
            StreamEvent::ContentBlockStart(start) => {
                self.blocks
                    .insert(start.index, (start.content_block.clone(), String::new()));
            }
            StreamEvent::ContentBlockDelta(delta) => {
                let Some((block, json)) = self.blocks.get_mut(&delta.index) else {
                    return Err(ModelError::Malformed(format!(
                        "delta for unknown block {}",
                        delta.index
                    )));
                };
                match (block, &delta.delta) {
                    (ContentBlock::Text(t), Delta::Text(d)) => t.text.push_str(&d.text),
                    (ContentBlock::ToolUse(_), Delta::InputJson(d)) => {
                        json.push_str(&d.partial_json)
                    }
                    (ContentBlock::Thinking(t), Delta::Thinking(d)) => {
                        t.thinking.push_str(&d.thinking)
                    }
                    (ContentBlock::Thinking(t), Delta::Signature(d)) => {
                        t.signature.push_str(&d.signature)
                    }
                    _ => {}
                }
            }
            StreamEvent::ContentBlockStop(stop) => {
                let Some((mut block, json)) = self.blocks.remove(&stop.index) else {
                    return Ok(None);
                };
                if let ContentBlock::ToolUse(call) = &mut block {
                    if json.trim().is_empty() {
                        call.input = json!({});
                    } else {
                        match serde_json::from_str::<Value>(&json) {
                            Ok(v @ Value::Object(_)) => call.input = v,
                            Ok(_) => {
                                self.bad_inputs
                                    .insert(call.id.clone(), "not a JSON object".into());
                                call.input = json!({});
                            }
                            Err(e) => {
                                self.bad_inputs.insert(call.id.clone(), e.to_string());
                                call.input = json!({});
                            }
                        }
                    }
                }
                self.completed += 1;
                self.done.push((stop.index, block.clone()));
                return Ok(Some(block));
            }
            StreamEvent::MessageDelta(delta) => {
                if let Some(m) = self.message.as_mut() {
                    m.stop_reason = delta.delta.stop_reason.clone();
                    m.stop_sequence = delta.delta.stop_sequence.clone();
                    // message_delta usage is cumulative; fields it carries replace the start values.
                    if let Value::Object(u) = &delta.usage {
                        let get = |k: &str| u.get(k).and_then(Value::as_u64);
                        if let Some(v) = get("output_tokens") {
                            m.usage.output_tokens = v;
                        }
                        if let Some(v) = get("input_tokens") {
                            m.usage.input_tokens = v;
                        }
                        if let Some(v) = get("cache_read_input_tokens") {
                            m.usage.cache_read_input_tokens = v;
                        }
                        if let Some(v) = get("cache_creation_input_tokens") {
                            m.usage.cache_creation_input_tokens = v;
                        }
                    }
                }
            }
            StreamEvent::MessageStop(_) => self.stopped = true,
            StreamEvent::Ping(_) | StreamEvent::Error(_) | StreamEvent::Other(_) => {}
        }
        Ok(None)
    }

    fn finish(mut self) -> Result<Reply, ModelError> {
        let Some(mut message) = self.message.take() else {
            return Err(ModelError::Connection(
                "the response had no message_start".into(),
            ));
        };
        if !self.stopped {
            return Err(ModelError::Connection(
                "the stream ended before message_stop".into(),
            ));
        }
        self.done.sort_by_key(|(i, _)| *i);
        message.content = self.done.into_iter().map(|(_, b)| b).collect();
        Ok(Reply {
            message,
            bad_inputs: self.bad_inputs,
        })
    }
}
