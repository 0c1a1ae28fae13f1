/** Small immutable helpers over `SessionView.items`, shared by the reducer's parts. */
import type { ChatItem, NoticeTone, SessionView, ToolItem } from './view';

/** Distributes `Omit` over the union, so each item kind keeps its own fields. */
type WithoutKey<T> = T extends unknown ? Omit<T, 'key'> : never;
export type NewItem = WithoutKey<ChatItem>;

/** Appends an item with a fresh key; returns the new view and the key. */
export function append(view: SessionView, item: NewItem): [SessionView, string] {
  const key = `i${view.nextKey}`;
  const withKey = { ...item, key } as ChatItem;
  return [{ ...view, items: [...view.items, withKey], nextKey: view.nextKey + 1 }, key];
}

export function appendItem(view: SessionView, item: NewItem): SessionView {
  return append(view, item)[0];
}

export function notice(view: SessionView, tone: NoticeTone, text: string): SessionView {
  return appendItem(view, { kind: 'notice', tone, text, isRetry: false });
}

/** Replaces the item with `key` by `change(item)`; unchanged when there is none. */
export function updateByKey(
  view: SessionView,
  key: string,
  change: (item: ChatItem) => ChatItem,
): SessionView {
  const index = view.items.findIndex((item) => item.key === key);
  if (index < 0) return view;
  return replaceAt(view, index, change(view.items[index] as ChatItem));
}

export function replaceAt(view: SessionView, index: number, item: ChatItem): SessionView {
  const items = view.items.slice();
  items[index] = item;
  return { ...view, items };
}

/** Index of the latest tool item for a tool call id. */
export function findToolIndex(view: SessionView, toolUseId: string): number {
  for (let i = view.items.length - 1; i >= 0; i -= 1) {
    const item = view.items[i];
    if (item?.kind === 'tool' && item.toolUseId === toolUseId) return i;
  }
  return -1;
}

/**
 * The latest tool item for `toolUseId` changed by `change`, a sub-agent's call included (permission
 * decisions name those too); unchanged when there is none.
 */
export function updateTool(
  view: SessionView,
  toolUseId: string,
  change: (tool: ToolItem) => ToolItem,
): SessionView {
  const items = updateToolIn(view.items, toolUseId, change);
  return items ? { ...view, items } : view;
}

function updateToolIn(items: ChatItem[], toolUseId: string, change: (tool: ToolItem) => ToolItem): ChatItem[] | null {
  for (let i = items.length - 1; i >= 0; i -= 1) {
    const item = items[i];
    if (item?.kind !== 'tool') continue;
    let updated: ToolItem | null = null;
    if (item.toolUseId === toolUseId) {
      updated = change(item);
    } else if (item.activity) {
      const activity = updateToolIn(item.activity, toolUseId, change);
      if (activity) updated = { ...item, activity };
    }
    if (updated) {
      const next = items.slice();
      next[i] = updated;
      return next;
    }
  }
  return null;
}

/** Every item still marked as streaming or unfinished, closed: the turn (or the VM) ended. */
export function settleUnfinished(view: SessionView): SessionView {
  const items = settleItems(view.items);
  return items !== view.items ? { ...view, items, stream: { messageId: null, blocks: {} } } : view;
}

/** `items` itself when nothing in it (or in a sub-agent's activity) was unfinished. */
function settleItems(items: ChatItem[]): ChatItem[] {
  let changed = false;
  const settled = items.map((item): ChatItem => {
    const next = settleItem(item);
    if (next !== item) changed = true;
    return next;
  });
  return changed ? settled : items;
}

function settleItem(item: ChatItem): ChatItem {
  if ((item.kind === 'text' || item.kind === 'thinking') && item.streaming) return { ...item, streaming: false };
  if (item.kind !== 'tool') return item;
  const unfinished = item.status === 'running' || item.status === 'preparing';
  const activity = item.activity && settleItems(item.activity);
  if (!unfinished && activity === item.activity) return item;
  return { ...item, ...(activity ? { activity } : {}), status: unfinished ? 'interrupted' : item.status };
}
