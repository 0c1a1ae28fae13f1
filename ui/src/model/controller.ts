/**
 * One open session in this window: its store, fed by the backend's events, and the person's
 * actions, shown at once and undone with a word when the backend refuses them.
 */
import type { Backend, SessionSubscription } from '../backend/backend';
import { toBackendError } from '../backend/errors';
import type {
  OnConflict,
  PermissionAnswer,
  PermissionMode,
  PermissionPrompt,
  SendOptions,
  SessionEvent,
  SessionRecord,
  UndoResult,
} from '../backend/types';
import { obj, str } from './json';
import { viewFromSnapshot } from './replay';
import { nextFrame, SessionStore, type Schedule } from './store';

export interface SessionHooks {
  /** A question arrived (the app notifies when the window is not focused). */
  onPermission?: (sessionId: string, prompt: PermissionPrompt) => void;
  /** A turn ended or the session changed in a way the session list shows (cost, time). */
  onActivity?: (sessionId: string) => void;
}

export class SessionController {
  readonly store: SessionStore;
  record: SessionRecord | null = null;
  private subscription: SessionSubscription | null = null;
  /** Events that arrived before the snapshot was applied. */
  private early: SessionEvent[] | null = null;
  /**
   * `uuid`s of the agent frames the snapshot's transcript holds. The host stores a frame before it
   * emits it, so a frame emitted while the window was opening can be in both; it counts once.
   */
  private storedFrameIds = new Set<string>();

  constructor(
    readonly id: string,
    private readonly backend: Backend,
    private readonly hooks: SessionHooks = {},
    schedule: Schedule = nextFrame,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new SessionStore(undefined, schedule);
  }

  /** Opens the session: replays its transcript, then follows its events. */
  async open(): Promise<void> {
    this.early = [];
    const subscription = await this.backend.openSession(this.id, (event) => this.onEvent(event));
    this.subscription = subscription;
    this.record = subscription.snapshot.record;
    this.storedFrameIds = new Set(
      subscription.snapshot.transcript.flatMap((record) => {
        const uuid = str(obj(record.body).uuid);
        return record.direction === 'out' && uuid ? [uuid] : [];
      }),
    );
    this.store.reset(viewFromSnapshot(subscription.snapshot));
    const early = this.early;
    this.early = null;
    for (const event of early) this.onEvent(event);
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  async send(text: string, options?: SendOptions): Promise<void> {
    this.store.dispatch({ type: 'sent', text });
    try {
      await (options ? this.backend.send(this.id, text, options) : this.backend.send(this.id, text));
    } catch (reason) {
      this.store.dispatch({ type: 'send_failed', message: `Not sent: ${toBackendError(reason).message}` });
    }
  }

  async interrupt(): Promise<void> {
    this.store.dispatch({ type: 'stop_requested' });
    await this.attempt(() => this.backend.interrupt(this.id), 'Could not stop the agent');
  }

  async answer(prompt: PermissionPrompt, answer: PermissionAnswer): Promise<void> {
    this.store.dispatch({ type: 'answered', prompt, answer });
    try {
      await this.backend.answer(this.id, prompt.request_id, answer);
    } catch (reason) {
      this.store.dispatch({ type: 'answer_failed', prompt, message: toBackendError(reason).message });
    }
  }

  async setMode(mode: PermissionMode): Promise<void> {
    const ok = await this.attempt(() => this.backend.setMode(this.id, mode), 'Could not change the permission mode');
    if (ok) this.store.dispatch({ type: 'mode_changed', mode });
  }

  async addFolder(folder: string): Promise<void> {
    await this.attempt(async () => {
      this.record = await this.backend.addFolder(this.id, folder);
      this.hooks.onActivity?.(this.id);
    }, 'Could not share the folder');
  }

  async stopVm(): Promise<void> {
    await this.attempt(() => this.backend.stopVm(this.id), 'Could not stop the virtual machine');
  }

  consoleLog(): Promise<string> {
    return this.backend.consoleLog(this.id);
  }

  /**
   * Undoes `turn` and every later turn. Applied, it shows at once (the host has appended the same
   * record to the transcript); conflicts come back for the person to decide. Rejects with a
   * `BackendError`.
   */
  async undo(turn: number, onConflict: OnConflict): Promise<UndoResult> {
    const result = await this.backend.undoTurn(this.id, turn, onConflict);
    if (result.state === 'applied') this.store.dispatch({ type: 'restored', record: 'undo', turn: result.turn });
    return result;
  }

  /** Redoes the last undo; like `undo`. */
  async redo(onConflict: OnConflict): Promise<UndoResult> {
    const result = await this.backend.redoTurn(this.id, onConflict);
    if (result.state === 'applied') this.store.dispatch({ type: 'restored', record: 'redo', turn: result.turn });
    return result;
  }

  /** A change's text diff; `null` when there is no preview. */
  changeDiff(turn: number, folder: string, path: string): Promise<string | null> {
    return this.backend.changeDiff(this.id, turn, folder, path);
  }

  /** After `undo_over_cap`: sends the held-back message again, this time without undo. */
  async sendWithoutUndo(): Promise<void> {
    const [held] = this.store.get().overCap;
    if (!held) return;
    this.store.dispatch({ type: 'over_cap_answered' });
    await this.send(held.text, { withoutUndo: true });
  }

  /** After `undo_over_cap`: drops the held-back message; returns its text for the composer. */
  keepBackOverCap(): string | null {
    const [held] = this.store.get().overCap;
    if (!held) return null;
    this.store.dispatch({ type: 'over_cap_answered' });
    return held.text;
  }

  private async attempt(action: () => Promise<void>, what: string): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (reason) {
      this.store.dispatch({ type: 'failed', message: `${what}: ${toBackendError(reason).message}` });
      return false;
    }
  }

  private onEvent(event: SessionEvent): void {
    if (this.early) {
      this.early.push(event);
      return;
    }
    if (event.type === 'frame') {
      const uuid = str(obj(event.frame).uuid);
      if (uuid && this.storedFrameIds.delete(uuid)) return;
    }
    this.store.dispatch({ type: 'event', event, atMs: this.now() });
    if (event.type === 'permission') {
      const { type: _type, ...prompt } = event;
      this.hooks.onPermission?.(this.id, prompt);
    }
    if (event.type === 'frame' && obj(event.frame).type === 'result') {
      this.hooks.onActivity?.(this.id);
    }
  }
}
