/**
 * Wire types shared with the Rust side, mirroring the serde shapes of `workroom-host`
 * (`host/src/session/mod.rs`, `broker.rs`, `store.rs`, `settings.rs`) and of the desktop shell's
 * commands (documented in `ui/BACKEND.md`). Field names are the Rust ones (snake_case).
 */

/** A stored session (`store::SessionRecord`). */
export interface SessionRecord {
  id: string;
  title: string;
  /** Host paths, in order; the first is the working folder. */
  folders: string[];
  agent_session_id: string | null;
  model: string | null;
  permission_mode: string;
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds of the last frame. */
  updated_at: number;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
}

/** Who wrote a stored frame. */
export type Direction = 'in' | 'out' | 'host';

/** A stored frame (`store::FrameRecord`). */
export interface FrameRecord {
  seq: number;
  direction: Direction;
  /** A stream-json frame, or one of the host's own `workroom_*` records. */
  body: unknown;
  /** Unix milliseconds. */
  at_ms: number;
}

/** How a session's VM is doing (`session::VmState`, tagged by `state`). */
export type VmState =
  | { state: 'booting'; step: string }
  | {
      state: 'running';
      accel: string;
      boot_ms: number;
      /** What shell commands run in. */
      userland?: 'minimal' | 'full';
      /** Why the full toolset that was asked for did not start (commands use the minimal one). */
      userland_error?: string;
    }
  | { state: 'stopped'; reason: string }
  | { state: 'failed'; reason: string; console_tail: string };

/** A question for the person (`broker::PermissionPrompt`). */
export interface PermissionPrompt {
  request_id: string;
  tool_name: string;
  tool_use_id: string | null;
  input: unknown;
  /** One sentence: "Run `rm -rf build/` in Taxes 2026". */
  summary: string;
  /** The command, the new file's content, or an edit as `- old` / `+ new` lines. */
  detail: string | null;
  /** The folder it concerns, by name. */
  folder: string | null;
  suggestions: unknown[];
}

/**
 * A person's answer (`broker::PermissionAnswer`, serde `tag = "kind", content = "message"`,
 * snake_case variant names: `AllowForSession` is `allow_for_session` on the wire).
 */
export type PermissionAnswer =
  | { kind: 'allow_once' }
  | { kind: 'allow_for_session' }
  | { kind: 'always_allow' }
  | { kind: 'deny' }
  | { kind: 'deny_with_message'; message: string }
  /** The answers to an `AskUserQuestion`: question text → chosen label(s) or the person's words. */
  | { kind: 'answers'; message: Record<string, string> }
  /** Approves an `ExitPlanMode` plan; planning ends and the session goes on in this mode. */
  | { kind: 'approve_plan'; message: PlanApprovalMode };

/** The modes an approved plan may continue in. */
export type PlanApprovalMode = 'acceptEdits' | 'default';

export type PermissionAnswerKind = PermissionAnswer['kind'];

/** What a session tells the window (`session::SessionEvent`, tagged by `type`). */
export type SessionEvent =
  | ({ type: 'vm' } & VmState)
  | { type: 'frame'; frame: unknown }
  | ({ type: 'permission' } & PermissionPrompt)
  | { type: 'permission_withdrawn'; request_id: string }
  | { type: 'auto_allowed'; request_id: string; reason: string; summary: string }
  /** The message was not sent: its undo checkpoint would copy more than the cap (see `ui/BACKEND.md`, "Undo"). */
  | { type: 'undo_over_cap'; text: string; cap_bytes: number; folders: FolderEstimate[] }
  | { type: 'error'; message: string }
  | { type: 'closed' };

/** What the window gets when it opens a session: enough to draw it as it is right now. */
export interface SessionSnapshot {
  record: SessionRecord;
  /** The whole stored transcript, oldest first. */
  transcript: FrameRecord[];
  /** Questions waiting for an answer (they live in the host's memory, not in the transcript). */
  pending: PermissionPrompt[];
  /** The VM's last known state; `null` when the session has not booted since the app started. */
  vm: VmState | null;
}

/** Claude Code permission modes the window offers. */
export type PermissionMode = 'default' | 'acceptEdits' | 'plan' | 'bypassPermissions';

/** Options for a new session (`session::NewSession`). */
export interface NewSessionOptions {
  title?: string;
  model?: string;
  permission_mode?: PermissionMode;
}

export type ProviderKind = 'anthropic' | 'openai';

/** Where the model service stands, never with the key itself. */
export interface ProviderStatus {
  kind: ProviderKind;
  /** `null`: the provider's default. */
  base_url: string | null;
  /** Whether a key is available, and from where. */
  key_source: 'keychain' | 'environment' | null;
  /** Whether the person has finished choosing a provider (the first run is over). */
  configured: boolean;
}

/** What the first run (or Settings) saves. Keys go to the OS keychain, never into the database. */
export type ProviderSetup =
  | { kind: 'anthropic'; api_key: string; base_url?: string }
  | { kind: 'openai'; base_url: string; api_key?: string; model?: string };

/** Settings a person can change (`settings::Settings` plus the window's own). */
export interface AppSettings {
  /** Default model; `null` for the agent's default. */
  model: string | null;
  default_permission_mode: PermissionMode;
  vm_memory_mib: number;
  vm_cpus: number;
  /** Minutes of quiet before a VM is stopped. */
  idle_minutes: number;
  /** Turns per session kept for undo. */
  checkpoint_keep_turns: number;
  /** Days kept for undo. */
  checkpoint_max_days: number;
  /** Most MiB one checkpoint may copy before the person is asked; 0: no cap. */
  checkpoint_max_mb: number;
  /** Leave `.git` directories out of checkpoints. */
  checkpoint_skip_git: boolean;
  /** Hosts the agent's tools reach without asking (a host covers its subdomains; `*`: every host). */
  network_allow: string[];
  /** Hosts the agent's tools never reach. */
  network_deny: string[];
  /** The MCP servers' configuration file (Claude Code's .mcp.json format); `null`: `<data>/mcp.json`. */
  mcp_config: string | null;
  /** What the agent's shell commands run in, for VMs that start after a change. */
  userland: Userland;
}

/** `minimal`: busybox only; `full`: the Debian toolset (needs `prepare_userland` first). */
export type Userland = 'minimal' | 'full';

/** The data directory and how much disk it takes. */
export interface StorageInfo {
  data_dir: string;
  used_bytes: number;
  /** The part of `used_bytes` taken by undo checkpoints. */
  checkpoint_bytes: number;
}

/** Whether the guest image is there. */
export type ImageStatus =
  | { state: 'ready'; arch: string }
  | { state: 'missing'; arch: string }
  | { state: 'damaged'; arch: string; reason: string };

/** Whether the full toolset is prepared; `current: false`: an older app prepared it (it works, an update is available). */
/** `office`: LibreOffice is included (for conversions to PDF and spreadsheet recalculation). */
export type UserlandStatus =
  | { state: 'ready'; current: boolean; size_bytes: number; office: boolean }
  | { state: 'missing' };

/** Progress of preparing the guest image (or the full toolset). */
export interface ImageProgress {
  /** What is happening, in words. */
  step: string;
  /** 0..1, or `null` when the step's length is unknown. */
  fraction: number | null;
}

// ── Undo (`session::undo`, `checkpoint`) ────────────────────────────────────

/** How `send` sends a message. */
export interface SendOptions {
  /** Run the turn without a checkpoint (after `undo_over_cap`): it cannot be undone. */
  withoutUndo?: boolean;
}

export type EntryKind = 'file' | 'dir' | 'symlink';

/** A file, directory or symlink in a checkpoint (`checkpoint::Entry`, short keys as on disk). */
export interface Entry {
  /** Path relative to the folder, `/`-separated. */
  p: string;
  k: EntryKind;
  /** Mode bits. */
  m: number;
  /** Modification time (ns). */
  t: number;
  /** Size in bytes (files). */
  s: number;
  /** SHA-256 hex (files). */
  h?: string | null;
  /** Link target (symlinks). */
  l?: string | null;
}

/** One change between the checkpoints around a turn (`checkpoint::Change`, tagged by `type`). */
export type Change =
  | { type: 'added'; after: Entry }
  | { type: 'deleted'; before: Entry }
  | { type: 'modified'; before: Entry; after: Entry }
  /** Same content: only the mode or the modification time changed. */
  | { type: 'metadata'; before: Entry; after: Entry }
  | { type: 'renamed'; before: Entry; after: Entry };

export type ChangeType = Change['type'];

/** One shared folder's checkpoints around a turn and what changed in between. */
export interface FolderChanges {
  /** The folder on the host. */
  folder: string;
  /** Checkpoint ids before and after the turn. */
  before: string;
  after: string;
  changes: Change[];
}

/** What a turn changed; turns are numbered 1, 2, ... among those with a `workroom_changes` record. */
export interface TurnChanges {
  turn: number;
  folders: FolderChanges[];
}

/** What undo or redo does with paths the person changed after the agent: ask, keep theirs, or overwrite them. */
export type OnConflict = 'ask' | 'keep' | 'overwrite';

/** A path the person changed since: what the agent left, what is there now, what undo would put there. */
export interface Conflict {
  path: string;
  expected: Entry | null;
  found: Entry | null;
  wanted: Entry | null;
}

export interface FolderConflicts {
  folder: string;
  conflicts: Conflict[];
}

export interface FolderRestored {
  folder: string;
  /** Entries put back. */
  restored: number;
  /** Paths left as the person had them (`keep`). */
  kept: string[];
}

/** What `undo_turn` and `redo_turn` did (tagged by `state`). */
export type UndoResult =
  /** Nothing changed: ask, then call again with `keep` or `overwrite`. */
  | { state: 'conflicts'; folders: FolderConflicts[] }
  /** Done; `turn` is the turn undone (or redone). */
  | { state: 'applied'; turn: number; folders: FolderRestored[] };

// ── Network (`guest::egress`) ───────────────────────────────────────────────

/**
 * Who decided about a request through the network proxy: the settings (`rule`), an earlier "allow
 * for this session" (`session`), the person (`you`), the model provider's host, which tools never
 * reach (`provider`), or `error`: allowed, but the server could not be reached.
 */
export type NetworkDecider = 'rule' | 'session' | 'you' | 'provider' | 'error';

/** One request through the network proxy (`egress::NetworkRequest`, the `workroom_network` record). */
export interface NetworkRequest {
  host: string;
  port: number;
  /** `CONNECT`, `GET`, ... */
  method: string;
  /** The URL, or `host:port` for `CONNECT`. */
  target: string;
  /** Whether it went out. */
  allowed: boolean;
  by: NetworkDecider;
}

/** A folder whose checkpoint would copy more than the cap, and how much. */
export interface FolderEstimate {
  folder: string;
  bytes: number;
}

// ── Previews of files the agent made (`preview_file`, see `ui/BACKEND.md`) ──

/** One sheet of a spreadsheet or CSV: its first rows and columns as display text. */
export interface PreviewSheet {
  name: string;
  rows: string[][];
  /** The sheet has more rows or columns than `rows` holds. */
  truncated: boolean;
}

/** A part of a Word document, in order (tagged by `type`). */
export type DocBlock =
  | { type: 'heading'; level: number; text: string }
  | { type: 'paragraph'; text: string }
  | { type: 'list_item'; text: string }
  | { type: 'table'; rows: string[][] };

/** What a file looks like, read by the host (tagged by `kind`); `bytes` is the file's size. */
export type FilePreview =
  /** `data_url`: a `data:` URL the page may put in an <img> (the CSP allows `data:` images). */
  | { kind: 'image'; name: string; data_url: string; bytes: number }
  | { kind: 'table'; name: string; sheets: PreviewSheet[]; bytes: number }
  | { kind: 'document'; name: string; blocks: DocBlock[]; bytes: number }
  /**
   * A PDF up to 25 MB, for the page to draw (pdf.js): `data_url` is the file as a
   * `data:application/pdf;base64,` URL; `pages` the text of its first pages (up to 20), shown if
   * drawing fails; `page_count` how many pages it has (0 when its text could not be read).
   */
  | { kind: 'pdf'; name: string; data_url: string; pages: string[]; page_count: number; bytes: number }
  /** Plain text; larger PDFs come as the text of their first 20 pages, each after "— Page N —". */
  | { kind: 'text'; name: string; text: string; truncated: boolean; bytes: number }
  /** No preview for this kind of file: `reason` says why. */
  | { kind: 'unsupported'; name: string; reason: string; bytes: number };

export type FilePreviewKind = FilePreview['kind'];
