/**
 * Undo in the view: the turns that changed files (the host's `workroom_changes` records, numbered
 * 1, 2, ... in transcript order as the host numbers them), which of them are undone, and whether
 * redo is possible. The transcript's `workroom_undo` / `workroom_redo` records and the results of
 * the page's own undo and redo (applied at once: those commands answer with a result, not a live
 * frame) go through the same functions, so a reload shows what the page showed.
 */
import type { FolderChanges } from '../backend/types';
import { append } from './items';
import type { ChangesItem, ChatItem, SessionView } from './view';

/**
 * The checkpoints a record ends at. A record stored and emitted while the window was opening
 * arrives twice (in the transcript and live) with the same ones; it counts once.
 */
function endPoints(folders: FolderChanges[]): string {
  return folders.every((f) => f.after !== '') ? folders.map((f) => f.after).join('\n') : '';
}

function alreadyRecorded(view: SessionView, folders: FolderChanges[]): boolean {
  const id = endPoints(folders);
  if (id === '') return false;
  if (view.undo.due && endPoints(view.undo.due.folders) === id) return true;
  return view.items.some((item) => item.kind === 'changes' && endPoints(item.folders) === id);
}

/**
 * A turn's `workroom_changes`. Live, it comes while its turn still runs (just before the `result`),
 * so its card waits for the footer; stored, it comes right after the `result`.
 */
export function changesRecorded(view: SessionView, folders: FolderChanges[], live: boolean): SessionView {
  if (alreadyRecorded(view, folders)) return view;
  const turn = view.undo.lastTurn + 1;
  // A new record ends what redo could re-apply.
  const placed = placeDueChanges(view);
  const next = { ...placed, undo: { ...placed.undo, lastTurn: turn, redo: null } };
  if (live && view.awaiting.length > 0) return { ...next, undo: { ...next.undo, due: { turn, folders } } };
  return placeChanges(next, turn, folders);
}

/** The running turn's card, put in place now that the turn ended (or its VM stopped). */
export function placeDueChanges(view: SessionView): SessionView {
  const due = view.undo.due;
  if (!due) return view;
  return placeChanges({ ...view, undo: { ...view.undo, due: null } }, due.turn, due.folders);
}

/**
 * A turn's card goes right after its footer. When only messages starting later turns follow the
 * last footer, that footer is the turn's; otherwise the turn has none (its VM stopped mid-turn) and
 * the card ends what it did.
 */
function placeChanges(view: SessionView, turn: number, folders: FolderChanges[]): SessionView {
  const [next] = append(view, { kind: 'changes', turn, folders, undone: false });
  const card = next.items[next.items.length - 1] as ChatItem;
  let footer = view.items.length - 1;
  while (footer >= 0 && view.items[footer]?.kind === 'user') footer -= 1;
  if (footer < 0 || footer === view.items.length - 1 || view.items[footer]?.kind !== 'turn_end') return next;
  return { ...next, items: [...view.items.slice(0, footer + 1), card, ...view.items.slice(footer + 1)] };
}

/** The turns whose changes are undone now. */
export function undoneTurns(view: SessionView): number[] {
  return view.items.flatMap((item) => (item.kind === 'changes' && item.undone ? [item.turn] : []));
}

/** `workroom_undo`: turn `turn` and every later one were undone. */
export function turnsUndone(view: SessionView, turn: number): SessionView {
  const undoneBefore = undoneTurns(view);
  const items = view.items.map((item): ChatItem =>
    item.kind === 'changes' && item.turn >= turn && !item.undone ? { ...item, undone: true } : item,
  );
  return { ...view, items, undo: { ...view.undo, redo: { turn, undoneBefore } } };
}

/** `workroom_redo`: the last undo was redone; what was undone before it stays undone. */
export function undoRedone(view: SessionView): SessionView {
  const redo = view.undo.redo;
  if (!redo) return view;
  const items = view.items.map((item): ChatItem => {
    if (item.kind !== 'changes') return item;
    const undone = redo.undoneBefore.includes(item.turn);
    return item.undone === undone ? item : { ...item, undone };
  });
  return { ...view, items, undo: { ...view.undo, redo: null } };
}

/**
 * Per turn, how many later turns changed files and are not undone: undoing that turn undoes them
 * too.
 */
export function laterChangedTurns(view: SessionView): Map<number, number> {
  const cards = view.items.filter((item): item is ChangesItem => item.kind === 'changes').sort((a, b) => b.turn - a.turn);
  const later = new Map<number, number>();
  let count = 0;
  for (const card of cards) {
    later.set(card.turn, count);
    if (!card.undone && card.folders.some((f) => f.changes.length > 0)) count += 1;
  }
  return later;
}
