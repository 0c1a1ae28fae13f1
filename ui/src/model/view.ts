/**
 * The view model of one session: what the chat shows, derived only from the session's events (live)
 * or its stored transcript (after a reload), so both give the same picture.
 */
import type { FolderChanges, FolderEstimate, NetworkRequest, PermissionPrompt, VmState } from '../backend/types';

/** Where a tool call stands. */
export type ToolStatus =
  /** The model is still writing the call's input. */
  | 'preparing'
  /** Waiting for permission or running. */
  | 'running'
  | 'done'
  /** It ran and reported an error. */
  | 'failed'
  /** The person (or a rule) said no. */
  | 'denied'
  /** The turn ended (Stop, VM gone) before the tool reported back. */
  | 'interrupted';

/** Who allowed or denied a tool call, in words ("Allowed once by you"). */
export interface ToolDecision {
  text: string;
  allowed: boolean;
}

/** A tool call's outcome as the agent reported it. */
export interface ToolResult {
  /** The text the model sees (guest paths included). */
  text: string;
  isError: boolean;
  /** The tool's structured output (`tool_use_result`): stdout/stderr, file lists, patches. */
  structured: unknown;
}

/** One step of the agent's plan (`TodoWrite`). */
export interface Todo {
  content: string;
  activeForm: string;
  status: 'pending' | 'in_progress' | 'completed';
}

/** The footer of a turn: what it cost and how it ended. */
export interface TurnSummary {
  durationMs: number;
  /** Input tokens of all kinds (fresh, cache reads, cache writes). */
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  outcome: 'done' | 'interrupted' | 'error';
  /** Why it failed, when not already shown above it. */
  errorText: string | null;
}

export type NoticeTone = 'quiet' | 'info' | 'warning' | 'error';

export type ChatItem =
  | {
      kind: 'user';
      key: string;
      text: string;
      /** Why the agent never got it (VM failed to start, Stop during boot); `null` if delivered. */
      undelivered: string | null;
    }
  | { kind: 'text'; key: string; messageId: string; text: string; streaming: boolean }
  | { kind: 'thinking'; key: string; messageId: string; text: string; streaming: boolean }
  | {
      kind: 'tool';
      key: string;
      toolUseId: string;
      name: string;
      input: unknown;
      /** The input as it streams in (`input_json_delta`), before it is complete. */
      partialInput: string;
      status: ToolStatus;
      result: ToolResult | null;
      decision: ToolDecision | null;
      /** When it started running (Unix ms), for "running for 12 s". */
      startedAtMs: number | null;
      /**
       * A sub-agent's call (`Task`/`Agent`): what the sub-agent wrote and ran, from the frames that
       * name this call as their `parent_tool_use_id`. Absent until its first frame.
       */
      activity?: ChatItem[];
    }
  | { kind: 'turn_end'; key: string; summary: TurnSummary }
  | {
      /** What a turn changed in the shared folders (`workroom_changes`), shown after its footer. */
      kind: 'changes';
      key: string;
      /** The host's number for the turn: 1, 2, ... among the turns that recorded changes. */
      turn: number;
      folders: FolderChanges[];
      /** Put back by an undo (of this turn or an earlier one) that was not redone. */
      undone: boolean;
    }
  | {
      /**
       * Requests of the agent's tools through the network proxy (`workroom_network`): records in a
       * row share one item, so a command that fetches a lot stays one quiet line.
       */
      kind: 'network';
      key: string;
      requests: NetworkRequest[];
    }
  | {
      kind: 'notice';
      key: string;
      tone: NoticeTone;
      text: string;
      /** A "trying again" notice: the next one replaces it rather than piling up. */
      isRetry: boolean;
    };

export type ToolItem = Extract<ChatItem, { kind: 'tool' }>;
export type UserItem = Extract<ChatItem, { kind: 'user' }>;
export type ChangesItem = Extract<ChatItem, { kind: 'changes' }>;
export type NetworkItem = Extract<ChatItem, { kind: 'network' }>;

/** Undo as the transcript's `workroom_changes` / `workroom_undo` / `workroom_redo` records tell it. */
export interface UndoState {
  /** The number of the latest turn that recorded changes (0: none yet). */
  lastTurn: number;
  /**
   * The last undo while redo can re-apply it (it is the latest of those records): its turn, and the
   * turns already undone before it, which stay undone after a redo.
   */
  redo: { turn: number; undoneBefore: number[] } | null;
  /**
   * Changes of the turn still running: the host sends them just before the turn's `result` (and
   * stores them just after it), so the card waits for the footer and lands where a reload puts it.
   */
  due: { turn: number; folders: FolderChanges[] } | null;
}

/** A message the host did not send: its undo checkpoint would copy more than the size cap. */
export interface OverCap {
  text: string;
  capBytes: number;
  folders: FolderEstimate[];
}

/** A message typed while the agent was busy, waiting for its turn. */
export interface QueuedMessage {
  key: string;
  text: string;
}

/** Which chat items the blocks of the message being streamed write into. */
export interface StreamCursor {
  messageId: string | null;
  /** Content block index → item key. */
  blocks: Record<number, string>;
}

export interface SessionView {
  items: ChatItem[];
  /** Questions waiting for the person, oldest first. */
  pending: PermissionPrompt[];
  /** Messages waiting for the running turn to end. */
  queued: QueuedMessage[];
  /**
   * Keys of the person's messages whose turn has started (or whose VM is booting) and not yet
   * ended, oldest first. Queued messages are not in it until their turn starts.
   */
  awaiting: string[];
  todos: Todo[];
  vm: VmState | null;
  model: string | null;
  permissionMode: string | null;
  stream: StreamCursor;
  /** The agent's `total_cost_usd` is cumulative per agent process; a turn's cost is the increase. */
  lastTotalCostUsd: number;
  /** An API error already shown from the agent's synthetic message, not to be repeated. */
  shownErrorText: string | null;
  /** Stop was pressed and the turn has not ended yet. */
  stopping: boolean;
  /** The session's task ended (the app is closing it). */
  closed: boolean;
  undo: UndoState;
  /** Messages held back by the undo size cap, waiting for the person to decide, oldest first. */
  overCap: OverCap[];
  nextKey: number;
}

export function emptyView(): SessionView {
  return {
    items: [],
    pending: [],
    queued: [],
    awaiting: [],
    todos: [],
    vm: null,
    model: null,
    permissionMode: null,
    stream: { messageId: null, blocks: {} },
    lastTotalCostUsd: 0,
    shownErrorText: null,
    stopping: false,
    closed: false,
    undo: { lastTurn: 0, redo: null, due: null },
    overCap: [],
    nextKey: 1,
  };
}

/** Whether the agent is working (a turn is running or the VM boots for one). */
export function isBusy(view: SessionView): boolean {
  return view.awaiting.length > 0 || view.queued.length > 0 || view.vm?.state === 'booting';
}
