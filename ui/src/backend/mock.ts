/**
 * `Backend` in memory, for unit tests and for `npm run dev` in a browser. It behaves like the host
 * where the page can tell: it stores what a session emits the way the host does (no stream deltas;
 * prompts pending in memory, not in the transcript), so reopening a session shows what a reload
 * would. Tests drive it with `emit`, read `calls`, and make a method fail with `failNext`.
 *
 * Undo works on records only (no files): `changeFiles` records a turn's changes as the host does,
 * `undoTurn`/`redoTurn` append `workroom_undo`/`workroom_redo`, `conflicts` makes them report
 * conflicts, and `overCap` makes `send` emit `undo_over_cap`.
 *
 * Files are not read either: `previewFile` answers from `previews`, else a canned preview for the
 * file's extension (`mockPreviews.ts`); `openFile` records the path in `openedFiles`. Both refuse a
 * path outside the session's folders, as the host does.
 *
 * Answers to the agent's questions and plans come back as the agent's tool result (and, for a plan,
 * its `system`/`status` frame leaving plan mode), as from the real agent; other answers leave the
 * tool's outcome to the test or the demo script.
 */
import type { Backend, BackendError, SessionSubscription, Unsubscribe } from './backend';
import { backendError } from './errors';
import { cannedPreview } from './mockPreviews';
import { answeredText, changesRecord, noUndoRecord, PLAN_APPROVED_TEXT, statusFrame, toolResult, userMessage } from './mockFrames';
import type {
  AppSettings,
  FilePreview,
  FolderChanges,
  FolderConflicts,
  FolderEstimate,
  FrameRecord,
  ImageProgress,
  ImageStatus,
  NewSessionOptions,
  OnConflict,
  PermissionAnswer,
  PermissionMode,
  PermissionPrompt,
  ProviderSetup,
  ProviderStatus,
  SendOptions,
  SessionEvent,
  SessionRecord,
  SessionSnapshot,
  StorageInfo,
  TurnChanges,
  UndoResult,
  UserlandStatus,
  VmState,
} from './types';

interface MockSession {
  record: SessionRecord;
  transcript: FrameRecord[];
  pending: PermissionPrompt[];
  vm: VmState | null;
  listeners: Set<(event: SessionEvent) => void>;
  consoleLog: string;
  /** The running turn was sent without undo. */
  withoutUndo: boolean;
  /** The running turn's `workroom_changes`: shown at once, stored after its `result` (as the host does). */
  changesDue: Record<string, unknown> | null;
}

/** The undo-related records, in order, that decide what redo may do. */
const UNDO_RECORDS = ['workroom_changes', 'workroom_undo', 'workroom_redo'];

/** Every turn's changes, numbered as the host numbers them: 1, 2, ... in transcript order. */
function turnChangesOf(transcript: FrameRecord[]): TurnChanges[] {
  return transcript
    .map((record) => record.body as Record<string, unknown>)
    .filter((body) => body.type === 'workroom_changes')
    .map((body, index) => ({ turn: index + 1, folders: body.folders as FolderChanges[] }));
}

export interface RecordedCall {
  method: keyof Backend;
  args: unknown[];
}

/** Scripted behaviour for the demo: what the "agent" does when the person acts. */
export interface MockScript {
  onSend?(backend: MockBackend, id: string, text: string): void;
  onAnswer?(backend: MockBackend, id: string, requestId: string, answer: PermissionAnswer): void;
  onInterrupt?(backend: MockBackend, id: string): void;
  onPrepareImage?(onProgress: (progress: ImageProgress) => void): Promise<void>;
  /** Replaces the few progress steps `prepareUserland` reports by itself; a rejection fails it. */
  onPrepareUserland?(onProgress: (progress: ImageProgress) => void): Promise<void>;
}

/** Answers as the host's `workroom_permission` records name them (`PermissionAnswer::as_str`). */
const ANSWER_NAMES: Record<PermissionAnswer['kind'], string> = {
  allow_once: 'allow_once',
  allow_for_session: 'allow_session',
  always_allow: 'always_allow',
  deny: 'deny',
  deny_with_message: 'deny_with_message',
  answers: 'answers',
  approve_plan: 'approve_plan',
};

function sessionRecord(id: string, folders: string[], fields: Partial<SessionRecord>): SessionRecord {
  const now = Math.floor(Date.now() / 1000);
  return {
    id,
    title: folders.map((f) => f.split('/').filter(Boolean).pop() ?? f).join(', '),
    folders,
    agent_session_id: null,
    model: null,
    permission_mode: 'default',
    created_at: now,
    updated_at: now,
    cost_usd: 0,
    input_tokens: 0,
    output_tokens: 0,
    ...fields,
  };
}

export class MockBackend implements Backend {
  readonly calls: RecordedCall[] = [];
  script: MockScript = {};
  provider: ProviderStatus = { kind: 'anthropic', base_url: null, key_source: 'keychain', configured: true };
  image: ImageStatus = { state: 'ready', arch: 'x86_64' };
  userland: UserlandStatus = { state: 'missing' };
  settings: AppSettings = {
    model: null,
    default_permission_mode: 'default',
    vm_memory_mib: 512,
    vm_cpus: 2,
    idle_minutes: 10,
    checkpoint_keep_turns: 50,
    checkpoint_max_days: 30,
    checkpoint_max_mb: 1024,
    checkpoint_skip_git: false,
    network_allow: [],
    network_deny: [],
    mcp_config: null,
    userland: 'minimal',
  };
  storage: StorageInfo = { data_dir: '/home/ann/.local/share/workroom', used_bytes: 734_003_200, checkpoint_bytes: 157_286_400 };
  /** While set, a message sent without `withoutUndo` is not sent: the session emits `undo_over_cap`. */
  overCap: { cap_bytes: number; folders: FolderEstimate[] } | null = null;
  /**
   * Paths the person changed after the agent: undo and redo with `ask` report them and change
   * nothing; `keep` or `overwrite` go ahead (keeping or overwriting them) and clear them.
   */
  conflicts: FolderConflicts[] = [];
  launchFolders: string[] = [];
  /** What the folder picker returns next (`null`: the person cancels). */
  nextPickedFolder: string | null = null;
  opened: string[] = [];
  /** `previewFile` answers by path, as asked; other paths get a canned preview for their extension. */
  readonly previews = new Map<string, FilePreview>();
  /** Paths `openFile` opened, as asked. */
  readonly openedFiles: string[] = [];
  private readonly sessions = new Map<string, MockSession>();
  private readonly folderHandlers = new Set<(paths: string[]) => void>();
  private readonly failures = new Map<keyof Backend, BackendError>();
  /** `changeDiff` answers, by turn, folder and path; absent ones are `null` (no preview). */
  private readonly diffs = new Map<string, string | null>();
  private nextId = 1;
  private seq = 1;

  // ── Test controls ───────────────────────────────────────────────────────────

  /** Adds a stored session. */
  addSession(folders: string[], fields: Partial<SessionRecord> = {}, transcript: FrameRecord[] = []): SessionRecord {
    const id = fields.id ?? `session-${this.nextId++}`;
    const record = sessionRecord(id, folders, { ...fields, id });
    this.sessions.set(id, {
      record,
      transcript: [...transcript],
      pending: [],
      vm: null,
      listeners: new Set(),
      consoleLog: '',
      withoutUndo: false,
      changesDue: null,
    });
    return record;
  }

  /** Sets what the host holds in memory for a session (pending prompts, VM state). */
  setLive(id: string, live: { pending?: PermissionPrompt[]; vm?: VmState | null; consoleLog?: string }): void {
    const session = this.session(id);
    if (live.pending) session.pending = [...live.pending];
    if (live.vm !== undefined) session.vm = live.vm;
    if (live.consoleLog !== undefined) session.consoleLog = live.consoleLog;
  }

  /** A session emits an event: stored as the host stores it, then delivered to open windows. */
  emit(id: string, event: SessionEvent): void {
    const session = this.session(id);
    switch (event.type) {
      case 'vm':
        session.vm = (({ type: _type, ...vm }) => vm)(event) as VmState;
        if (event.state === 'failed' || event.state === 'stopped') {
          session.pending = [];
          // What a turn changed before its VM died can still be undone.
          this.storeChangesDue(session);
        }
        break;
      case 'frame': {
        const body = event.frame as Record<string, unknown>;
        // The host's own records (`workroom_network`) are stored as the host's; deltas not at all.
        if (String(body.type).startsWith('workroom_')) this.store(session, 'host', body);
        else if (body.type !== 'stream_event') this.store(session, 'out', body);
        if (body.type === 'result') this.storeChangesDue(session);
        break;
      }
      case 'permission': {
        const { type: _type, ...prompt } = event;
        session.pending.push(prompt);
        break;
      }
      case 'permission_withdrawn':
        session.pending = session.pending.filter((p) => p.request_id !== event.request_id);
        break;
      default:
        break;
    }
    this.deliver(session, event);
  }

  /**
   * The running turn changed files (call it before the turn's `result`). As the host does, the
   * `workroom_changes` record goes out live at once and into the transcript after the `result`; a
   * turn sent without undo records `workroom_no_undo` instead.
   */
  changeFiles(id: string, folders: FolderChanges[]): void {
    const session = this.session(id);
    if (session.withoutUndo) {
      const body = noUndoRecord('the person chose to go on without undo');
      this.store(session, 'host', body);
      this.deliver(session, { type: 'frame', frame: body });
      return;
    }
    const body = changesRecord(folders);
    session.changesDue = body;
    this.deliver(session, { type: 'frame', frame: body });
  }

  /** What `changeDiff` answers for a change (`null`: no preview). */
  setDiff(turn: number, folder: string, path: string, diff: string | null): void {
    this.diffs.set(diffKey(turn, folder, path), diff);
  }

  /** Stores a host-side record (`workroom_*`), as the host does. */
  recordHost(id: string, body: Record<string, unknown>): void {
    this.store(this.session(id), 'host', body);
  }

  /** The next call of `method` rejects with this error. */
  failNext(method: keyof Backend, error: BackendError): void {
    this.failures.set(method, error);
  }

  offerFolders(paths: string[]): void {
    for (const handler of [...this.folderHandlers]) handler(paths);
  }

  pendingOf(id: string): PermissionPrompt[] {
    return [...this.session(id).pending];
  }

  vmOf(id: string): VmState | null {
    return this.session(id).vm;
  }

  foldersOf(id: string): string[] {
    return [...this.session(id).record.folders];
  }

  transcriptOf(id: string): FrameRecord[] {
    return [...this.session(id).transcript];
  }

  // ── Backend ─────────────────────────────────────────────────────────────────

  async listSessions(): Promise<SessionRecord[]> {
    this.enter('listSessions', []);
    return [...this.sessions.values()].map((s) => ({ ...s.record })).sort((a, b) => b.updated_at - a.updated_at);
  }

  async createSession(folders: string[], options: NewSessionOptions = {}): Promise<SessionRecord> {
    this.enter('createSession', [folders, options]);
    if (folders.length === 0) throw backendError('folder_not_shareable', 'Choose at least one folder for the session.');
    const fields: Partial<SessionRecord> = {};
    if (options.title !== undefined) fields.title = options.title;
    if (options.model !== undefined) fields.model = options.model;
    fields.permission_mode = options.permission_mode ?? this.settings.default_permission_mode;
    return { ...this.addSession(folders, fields) };
  }

  async openSession(id: string, onEvent: (event: SessionEvent) => void): Promise<SessionSubscription> {
    this.enter('openSession', [id]);
    const session = this.session(id);
    // One window: a new subscription replaces the old one, as the shell does after a reload.
    session.listeners.clear();
    session.listeners.add(onEvent);
    this.opened.push(id);
    const snapshot: SessionSnapshot = {
      record: { ...session.record },
      transcript: [...session.transcript],
      pending: [...session.pending],
      vm: session.vm,
    };
    return { snapshot, unsubscribe: () => session.listeners.delete(onEvent) };
  }

  async send(id: string, text: string, options?: SendOptions): Promise<void> {
    this.enter('send', options ? [id, text, options] : [id, text]);
    const session = this.session(id);
    const withoutUndo = options?.withoutUndo === true;
    if (this.overCap && !withoutUndo) {
      // The host checks the checkpoint's size before it takes the message; nothing is stored.
      this.emit(id, { type: 'undo_over_cap', text, ...this.overCap });
      return;
    }
    session.withoutUndo = withoutUndo;
    this.store(session, 'in', userMessage(text));
    this.script.onSend?.(this, id, text);
  }

  async interrupt(id: string): Promise<void> {
    this.enter('interrupt', [id]);
    this.session(id);
    this.script.onInterrupt?.(this, id);
  }

  async answer(id: string, requestId: string, answer: PermissionAnswer): Promise<void> {
    this.enter('answer', [id, requestId, answer]);
    const session = this.session(id);
    const prompt = session.pending.find((p) => p.request_id === requestId);
    if (!prompt) throw backendError('unknown', 'That question was already answered or withdrawn.');
    session.pending = session.pending.filter((p) => p.request_id !== requestId);
    this.store(session, 'host', {
      type: 'workroom_permission',
      request_id: requestId,
      tool_name: prompt.tool_name,
      ...(prompt.tool_name === 'Network' ? { host: (prompt.input as { host?: string }).host } : { tool_use_id: prompt.tool_use_id }),
      decision: ANSWER_NAMES[answer.kind],
      by: 'user',
    });
    this.agentAnswered(id, session, prompt, answer);
    this.script.onAnswer?.(this, id, requestId, answer);
  }

  async setMode(id: string, mode: PermissionMode): Promise<void> {
    this.enter('setMode', [id, mode]);
    this.session(id).record.permission_mode = mode;
  }

  async addFolder(id: string, folder: string): Promise<SessionRecord> {
    this.enter('addFolder', [id, folder]);
    const record = this.session(id).record;
    if (!record.folders.includes(folder)) record.folders = [...record.folders, folder];
    return { ...record };
  }

  async stopVm(id: string): Promise<void> {
    this.enter('stopVm', [id]);
    this.emit(id, { type: 'vm', state: 'stopped', reason: 'you stopped it' });
  }

  async renameSession(id: string, title: string): Promise<void> {
    this.enter('renameSession', [id, title]);
    this.session(id).record.title = title;
  }

  async deleteSession(id: string): Promise<void> {
    this.enter('deleteSession', [id]);
    this.session(id);
    this.sessions.delete(id);
  }

  async transcript(id: string): Promise<FrameRecord[]> {
    this.enter('transcript', [id]);
    return [...this.session(id).transcript];
  }

  async consoleLog(id: string): Promise<string> {
    this.enter('consoleLog', [id]);
    return this.session(id).consoleLog;
  }

  async turnChanges(id: string): Promise<TurnChanges[]> {
    this.enter('turnChanges', [id]);
    return turnChangesOf(this.session(id).transcript);
  }

  async changeDiff(id: string, turn: number, folder: string, path: string): Promise<string | null> {
    this.enter('changeDiff', [id, turn, folder, path]);
    const changes = turnChangesOf(this.session(id).transcript).find((t) => t.turn === turn);
    if (!changes) throw backendError('nothing_to_undo', `Turn ${turn} changed no files.`);
    return this.diffs.get(diffKey(turn, folder, path)) ?? null;
  }

  async undoTurn(id: string, turn: number | null, onConflict: OnConflict): Promise<UndoResult> {
    this.enter('undoTurn', [id, turn, onConflict]);
    const session = this.session(id);
    const turns = turnChangesOf(session.transcript);
    const chosen = turn === null ? turns[turns.length - 1] : turns.find((t) => t.turn === turn);
    if (!chosen) {
      throw backendError('nothing_to_undo', turn === null ? 'No turn of this session changed files.' : `Turn ${turn} changed no files.`);
    }
    return this.restore(session, 'workroom_undo', chosen, onConflict);
  }

  async redoTurn(id: string, onConflict: OnConflict): Promise<UndoResult> {
    this.enter('redoTurn', [id, onConflict]);
    const session = this.session(id);
    const last = [...session.transcript]
      .reverse()
      .map((record) => record.body as Record<string, unknown>)
      .find((body) => UNDO_RECORDS.includes(body.type as string));
    const turn = turnChangesOf(session.transcript).find((t) => last?.type === 'workroom_undo' && t.turn === last.turn);
    if (!turn) throw backendError('nothing_to_undo', 'There is no undo to redo.');
    return this.restore(session, 'workroom_redo', turn, onConflict);
  }

  async previewFile(id: string, path: string): Promise<FilePreview> {
    this.enter('previewFile', [id, path]);
    const host = this.inFolders(this.session(id), path);
    return this.previews.get(path) ?? cannedPreview(host);
  }

  async openFile(id: string, path: string): Promise<void> {
    this.enter('openFile', [id, path]);
    this.inFolders(this.session(id), path);
    this.openedFiles.push(path);
  }

  async pickFolder(): Promise<string | null> {
    this.enter('pickFolder', []);
    return this.nextPickedFolder;
  }

  onFoldersToOpen(handler: (paths: string[]) => void): Unsubscribe {
    this.folderHandlers.add(handler);
    return () => this.folderHandlers.delete(handler);
  }

  async takeLaunchFolders(): Promise<string[]> {
    this.enter('takeLaunchFolders', []);
    const folders = this.launchFolders;
    this.launchFolders = [];
    return folders;
  }

  async providerStatus(): Promise<ProviderStatus> {
    this.enter('providerStatus', []);
    return { ...this.provider };
  }

  async setProvider(setup: ProviderSetup): Promise<ProviderStatus> {
    this.enter('setProvider', [{ ...setup, api_key: setup.api_key ? '(hidden)' : undefined }]);
    this.provider = {
      kind: setup.kind,
      base_url: setup.base_url ?? null,
      key_source: setup.api_key ? 'keychain' : this.provider.kind === setup.kind ? this.provider.key_source : null,
      configured: true,
    };
    return { ...this.provider };
  }

  async imageStatus(): Promise<ImageStatus> {
    this.enter('imageStatus', []);
    return this.image;
  }

  async prepareImage(onProgress: (progress: ImageProgress) => void): Promise<ImageStatus> {
    this.enter('prepareImage', []);
    await this.script.onPrepareImage?.(onProgress);
    this.image = { state: 'ready', arch: this.image.arch };
    return this.image;
  }

  async userlandStatus(): Promise<UserlandStatus> {
    this.enter('userlandStatus', []);
    return { ...this.userland };
  }

  async prepareUserland(onProgress: (progress: ImageProgress) => void, office = false): Promise<UserlandStatus> {
    this.enter('prepareUserland', [office]);
    if (this.script.onPrepareUserland) await this.script.onPrepareUserland(onProgress);
    else {
      onProgress({ step: 'Downloading packages', fraction: 0.3 });
      onProgress({ step: 'Unpacking', fraction: 0.8 });
      onProgress({ step: 'The full toolset is ready', fraction: 1 });
    }
    this.userland = { state: 'ready', current: true, size_bytes: office ? 640_000_000 : 290_000_000, office };
    return { ...this.userland };
  }

  async getSettings(): Promise<AppSettings> {
    this.enter('getSettings', []);
    return { ...this.settings };
  }

  async setSettings(changes: Partial<AppSettings>): Promise<AppSettings> {
    this.enter('setSettings', [changes]);
    // The shell refuses it as `invalid_input`, a code the page knows as `unknown`.
    if (changes.userland === 'full' && this.userland.state === 'missing') {
      throw backendError('unknown', 'prepare the full toolset before choosing it');
    }
    this.settings = { ...this.settings, ...changes };
    return { ...this.settings };
  }

  async pageReady(): Promise<void> {
    this.enter('pageReady', []);
  }

  async storageInfo(): Promise<StorageInfo> {
    this.enter('storageInfo', []);
    return { ...this.storage };
  }

  async openLink(url: string): Promise<void> {
    this.enter('openLink', [url]);
  }

  async notify(title: string, body: string): Promise<void> {
    this.enter('notify', [title, body]);
  }

  // ── Internals ───────────────────────────────────────────────────────────────

  /** Records the call and throws the failure queued for it, if any. */
  private enter(method: keyof Backend, args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.failures.get(method);
    if (failure) {
      this.failures.delete(method);
      throw failure;
    }
  }

  private session(id: string): MockSession {
    const session = this.sessions.get(id);
    if (!session) throw backendError('no_such_session', `There is no session ${id}.`);
    return session;
  }

  /** `path` as a host path inside the session's folders (relative: in the first), or the host's refusal. */
  private inFolders(session: MockSession, path: string): string {
    const [first] = session.record.folders;
    const host = path.startsWith('/') || first === undefined ? path : `${first}/${path}`;
    const inside = session.record.folders.some((folder) => host.startsWith(`${folder}/`));
    if (!inside || host.split('/').includes('..')) {
      throw backendError('folder_not_shareable', `${path} is not in this session's folders.`);
    }
    return host;
  }

  private deliver(session: MockSession, event: SessionEvent): void {
    for (const listener of [...session.listeners]) listener(event);
  }

  /** What the agent does with answers to its questions and plans: a tool result, as the real one writes. */
  private agentAnswered(id: string, session: MockSession, prompt: PermissionPrompt, answer: PermissionAnswer): void {
    const toolUseId = prompt.tool_use_id;
    if (!toolUseId) return;
    if (answer.kind === 'answers') {
      const structured = { questions: (prompt.input as { questions?: unknown }).questions ?? [], answers: answer.message };
      this.emit(id, { type: 'frame', frame: toolResult(toolUseId, answeredText(answer.message), { structured }) });
    } else if (answer.kind === 'approve_plan') {
      // The agent leaves plan mode; the host keeps the new mode for the session.
      session.record.permission_mode = answer.message;
      this.emit(id, { type: 'frame', frame: statusFrame(answer.message) });
      this.emit(id, { type: 'frame', frame: toolResult(toolUseId, PLAN_APPROVED_TEXT) });
    }
  }

  private storeChangesDue(session: MockSession): void {
    if (session.changesDue) this.store(session, 'host', session.changesDue);
    session.changesDue = null;
    session.withoutUndo = false;
  }

  /** Undo or redo of `turn`: conflicts when asked and there are some, else the record the host appends. */
  private restore(session: MockSession, kind: 'workroom_undo' | 'workroom_redo', turn: TurnChanges, onConflict: OnConflict): UndoResult {
    if (onConflict === 'ask' && this.conflicts.length > 0) {
      return { state: 'conflicts', folders: structuredClone(this.conflicts) };
    }
    const keptIn = (folder: string) =>
      onConflict === 'keep' ? (this.conflicts.find((c) => c.folder === folder)?.conflicts.map((c) => c.path) ?? []) : [];
    const folders = turn.folders.map(({ folder, changes }) => ({
      folder,
      restored: Math.max(0, changes.length - keptIn(folder).length),
      kept: keptIn(folder),
    }));
    this.conflicts = [];
    const point = this.seq;
    this.store(session, 'host', {
      type: kind,
      turn: turn.turn,
      folders: turn.folders.map(({ folder }) => ({ folder, redo_point: `redo-${point}`, after: `restored-${point}` })),
    });
    return { state: 'applied', turn: turn.turn, folders };
  }

  private store(session: MockSession, direction: FrameRecord['direction'], body: Record<string, unknown>): void {
    session.transcript.push({ seq: this.seq++, direction, body, at_ms: Date.now() });
    session.record.updated_at = Math.floor(Date.now() / 1000);
  }
}

function diffKey(turn: number, folder: string, path: string): string {
  return `${turn}\n${folder}\n${path}`;
}
