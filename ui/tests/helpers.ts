import type { SessionEvent } from '../src/backend/types';
import { reduce, type SessionAction } from '../src/model/reducer';
import { emptyView, type ChatItem, type SessionView } from '../src/model/view';

/** Folds live events into a fresh view, as the window does while a session runs. */
export function live(events: SessionEvent[], start: SessionView = emptyView()): SessionView {
  return events.reduce<SessionView>((view, event) => reduce(view, { type: 'event', event, atMs: 1_000 }), start);
}

export function apply(view: SessionView, ...actions: SessionAction[]): SessionView {
  return actions.reduce(reduce, view);
}

export function kinds(view: SessionView): ChatItem['kind'][] {
  return view.items.map((item) => item.kind);
}

export function only<K extends ChatItem['kind']>(view: SessionView, kind: K): Extract<ChatItem, { kind: K }>[] {
  return view.items.filter((item): item is Extract<ChatItem, { kind: K }> => item.kind === kind);
}
