/**
 * The person's messages and their turns. The agent runs one turn per message, in order (the guest
 * agent queues messages that arrive while it works), so a message typed during a turn waits in
 * `queued` and enters the conversation when the turn before it ends. The same rules replay a stored
 * transcript, where such a message was recorded the moment it was sent.
 */
import { append, settleUnfinished, updateByKey } from './items';
import type { ChatItem, SessionView } from './view';

/** The person sent `text` (live), or the transcript recorded it being sent. */
export function messageSent(view: SessionView, text: string): SessionView {
  if (view.awaiting.length > 0 || view.queued.length > 0) {
    const key = `q${view.nextKey}`;
    return { ...view, queued: [...view.queued, { key, text }], nextKey: view.nextKey + 1 };
  }
  const [next, key] = append(view, { kind: 'user', text, undelivered: null });
  return { ...next, awaiting: [...next.awaiting, key] };
}

/** A turn ended (its `result` arrived): the next queued message, if any, starts its turn. */
export function endTurn(view: SessionView): SessionView {
  const awaiting = view.awaiting.slice(1);
  const [first, ...rest] = view.queued;
  const base = { ...view, awaiting, stopping: false };
  if (!first) return base;
  const [next, key] = append({ ...base, queued: rest }, { kind: 'user', text: first.text, undelivered: null });
  return { ...next, awaiting: [...next.awaiting, key] };
}

/**
 * Every message not yet answered will never be: the VM failed or stopped, or Stop withdrew them
 * before the VM was up. They stay in the conversation, marked with `reason`.
 */
export function abandonTurns(view: SessionView, reason: string): SessionView {
  let next = settleUnfinished(view);
  for (const key of view.awaiting) {
    next = updateByKey(next, key, (item): ChatItem => (item.kind === 'user' ? { ...item, undelivered: reason } : item));
  }
  for (const queued of view.queued) {
    [next] = append(next, { kind: 'user', text: queued.text, undelivered: reason });
  }
  return { ...next, awaiting: [], queued: [], stopping: false };
}

/** The turns in flight were cut short (VM gone mid-turn): their messages were delivered, so they stay
 * as they are, but nothing more will come for them. */
export function dropTurns(view: SessionView, queuedReason: string): SessionView {
  let next = settleUnfinished(view);
  for (const queued of view.queued) {
    [next] = append(next, { kind: 'user', text: queued.text, undelivered: queuedReason });
  }
  return { ...next, awaiting: [], queued: [], stopping: false };
}

/**
 * The host did not take a message (`undo_over_cap`): it leaves the conversation, where a reload
 * would not show it either. The newest message with that text goes; if it was the one the agent
 * was to answer, the next queued message starts its turn.
 */
export function withdrawMessage(view: SessionView, text: string): SessionView {
  const queued = view.queued.map((q) => q.text).lastIndexOf(text);
  if (queued >= 0) return { ...view, queued: view.queued.filter((_, index) => index !== queued) };
  const key = [...view.awaiting].reverse().find((k) => view.items.some((item) => item.key === k && item.kind === 'user' && item.text === text));
  if (key === undefined) return view;
  const next = { ...view, items: view.items.filter((item) => item.key !== key), awaiting: view.awaiting.filter((k) => k !== key) };
  const [first, ...rest] = next.queued;
  if (next.awaiting.length > 0 || !first) return next;
  const [started, startedKey] = append({ ...next, queued: rest }, { kind: 'user', text: first.text, undelivered: null });
  return { ...started, awaiting: [startedKey] };
}
