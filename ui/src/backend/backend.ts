/**
 * The one door between the page and the outside world. Components receive a `Backend` through
 * context and never import `@tauri-apps/*` themselves: `tauri.ts` implements it over the desktop
 * shell's commands, `mock.ts` implements it in memory for tests and for `npm run dev` in a browser.
 *
 * Every method rejects with a `BackendError` (`{code, message}`), never with a bare string.
 */
import type {
  AppSettings,
  FilePreview,
  FrameRecord,
  ImageProgress,
  ImageStatus,
  NewSessionOptions,
  OnConflict,
  PermissionAnswer,
  PermissionMode,
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
} from './types';

/**
 * Error classes the page branches on. Mirrors the shell's `CommandError.code`; a code the page
 * does not know arrives as `unknown` (the message still reads well).
 */
export type ErrorCode =
  | 'no_such_session'
  | 'folder_not_shareable'
  | 'image_missing'
  | 'keychain'
  | 'disk_full'
  | 'unsupported'
  /** No such turn, or no undo to redo. */
  | 'nothing_to_undo'
  /** Undo or redo while the session's agent is working. */
  | 'busy'
  | 'unknown';

export interface BackendError {
  code: ErrorCode;
  /** In words for the person using the app. */
  message: string;
}

/** Stops a subscription. */
export type Unsubscribe = () => void;

/** An open session: its state when opened, plus a live feed until `unsubscribe`. */
export interface SessionSubscription {
  snapshot: SessionSnapshot;
  /** Stops delivering events to this window; the session itself goes on. */
  unsubscribe: Unsubscribe;
}

export interface Backend {
  // ── Sessions ──────────────────────────────────────────────────────────────
  /** Every stored session, most recently used first. */
  listSessions(): Promise<SessionRecord[]>;
  /** Creates a session over existing folders; its VM boots with the first message. */
  createSession(folders: string[], options?: NewSessionOptions): Promise<SessionRecord>;
  /**
   * Opens a session (starting its task if needed) and feeds its events to `onEvent`. Events come
   * strictly after the snapshot: nothing is lost or delivered twice in between.
   */
  openSession(id: string, onEvent: (event: SessionEvent) => void): Promise<SessionSubscription>;
  /**
   * Sends a message; boots the VM if it is not running. Sent while the agent works, it queues.
   * When its undo checkpoint would be over the size cap, the session emits `undo_over_cap` instead
   * and the message is not sent; `withoutUndo` sends it anyway, without a checkpoint.
   */
  send(id: string, text: string, options?: SendOptions): Promise<void>;
  /** Interrupts the running turn. */
  interrupt(id: string): Promise<void>;
  /** Answers a permission question. */
  answer(id: string, requestId: string, answer: PermissionAnswer): Promise<void>;
  /** Changes the session's permission mode (and keeps it for the session). */
  setMode(id: string, mode: PermissionMode): Promise<void>;
  /** Shares one more folder with the session (it is visible from the next VM boot). */
  addFolder(id: string, folder: string): Promise<SessionRecord>;
  /** Stops the session's VM; the conversation stays and the next message boots it again. */
  stopVm(id: string): Promise<void>;
  renameSession(id: string, title: string): Promise<void>;
  /** Deletes a session, its transcript and its VM state. */
  deleteSession(id: string): Promise<void>;
  /** The stored transcript, oldest first. */
  transcript(id: string): Promise<FrameRecord[]>;
  /** The end of the guest's console log, for "show console log". */
  consoleLog(id: string): Promise<string>;

  // ── Undo ──────────────────────────────────────────────────────────────────
  /** What each turn that changed files changed, oldest first. */
  turnChanges(id: string): Promise<TurnChanges[]>;
  /** A unified diff of one change of a turn; `null` for binary, large or non-file changes. */
  changeDiff(id: string, turn: number, folder: string, path: string): Promise<string | null>;
  /**
   * Puts the folders back as they were before `turn` (`null`: the last), undoing every later turn
   * too. With `ask`, paths the person changed since come back as conflicts and nothing changes.
   */
  undoTurn(id: string, turn: number | null, onConflict: OnConflict): Promise<UndoResult>;
  /** Re-applies the last undo (possible while it is the latest undo, redo or change record). */
  redoTurn(id: string, onConflict: OnConflict): Promise<UndoResult>;

  // ── Files the agent made ──────────────────────────────────────────────────
  /**
   * What a file in the session's folders looks like: an image, a table, a document's text, or why
   * there is no preview. `path` is a host path, or one relative to the session's first folder; a
   * path outside the folders is refused (`folder_not_shareable`).
   */
  previewFile(id: string, path: string): Promise<FilePreview>;
  /** Opens a file of the session's folders in the person's default app for its type. */
  openFile(id: string, path: string): Promise<void>;

  // ── Folders ───────────────────────────────────────────────────────────────
  /** The native folder picker; `null` when the person cancels. */
  pickFolder(): Promise<string | null>;
  /**
   * Folders to start a session on that arrive by themselves: dropped onto the window (native paths,
   * which the web drop event does not give) or handed over by a second launch of the app.
   */
  onFoldersToOpen(handler: (paths: string[]) => void): Unsubscribe;
  /**
   * Folders the app was started with (command line), each returned once: the window opens a
   * session for them without the native dialog.
   */
  takeLaunchFolders(): Promise<string[]>;

  // ── Provider, image, settings ─────────────────────────────────────────────
  providerStatus(): Promise<ProviderStatus>;
  /** Saves the provider (the key goes to the OS keychain). */
  setProvider(setup: ProviderSetup): Promise<ProviderStatus>;
  imageStatus(): Promise<ImageStatus>;
  /** Prepares (builds or unpacks) the guest image, reporting progress as it goes. */
  prepareImage(onProgress: (progress: ImageProgress) => void): Promise<ImageStatus>;
  /** Whether the full toolset (the Debian userland for the agent's shell commands) is prepared. */
  userlandStatus(): Promise<UserlandStatus>;
  /**
   * Downloads and unpacks the full toolset (about 90 MB; `office` adds LibreOffice, about 115 MB
   * more), reporting progress as it goes.
   */
  prepareUserland(onProgress: (progress: ImageProgress) => void, office?: boolean): Promise<UserlandStatus>;
  getSettings(): Promise<AppSettings>;
  /** Saves the given settings; returns all settings as now in force. */
  setSettings(changes: Partial<AppSettings>): Promise<AppSettings>;
  storageInfo(): Promise<StorageInfo>;

  // ── Desktop ───────────────────────────────────────────────────────────────
  /** Opens a link in the person's browser (never inside the app's window). */
  openLink(url: string): Promise<void>;
  /** A system notification (the page calls it only when the window is not focused). */
  notify(title: string, body: string): Promise<void>;
  /** The home screen is interactive (the app records its start-up time). */
  pageReady(): Promise<void>;
}
