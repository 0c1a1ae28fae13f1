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

export function updateTool(
  view: SessionView,
  toolUseId: string,
  change: (tool: ToolItem) => ToolItem,
): SessionView {
  const index = findToolIndex(view, toolUseId);
  if (index < 0) return view;
  return replaceAt(view, index, change(view.items[index] as ToolItem));
}

/** Every item still marked as streaming or unfinished, closed: the turn (or the VM) ended. */
export function settleUnfinished(view: SessionView): SessionView {
  let changed = false;
  const items = view.items.map((item): ChatItem => {
    if ((item.kind === 'text' || item.kind === 'thinking') && item.streaming) {
      changed = true;
      return { ...item, streaming: false };
    }
    if (item.kind === 'tool' && (item.status === 'running' || item.status === 'preparing')) {
      changed = true;
      return { ...item, status: 'interrupted' };
    }
    return item;
  });
  return changed ? { ...view, items, stream: { messageId: null, blocks: {} } } : view;
}
