/**
 * The session reducer: live events, stored transcript records and the person's own actions, all
 * folded into one `SessionView`. Pure: time comes in with the action.
 */
import type {
  FrameRecord,
  PermissionAnswer,
  PermissionPrompt,
  SessionEvent,
  VmState,
} from '../backend/types';
import { applyAgentFrame, resultText } from './agentFrames';
import { readFolderChanges } from './changes';
import { seconds } from './format';
import { appendItem, notice, replaceAt, settleUnfinished, updateTool } from './items';
import { field, num, obj, str, type JsonObject } from './json';
import { readNetworkRequest } from './network';
import { decisionWords, networkHost, promptKind } from './prompts';
import { callsIn } from './subagents';
import { abandonTurns, dropTurns, messageSent, withdrawMessage } from './turns';
import { changesRecorded, placeDueChanges, turnsUndone, undoRedone } from './undo';
import type { SessionView, ToolDecision, ToolItem } from './view';

export type SessionAction =
  /** A live event from the session. */
  | { type: 'event'; event: SessionEvent; atMs: number }
  /** A frame of the stored transcript. */
  | { type: 'stored'; record: FrameRecord }
  /** The window opened the session: what the host holds in memory right now. */
  | { type: 'snapshot'; pending: PermissionPrompt[]; vm: VmState | null }
  /** The person sent a message. */
  | { type: 'sent'; text: string }
  /** Sending failed before the host took it. */
  | { type: 'send_failed'; message: string }
  /** The person answered a question (shown at once; the host confirms by carrying on). */
  | { type: 'answered'; prompt: PermissionPrompt; answer: PermissionAnswer }
  | { type: 'answer_failed'; prompt: PermissionPrompt; message: string }
  | { type: 'stop_requested' }
  /** The person chose another permission mode. */
  | { type: 'mode_changed'; mode: string }
  /**
   * An undo or redo was applied. The command answers with its result (no live frame), so the page
   * applies the record the host appended to the transcript itself.
   */
  | { type: 'restored'; record: 'undo' | 'redo'; turn: number }
  /** The person decided about the oldest message held back by the undo size cap. */
  | { type: 'over_cap_answered' }
  /** Something the window tried failed; said in the conversation. */
  | { type: 'failed'; message: string };

export function reduce(view: SessionView, action: SessionAction): SessionView {
  switch (action.type) {
    case 'event':
      return onEvent(view, action.event, action.atMs);
    case 'stored':
      return onStored(view, action.record);
    case 'snapshot':
      return onSnapshot(view, action.pending, action.vm);
    case 'sent':
      return messageSent(view, action.text);
    case 'send_failed':
      return abandonTurns(view, action.message);
    case 'answered':
      return onAnswered(view, action.prompt, action.answer);
    case 'answer_failed':
      return notice(
        { ...view, pending: addPrompt(view.pending, action.prompt) },
        'error',
        `Your answer did not reach the agent: ${action.message}`,
      );
    case 'stop_requested':
      // Stop while the VM boots withdraws the messages it was booting for (the host drops them).
      if (view.vm?.state === 'booting') {
        return abandonTurns(view, 'Not sent: you pressed Stop before the virtual machine was ready.');
      }
      return { ...view, stopping: true };
    case 'mode_changed':
      return { ...view, permissionMode: action.mode };
    case 'restored':
      return action.record === 'undo' ? turnsUndone(view, action.turn) : undoRedone(view);
    case 'over_cap_answered':
      return { ...view, overCap: view.overCap.slice(1) };
    case 'failed':
      return notice(view, 'error', action.message);
  }
}

// ── Live events ───────────────────────────────────────────────────────────────

function onEvent(view: SessionView, event: SessionEvent, atMs: number): SessionView {
  switch (event.type) {
    case 'vm':
      // A turn's changes come before its VM's end when it died mid-turn.
      return onVm(placeDueChanges(view), vmState(event));
    case 'frame':
      return onLiveFrame(view, event.frame, atMs);
    case 'permission':
      return { ...view, pending: addPrompt(view.pending, promptOf(event)) };
    case 'permission_withdrawn':
      return { ...view, pending: view.pending.filter((p) => p.request_id !== event.request_id) };
    case 'auto_allowed':
      return autoAllowed(view, event.summary, event.reason);
    case 'error':
      // The host reports a failed boot as an error while the VM is still "booting".
      if (view.vm?.state === 'booting') {
        const failed: VmState = { state: 'failed', reason: event.message, console_tail: '' };
        return notice(abandonTurns({ ...view, vm: failed }, 'Not delivered: the virtual machine did not start.'), 'error', event.message);
      }
      return notice(view, 'error', event.message);
    case 'undo_over_cap':
      return {
        ...withdrawMessage(view, event.text),
        overCap: [...view.overCap, { text: event.text, capBytes: event.cap_bytes, folders: event.folders }],
      };
    case 'closed':
      return { ...settleUnfinished(placeDueChanges(view)), closed: true, pending: [] };
  }
}

/** A live frame: the agent's, or one of the host's undo records (the others come as their own events). */
function onLiveFrame(view: SessionView, frame: unknown, atMs: number): SessionView {
  const body = obj(frame);
  switch (body.type) {
    case 'workroom_changes':
      return changesRecorded(view, readFolderChanges(body.folders), true);
    case 'workroom_no_undo':
      return noUndo(view, body);
    case 'workroom_network':
      return networkRecorded(view, body);
    case 'result':
      // The turn's changes arrived just before its result; their card goes after the footer.
      return placeDueChanges(applyAgentFrame(view, frame, atMs));
    default:
      return applyAgentFrame(view, frame, atMs);
  }
}

function noUndo(view: SessionView, body: JsonObject): SessionView {
  const reason = field(body, 'reason').replace(/\.$/, '') || 'no checkpoint was taken';
  return notice(view, 'quiet', `This turn ran without undo: ${reason}.`);
}

/** A request through the network proxy: one quiet line, joined to the line of the requests just before. */
function networkRecorded(view: SessionView, body: JsonObject): SessionView {
  const request = readNetworkRequest(body);
  if (!request) return view;
  const last = view.items[view.items.length - 1];
  if (last?.kind === 'network') {
    return replaceAt(view, view.items.length - 1, { ...last, requests: [...last.requests, request] });
  }
  return appendItem(view, { kind: 'network', requests: [request] });
}

function vmState(event: Extract<SessionEvent, { type: 'vm' }>): VmState {
  switch (event.state) {
    case 'booting':
      return { state: 'booting', step: event.step };
    case 'running':
      return { state: 'running', accel: event.accel, boot_ms: event.boot_ms };
    case 'stopped':
      return { state: 'stopped', reason: event.reason };
    case 'failed':
      return { state: 'failed', reason: event.reason, console_tail: event.console_tail };
  }
}

function promptOf(event: Extract<SessionEvent, { type: 'permission' }>): PermissionPrompt {
  const { type: _type, ...prompt } = event;
  return prompt;
}

function addPrompt(pending: PermissionPrompt[], prompt: PermissionPrompt): PermissionPrompt[] {
  return pending.some((p) => p.request_id === prompt.request_id) ? pending : [...pending, prompt];
}

/** A VM state change, live or stored: the same words either way. */
function onVm(view: SessionView, vm: VmState): SessionView {
  const next = { ...view, vm, closed: false };
  switch (vm.state) {
    case 'booting':
      return next;
    case 'running':
      // A new agent process: its cumulative cost starts from zero again.
      return notice({ ...next, lastTotalCostUsd: 0 }, 'quiet', `Virtual machine started (${vm.accel}, ${seconds(vm.boot_ms)}).`);
    case 'stopped':
      return notice(
        dropTurns({ ...next, pending: [] }, 'Not answered: the virtual machine stopped first.'),
        'quiet',
        `Virtual machine: ${vm.reason}.`,
      );
    case 'failed':
      return notice(
        dropTurns({ ...next, pending: [] }, 'Not answered: the virtual machine stopped first.'),
        'error',
        vm.reason,
      );
  }
}

/** The host allowed a Write/Edit by itself; the event names no tool call, so it goes on the latest
 * undecided file tool still running (a sub-agent's included), or stands on its own. */
function autoAllowed(view: SessionView, summary: string, reason: string): SessionView {
  const decision: ToolDecision = { text: `Allowed by Workroom (${reason})`, allowed: true };
  const call = view.items
    .flatMap(callsIn)
    .reverse()
    .find((tool) => tool.status === 'running' && !tool.decision && (tool.name === 'Write' || tool.name === 'Edit'));
  if (call) return updateTool(view, call.toolUseId, (tool) => ({ ...tool, decision }));
  return notice(view, 'quiet', `${summary}: allowed by Workroom (${reason}).`);
}

// ── Permission answers ────────────────────────────────────────────────────────

/** Network answers that outlast the request asked about (live kinds and stored decision names). */
const LASTING_NETWORK_ANSWERS = new Set(['allow_for_session', 'allow_session', 'always_allow']);

/**
 * A network question has no tool call to mark. The request's own line says whether it went out;
 * an answer that also covers later requests gets a line of its own.
 */
function networkDecided(view: SessionView, host: string, answer: string, decision: ToolDecision): SessionView {
  if (!LASTING_NETWORK_ANSWERS.has(answer)) return view;
  return notice(view, 'quiet', `Connections to ${host || 'a host'}: ${decision.text.toLowerCase()}.`);
}

function decide(view: SessionView, toolUseId: string | null, decision: ToolDecision, fallback: string): SessionView {
  if (toolUseId) {
    let found = false;
    const next = updateTool(view, toolUseId, (tool): ToolItem => {
      found = true;
      return { ...tool, decision, status: !decision.allowed && tool.result?.isError ? 'denied' : tool.status };
    });
    if (found) return next;
  }
  return notice(view, 'quiet', fallback);
}

function onAnswered(view: SessionView, prompt: PermissionPrompt, answer: PermissionAnswer): SessionView {
  const pending = view.pending.filter((p) => p.request_id !== prompt.request_id);
  const decision = decisionWords(prompt.tool_name, answer.kind) ?? { text: 'Answered', allowed: true };
  if (promptKind(prompt) === 'network') return networkDecided({ ...view, pending }, networkHost(prompt), answer.kind, decision);
  return decide({ ...view, pending }, prompt.tool_use_id, decision, `${prompt.summary}: ${decision.text.toLowerCase()}.`);
}

// ── Stored transcript ─────────────────────────────────────────────────────────

function onStored(view: SessionView, record: FrameRecord): SessionView {
  const body = obj(record.body);
  switch (record.direction) {
    case 'in':
      return storedInput(view, body);
    case 'out':
      return applyAgentFrame(view, body, record.at_ms);
    case 'host':
      return storedHostRecord(view, body);
  }
}

/** What was sent to the agent: the person's messages (answers to questions are control responses). */
function storedInput(view: SessionView, body: JsonObject): SessionView {
  if (body.type !== 'user') return view;
  const text = resultText(obj(body.message).content);
  return text ? messageSent(view, text) : view;
}

function storedHostRecord(view: SessionView, body: JsonObject): SessionView {
  switch (body.type) {
    case 'workroom_permission': {
      const decisionKind = field(body, 'decision');
      const tool = field(body, 'tool_name') || 'A tool';
      const decision: ToolDecision =
        body.by === 'host'
          ? { text: `Allowed by Workroom (${field(body, 'reason') || 'no question needed'})`, allowed: true }
          : (decisionWords(tool, decisionKind) ?? { text: 'Answered by you', allowed: decisionKind.startsWith('allow') });
      if (tool === 'Network') return networkDecided(view, field(body, 'host'), decisionKind, decision);
      const rule = str(body.rule);
      const withRule = rule ? { ...decision, text: `${decision.text} (saved rule ${rule})` } : decision;
      return decide(view, str(body.tool_use_id) ?? null, withRule, `${tool}: ${withRule.text.toLowerCase()}.`);
    }
    case 'workroom_vm': {
      const state = field(body, 'state');
      if (state === 'running') {
        return onVm(view, { state: 'running', accel: field(body, 'accel') || 'unknown', boot_ms: num(body.boot_ms) ?? 0 });
      }
      if (state === 'failed') {
        return onVm(view, { state: 'failed', reason: `The virtual machine failed: ${field(body, 'reason')}`, console_tail: '' });
      }
      return onVm(view, { state: 'stopped', reason: field(body, 'reason') || 'no reason given' });
    }
    case 'workroom_changes':
      return changesRecorded(view, readFolderChanges(body.folders), false);
    case 'workroom_undo': {
      const turn = num(body.turn);
      return turn === undefined ? view : turnsUndone(view, turn);
    }
    case 'workroom_redo':
      return undoRedone(view);
    case 'workroom_no_undo':
      return noUndo(view, body);
    case 'workroom_network':
      return networkRecorded(view, body);
    case 'workroom_unsent':
      return appendItem(view, {
        kind: 'user',
        text: field(body, 'text'),
        undelivered: `Not delivered: ${field(body, 'reason') || 'the virtual machine did not start'}.`,
      });
    default:
      return view;
  }
}

// ── Opening a session ─────────────────────────────────────────────────────────

/**
 * After the transcript is replayed: the prompts and VM state the host holds now. A transcript that
 * ends mid-turn while no VM runs (the app was closed in the middle) has nothing more coming.
 */
function onSnapshot(view: SessionView, pending: PermissionPrompt[], vm: VmState | null): SessionView {
  const live = vm?.state === 'running' || vm?.state === 'booting';
  const settled = live ? view : dropTurns(view, 'Not answered: the app closed first.');
  return { ...settled, pending: live ? pending : [], vm: vm ?? settled.vm };
}
