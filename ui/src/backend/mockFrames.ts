/**
 * Builders for the frames and events a real session produces, in the captured shapes of the wire
 * protocol doc (§3) and the host's serde output. The mock backend's scripted sessions and the unit
 * tests both use them, so they exercise what the app will really receive.
 */
import type { Change, Entry, EntryKind, FolderChanges, NetworkDecider, PermissionPrompt, SessionEvent } from './types';

export type Frame = Record<string, unknown>;

export const frame = (body: Frame): SessionEvent => ({ type: 'frame', frame: body });

export function init(model = 'claude-sonnet-4-5', permissionMode = 'default'): Frame {
  return { type: 'system', subtype: 'init', model, permissionMode, session_id: 'agent-1', tools: [] };
}

export function messageStart(messageId: string): Frame {
  return { type: 'stream_event', event: { type: 'message_start', message: { id: messageId, role: 'assistant', content: [] } } };
}

export function blockStart(index: number, block: Frame): Frame {
  return { type: 'stream_event', event: { type: 'content_block_start', index, content_block: block } };
}

export function textDelta(index: number, text: string): Frame {
  return { type: 'stream_event', event: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } } };
}

export function thinkingDelta(index: number, thinking: string): Frame {
  return { type: 'stream_event', event: { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } } };
}

export function inputDelta(index: number, partialJson: string): Frame {
  return {
    type: 'stream_event',
    event: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partialJson } },
  };
}

export function blockStop(index: number): Frame {
  return { type: 'stream_event', event: { type: 'content_block_stop', index } };
}

export function messageStop(abandoned = false): Frame {
  return {
    type: 'stream_event',
    event: abandoned ? { type: 'message_stop', abandoned_blocks: { from_block_index: 0 } } : { type: 'message_stop' },
  };
}

/** One complete block, as the agent emits it: one `assistant` frame per block. */
export function assistant(messageId: string, block: Frame, extra: Frame = {}): Frame {
  return {
    type: 'assistant',
    message: { id: messageId, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [block], stop_reason: null },
    parent_tool_use_id: null,
    ...extra,
  };
}

export const textBlock = (text: string): Frame => ({ type: 'text', text });
export const thinkingBlock = (thinking: string): Frame => ({ type: 'thinking', thinking, signature: 'sig' });
export const toolUseBlock = (id: string, name: string, input: Frame): Frame => ({ type: 'tool_use', id, name, input });

/** The agent's `user` frame carrying a tool's result. */
export function toolResult(toolUseId: string, content: string, options: { isError?: boolean; structured?: unknown } = {}): Frame {
  return {
    type: 'user',
    message: {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: toolUseId, content, is_error: options.isError ?? false }],
    },
    parent_tool_use_id: null,
    ...(options.structured !== undefined ? { tool_use_result: options.structured } : {}),
  };
}

// ── Sub-agents (`Task`) ───────────────────────────────────────────────────────

/** The main agent's `Task` call, starting a sub-agent (`subagentType` absent: the general one). */
export function taskBlock(id: string, description: string, prompt: string, subagentType?: string): Frame {
  return toolUseBlock(id, 'Task', { description, prompt, ...(subagentType ? { subagent_type: subagentType } : {}) });
}

/** `body` as the sub-agent of call `parent` emits it: every frame of it names the call. */
export function fromSubagent(parent: string, body: Frame): Frame {
  return { ...body, parent_tool_use_id: parent };
}

/** A sub-agent's first frame: its prompt, as a text block. */
export function subagentPrompt(parent: string, text: string): Frame {
  return { type: 'user', message: { role: 'user', content: [{ type: 'text', text }] }, parent_tool_use_id: parent };
}

/** A `Task` call's result: the sub-agent's last words, and its figures as the agent reports them. */
export function taskResult(toolUseId: string, report: string, options: { toolUses?: number; durationMs?: number; prompt?: string } = {}): Frame {
  return toolResult(toolUseId, report, {
    structured: {
      status: 'completed',
      agentId: toolUseId,
      content: [{ type: 'text', text: report }],
      totalToolUseCount: options.toolUses ?? 0,
      totalDurationMs: options.durationMs ?? 1000,
      totalTokens: 1400,
      usage: { input_tokens: 1200, output_tokens: 200 },
      prompt: options.prompt ?? '',
    },
  });
}

/** The person's message as the host stores it (direction `in`). */
export function userMessage(text: string): Frame {
  return { type: 'user', message: { role: 'user', content: text }, parent_tool_use_id: null, session_id: '' };
}

export function interruptMarker(): Frame {
  return { type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user]' }] } };
}

export interface ResultOptions {
  inputTokens?: number;
  outputTokens?: number;
  cacheRead?: number;
  totalCostUsd?: number;
  durationMs?: number;
  isError?: boolean;
  subtype?: string;
  terminalReason?: string;
  result?: string;
}

export function result(options: ResultOptions = {}): Frame {
  return {
    type: 'result',
    subtype: options.subtype ?? 'success',
    is_error: options.isError ?? false,
    duration_ms: options.durationMs ?? 1200,
    duration_api_ms: 800,
    num_turns: 1,
    result: options.result ?? '',
    session_id: 'agent-1',
    total_cost_usd: options.totalCostUsd ?? 0.0123,
    usage: {
      input_tokens: options.inputTokens ?? 1000,
      cache_read_input_tokens: options.cacheRead ?? 0,
      cache_creation_input_tokens: 0,
      output_tokens: options.outputTokens ?? 200,
    },
    terminal_reason: options.terminalReason ?? 'completed',
  };
}

export function interruptedResult(totalCostUsd = 0.002): Frame {
  return result({ subtype: 'error_during_execution', isError: true, terminalReason: 'aborted_streaming', totalCostUsd });
}

export function apiRetry(attempt: number, maxRetries = 10, status = 529, error = 'overloaded', delayMs = 600): Frame {
  return { type: 'system', subtype: 'api_retry', attempt, max_retries: maxRetries, retry_delay_ms: delayMs, error_status: status, error };
}

export function bashPrompt(requestId: string, toolUseId: string, command: string, folder = 'Taxes 2026'): PermissionPrompt {
  return {
    request_id: requestId,
    tool_name: 'Bash',
    tool_use_id: toolUseId,
    input: { command },
    summary: `Run \`${command}\` in ${folder}`,
    detail: command,
    folder,
    suggestions: [],
  };
}

export function editPrompt(requestId: string, toolUseId: string, file: string, oldText: string, newText: string, folder = 'Taxes 2026'): PermissionPrompt {
  const lines = (text: string, mark: string) =>
    text
      .split('\n')
      .map((line) => `${mark} ${line}`)
      .join('\n');
  return {
    request_id: requestId,
    tool_name: 'Edit',
    tool_use_id: toolUseId,
    input: { file_path: `/sessions/s1/mnt/${folder}/${file}`, old_string: oldText, new_string: newText },
    summary: `Edit ${file} in ${folder}`,
    detail: `${lines(oldText, '-')}\n${lines(newText, '+')}`,
    folder,
    suggestions: [],
  };
}

export const permissionEvent = (prompt: PermissionPrompt): SessionEvent => ({ type: 'permission', ...prompt });

// ── Questions, plans and the network ─────────────────────────────────────────

export interface QuestionInput {
  question: string;
  header: string;
  options: { label: string; description: string }[];
  multiSelect: boolean;
}

/** An `AskUserQuestion` prompt, as the host builds it (the question texts are the detail). */
export function questionPrompt(requestId: string, toolUseId: string, questions: QuestionInput[]): PermissionPrompt {
  return {
    request_id: requestId,
    tool_name: 'AskUserQuestion',
    tool_use_id: toolUseId,
    input: { questions },
    summary: "Answer the agent's question",
    detail: questions.map((q) => q.question).join('\n'),
    folder: null,
    suggestions: [],
  };
}

/** An `ExitPlanMode` prompt: the plan is the detail. */
export function planPrompt(requestId: string, toolUseId: string, plan: string, folder = 'Taxes 2026'): PermissionPrompt {
  return {
    request_id: requestId,
    tool_name: 'ExitPlanMode',
    tool_use_id: toolUseId,
    input: { plan },
    summary: "Approve the agent's plan and let it start",
    detail: plan,
    folder,
    suggestions: [],
  };
}

/** The network proxy asks about a host (`broker::network_prompt`): no tool call, no folder. */
export function networkPrompt(requestId: string, host: string): PermissionPrompt {
  return {
    request_id: requestId,
    tool_name: 'Network',
    tool_use_id: null,
    input: { host },
    summary: `Let the agent's tools connect to ${host}`,
    detail: `A command or web fetch in the VM wants to reach ${host}. Nothing else on the internet is reachable unless you allow it.`,
    folder: null,
    suggestions: [],
  };
}

/** A request through the network proxy (`workroom_network`); `CONNECT` targets are `host:port`. */
export function networkRecord(method: string, target: string, allowed: boolean, by: NetworkDecider): Frame {
  const url = /^[a-z]+:\/\/([^/:]+)(?::(\d+))?/i.exec(target);
  const [host = target, port] = url ? [url[1], url[2] ?? (target.startsWith('https') ? '443' : '80')] : target.split(':');
  return { type: 'workroom_network', host, port: Number(port ?? 443), method, target, allowed, by };
}

/** The agent's `system`/`status` frame: it left plan mode for `permissionMode`. */
export function statusFrame(permissionMode: string): Frame {
  return { type: 'system', subtype: 'status', status: null, permissionMode, session_id: 'agent-1' };
}

/** The tool result the agent writes for answered questions (Claude Code's own words). */
export function answeredText(answers: Record<string, string>): string {
  const pairs = Object.entries(answers).map(([question, answer]) => `"${question}"="${answer}"`);
  return `User has answered your questions: ${pairs.join(', ')}. You can now continue with the user's answers in mind.`;
}

/** The tool result the agent writes for an approved plan. */
export const PLAN_APPROVED_TEXT = 'User has approved your plan. You can now start coding.';

// ── Undo records (`workroom_changes`, `workroom_undo`, `workroom_redo`, `workroom_no_undo`) ──

/** A checkpoint entry; files get a size and a made-up hash. */
export function entry(path: string, kind: EntryKind = 'file', fields: Partial<Entry> = {}): Entry {
  const file = kind === 'file';
  return { p: path, k: kind, m: kind === 'dir' ? 0o755 : 0o644, t: 1_767_225_600_000_000_000, s: file ? 120 : 0, h: file ? `sha-${path}` : null, ...fields };
}

export const added = (path: string, kind: EntryKind = 'file'): Change => ({ type: 'added', after: entry(path, kind) });
export const deleted = (path: string, kind: EntryKind = 'file'): Change => ({ type: 'deleted', before: entry(path, kind) });
export const modified = (path: string): Change => ({ type: 'modified', before: entry(path), after: entry(path, 'file', { s: 140, h: `sha-${path}-2` }) });
export const metadata = (path: string): Change => ({ type: 'metadata', before: entry(path), after: entry(path, 'file', { m: 0o755 }) });
export const renamed = (from: string, to: string): Change => ({ type: 'renamed', before: entry(from), after: entry(to) });

let checkpointIds = 0;

/** One folder's changes in a turn, between two fresh checkpoint ids. */
export function folderChanges(folder: string, changes: Change[]): FolderChanges {
  checkpointIds += 2;
  return { folder, before: `cp-${checkpointIds - 1}`, after: `cp-${checkpointIds}`, changes };
}

export const changesRecord = (folders: FolderChanges[]): Frame => ({ type: 'workroom_changes', folders });

export function undoRecord(turn: number, folders: string[]): Frame {
  return { type: 'workroom_undo', turn, folders: folders.map((folder) => ({ folder, redo_point: `redo-${turn}`, after: `undone-${turn}` })) };
}

export function redoRecord(turn: number, folders: string[]): Frame {
  return { type: 'workroom_redo', turn, folders: folders.map((folder) => ({ folder, redo_point: `redo-${turn}`, after: `redone-${turn}` })) };
}

export const noUndoRecord = (reason: string): Frame => ({ type: 'workroom_no_undo', reason });
