/**
 * Claude Code stream-json frames from the agent (wire protocol §3), folded into the view.
 *
 * Order within one API response (captured): `content_block_start`, its deltas, the complete
 * `assistant` frame for that block, then `content_block_stop`. Deltas draw the text as it arrives;
 * the `assistant` frame then replaces it with the authoritative block. A stored transcript has no
 * deltas (the host does not store them), so there the `assistant` frames create the items.
 *
 * A sub-agent's frames (`parent_tool_use_id` set) go into its `Task` call's activity instead of the
 * conversation, and without their deltas, so live and replayed sessions show sub-agents alike.
 */
import { arr, field, num, obj, str, type JsonObject } from './json';
import {
  append,
  appendItem,
  findToolIndex,
  notice,
  replaceAt,
  settleUnfinished,
  updateByKey,
  updateTool,
} from './items';
import { seconds } from './format';
import { readTodos } from './todos';
import { endTurn } from './turns';
import type { ChatItem, SessionView, ToolItem } from './view';

/** Applies one frame the agent wrote. `atMs` is when it arrived (or was stored). */
export function applyAgentFrame(view: SessionView, frame: unknown, atMs: number): SessionView {
  const f = obj(frame);
  const parent = str(f.parent_tool_use_id);
  if (parent) return subagentFrame(view, parent, f, atMs);
  switch (f.type) {
    case 'stream_event':
      return streamEvent(view, obj(f.event), atMs);
    case 'assistant':
      return assistant(view, f, atMs);
    case 'user':
      return toolResults(view, f);
    case 'result':
      return result(view, f);
    case 'system':
      return system(view, f);
    default:
      // control_request / control_cancel_request are handled by the host (prompts arrive as
      // `permission` events); rate limits, lifecycle and unknown frames change nothing visible.
      return view;
  }
}

// ── Sub-agents (frames naming their `Task` call as `parent_tool_use_id`) ──────

const NO_STREAM: SessionView['stream'] = { messageId: null, blocks: {} };

/**
 * A sub-agent's frame, folded into the activity of the call that started it. Sub-agents run side by
 * side, so their words never go into the conversation, where they would interleave. Their stream
 * events are dropped: the complete `assistant` frames follow, and the main agent's stream cursor
 * stays its own. Their first `user` frame (the prompt) is the call's input already; their plan
 * (`TodoWrite`) and API errors stay in the card, not in the session's panel and error state.
 */
function subagentFrame(view: SessionView, parent: string, frame: JsonObject, atMs: number): SessionView {
  if (frame.type !== 'assistant' && frame.type !== 'user') return view;
  const index = findToolIndex(view, parent);
  // A frame whose call is unknown has nowhere to go that would not mix it into the conversation.
  if (index < 0) return view;
  const task = view.items[index] as ToolItem;
  const scope: SessionView = { ...view, items: task.activity ?? [], stream: NO_STREAM };
  const next = frame.type === 'assistant' ? assistant(scope, frame, atMs) : toolResults(scope, frame);
  if (next.items === scope.items) return view;
  return replaceAt({ ...view, nextKey: next.nextKey }, index, { ...task, activity: next.items });
}

// ── Streaming (raw Anthropic SSE events) ──────────────────────────────────────

function streamEvent(view: SessionView, event: JsonObject, atMs: number): SessionView {
  switch (event.type) {
    case 'message_start':
      return { ...view, stream: { messageId: field(event.message, 'id') || null, blocks: {} } };
    case 'content_block_start':
      return blockStart(view, num(event.index) ?? 0, obj(event.content_block), atMs);
    case 'content_block_delta':
      return blockDelta(view, num(event.index) ?? 0, obj(event.delta));
    case 'content_block_stop': {
      const key = view.stream.blocks[num(event.index) ?? 0];
      return key ? stopStreaming(view, key) : view;
    }
    case 'message_stop':
      // An interrupt abandons the blocks still open; nothing more will come for them.
      return event.abandoned_blocks ? abandonStream(view) : view;
    default:
      return view;
  }
}

function blockStart(view: SessionView, index: number, block: JsonObject, atMs: number): SessionView {
  const messageId = view.stream.messageId ?? '';
  let next: SessionView;
  let key: string;
  switch (block.type) {
    case 'text':
      [next, key] = append(view, { kind: 'text', messageId, text: str(block.text) ?? '', streaming: true });
      break;
    case 'thinking':
      [next, key] = append(view, {
        kind: 'thinking',
        messageId,
        text: str(block.thinking) ?? '',
        streaming: true,
      });
      break;
    case 'tool_use':
      [next, key] = append(view, {
        kind: 'tool',
        toolUseId: field(block, 'id'),
        name: field(block, 'name') || 'tool',
        input: {},
        partialInput: '',
        status: 'preparing',
        result: null,
        decision: null,
        startedAtMs: atMs,
      });
      break;
    default:
      return view;
  }
  return { ...next, stream: { ...next.stream, blocks: { ...next.stream.blocks, [index]: key } } };
}

function blockDelta(view: SessionView, index: number, delta: JsonObject): SessionView {
  const key = view.stream.blocks[index];
  if (!key) return view;
  return updateByKey(view, key, (item): ChatItem => {
    if (item.kind === 'text' && delta.type === 'text_delta') {
      return { ...item, text: item.text + (str(delta.text) ?? '') };
    }
    if (item.kind === 'thinking' && delta.type === 'thinking_delta') {
      return { ...item, text: item.text + (str(delta.thinking) ?? '') };
    }
    if (item.kind === 'tool' && delta.type === 'input_json_delta') {
      return { ...item, partialInput: item.partialInput + (str(delta.partial_json) ?? '') };
    }
    return item;
  });
}

function stopStreaming(view: SessionView, key: string): SessionView {
  return updateByKey(view, key, (item) =>
    (item.kind === 'text' || item.kind === 'thinking') && item.streaming ? { ...item, streaming: false } : item,
  );
}

function abandonStream(view: SessionView): SessionView {
  let next = view;
  for (const key of Object.values(view.stream.blocks)) {
    next = updateByKey(next, key, (item): ChatItem => {
      if ((item.kind === 'text' || item.kind === 'thinking') && item.streaming) return { ...item, streaming: false };
      if (item.kind === 'tool' && item.status === 'preparing') return { ...item, status: 'interrupted' };
      return item;
    });
  }
  return { ...next, stream: { messageId: null, blocks: {} } };
}

// ── Complete blocks (`assistant`, one block per frame) ───────────────────────

function assistant(view: SessionView, frame: JsonObject, atMs: number): SessionView {
  const message = obj(frame.message);
  const messageId = str(message.id) ?? '';
  let next = view;
  for (const raw of arr(message.content)) {
    const block = obj(raw);
    switch (block.type) {
      case 'text': {
        const text = str(block.text) ?? '';
        if (frame.is_api_error_message === true) {
          next = { ...notice(next, 'error', text), shownErrorText: text };
        } else {
          next = completeBlock(next, 'text', messageId, text);
        }
        break;
      }
      case 'thinking':
        next = completeBlock(next, 'thinking', messageId, str(block.thinking) ?? '');
        break;
      case 'tool_use':
        next = toolUse(next, block, atMs);
        break;
      default:
        break;
    }
  }
  return next;
}

/** The streamed item of this message still open for `kind`, finished with the final text; or a new item. */
function completeBlock(view: SessionView, kind: 'text' | 'thinking', messageId: string, text: string): SessionView {
  if (view.stream.messageId === messageId) {
    const indexes = Object.keys(view.stream.blocks)
      .map(Number)
      .sort((a, b) => a - b);
    for (const index of indexes) {
      const key = view.stream.blocks[index];
      const item = view.items.find((candidate) => candidate.key === key);
      if (item && item.kind === kind && item.streaming) {
        return updateByKey(view, item.key, (found) => ({ ...found, text, streaming: false }) as ChatItem);
      }
    }
  }
  if (text === '') return view;
  return appendItem(view, { kind, messageId, text, streaming: false });
}

function toolUse(view: SessionView, block: JsonObject, atMs: number): SessionView {
  const toolUseId = field(block, 'id');
  const name = field(block, 'name') || 'tool';
  const input = block.input ?? {};
  const todos = name === 'TodoWrite' ? readTodos(obj(input).todos) : null;
  const withTodos = todos ? { ...view, todos } : view;
  if (toolUseId && findToolIndex(withTodos, toolUseId) >= 0) {
    return updateTool(withTodos, toolUseId, (tool) => ({
      ...tool,
      name,
      input,
      partialInput: '',
      status: tool.status === 'preparing' ? 'running' : tool.status,
      startedAtMs: atMs,
    }));
  }
  return appendItem(withTodos, {
    kind: 'tool',
    toolUseId,
    name,
    input,
    partialInput: '',
    status: 'running',
    result: null,
    decision: null,
    startedAtMs: atMs,
  });
}

// ── Tool results (`user` frames from the agent) ──────────────────────────────

/** A tool result's text: a string, or the text blocks of a block list. */
export function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  return arr(content)
    .map((block) => str(obj(block).text))
    .filter((text): text is string => text !== undefined)
    .join('\n');
}

function toolResults(view: SessionView, frame: JsonObject): SessionView {
  const blocks = arr(obj(frame.message).content).map(obj);
  const results = blocks.filter((block) => block.type === 'tool_result');
  // `tool_use_result` describes the frame's one tool; with several results it cannot be attributed.
  const structured = results.length === 1 ? frame.tool_use_result : undefined;
  let next = view;
  for (const block of results) {
    const index = findToolIndex(next, field(block, 'tool_use_id'));
    if (index < 0) continue;
    const tool = next.items[index] as ToolItem;
    const isError = block.is_error === true;
    next = replaceAt(next, index, {
      ...tool,
      result: { text: resultText(block.content), isError, structured },
      status: isError ? (tool.decision?.allowed === false ? 'denied' : 'failed') : 'done',
    });
    const todos = tool.name === 'TodoWrite' && !isError ? readTodos(obj(structured).newTodos) : null;
    if (todos) next = { ...next, todos };
  }
  // Text blocks here are interrupt markers ("[Request interrupted by user]"): the turn's footer
  // already says it was stopped.
  return next;
}

// ── Turn end (`result`) ───────────────────────────────────────────────────────

function result(view: SessionView, frame: JsonObject): SessionView {
  const usage = obj(frame.usage);
  const tokens = (key: string) => num(usage[key]) ?? 0;
  const total = num(frame.total_cost_usd) ?? 0;
  const cost = total >= view.lastTotalCostUsd ? total - view.lastTotalCostUsd : total;
  const reason = str(frame.terminal_reason) ?? '';
  const failed = frame.is_error === true || (frame.subtype !== undefined && frame.subtype !== 'success');
  const outcome = reason.startsWith('aborted') ? 'interrupted' : failed ? 'error' : 'done';
  let errorText: string | null = null;
  if (outcome === 'error') {
    const errors = arr(frame.errors).filter((e): e is string => typeof e === 'string');
    const text = str(frame.result) || errors.join('; ') || `The turn ended with an error (${reason || 'no reason given'}).`;
    errorText = text === view.shownErrorText ? null : text;
  }
  const settled = settleUnfinished(view);
  const ended = appendItem(
    { ...settled, lastTotalCostUsd: total, shownErrorText: null },
    {
      kind: 'turn_end',
      summary: {
        durationMs: num(frame.duration_ms) ?? 0,
        inputTokens: tokens('input_tokens') + tokens('cache_read_input_tokens') + tokens('cache_creation_input_tokens'),
        outputTokens: tokens('output_tokens'),
        costUsd: cost,
        outcome,
        errorText,
      },
    },
  );
  return endTurn(ended);
}

// ── System frames ─────────────────────────────────────────────────────────────

function system(view: SessionView, frame: JsonObject): SessionView {
  switch (frame.subtype) {
    case 'init':
      return {
        ...view,
        model: str(frame.model) ?? view.model,
        permissionMode: str(frame.permissionMode) ?? view.permissionMode,
      };
    case 'status':
      return { ...view, permissionMode: str(frame.permissionMode) ?? view.permissionMode };
    case 'api_retry':
      return retryNotice(view, frame);
    case 'compact_boundary':
      return notice(view, 'quiet', 'The conversation so far was summarised to make room.');
    default:
      return view;
  }
}

function retryNotice(view: SessionView, frame: JsonObject): SessionView {
  const status = num(frame.error_status);
  const error = str(frame.error) ?? 'an error';
  const attempt = num(frame.attempt);
  const max = num(frame.max_retries);
  const of = attempt !== undefined && max !== undefined ? ` (attempt ${attempt} of ${max})` : '';
  const text = `The model service answered ${status !== undefined ? `${status} ` : ''}${error}; trying again in ${seconds(
    num(frame.retry_delay_ms) ?? 0,
  )}${of}.`;
  const last = view.items[view.items.length - 1];
  if (last?.kind === 'notice' && last.isRetry) {
    return replaceAt(view, view.items.length - 1, { ...last, text });
  }
  return appendItem(view, { kind: 'notice', tone: 'warning', text, isRetry: true });
}
