import { reduce, type SessionAction } from './reducer';
import { emptyView, type SessionView } from './view';

export type Schedule = (flush: () => void) => void;

/**
 * Coalesces notifications to one per animation frame: a fast stream sends hundreds of deltas a
 * second, and drawing each would stall the page. Falls back to a timer where frames do not run.
 */
export const nextFrame: Schedule = (flush) => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => flush());
  else setTimeout(flush, 16);
};

/** Runs notifications at once (tests). */
export const immediately: Schedule = (flush) => flush();

/** A session's view model with subscribers. State changes at once; listeners hear once per frame. */
export class SessionStore {
  private view: SessionView;
  private readonly listeners = new Set<() => void>();
  private flushQueued = false;

  constructor(
    initial: SessionView = emptyView(),
    private readonly schedule: Schedule = nextFrame,
  ) {
    this.view = initial;
  }

  get(): SessionView {
    return this.view;
  }

  /** Replaces the whole view (opening or reopening the session). */
  reset(view: SessionView): void {
    this.view = view;
    this.notifySoon();
  }

  dispatch(action: SessionAction): void {
    this.view = reduce(this.view, action);
    this.notifySoon();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notifySoon(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.schedule(() => {
      this.flushQueued = false;
      for (const listener of [...this.listeners]) listener();
    });
  }
}
