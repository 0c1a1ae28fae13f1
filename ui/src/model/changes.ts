/**
 * What a turn changed in the shared folders, in words: the host's `workroom_changes` records read
 * safely, and the sentences the changes card, the conflict question and the size-cap question use.
 */
import type {
  Change,
  ChangeType,
  Conflict,
  Entry,
  EntryKind,
  FolderChanges,
  FolderEstimate,
  FolderRestored,
} from '../backend/types';
import { baseName, bytes } from './format';
import { arr, num, obj, str } from './json';

const ENTRY_KINDS: readonly EntryKind[] = ['file', 'dir', 'symlink'];

/** A checkpoint entry, or `null` when the value is not one. */
export function readEntry(value: unknown): Entry | null {
  const e = obj(value);
  const path = str(e.p);
  const kind = ENTRY_KINDS.find((k) => k === e.k);
  if (path === undefined || !kind) return null;
  return { p: path, k: kind, m: num(e.m) ?? 0, t: num(e.t) ?? 0, s: num(e.s) ?? 0, h: str(e.h) ?? null, l: str(e.l) ?? null };
}

function readChange(value: unknown): Change | null {
  const c = obj(value);
  const before = readEntry(c.before);
  const after = readEntry(c.after);
  switch (c.type) {
    case 'added':
      return after && { type: 'added', after };
    case 'deleted':
      return before && { type: 'deleted', before };
    case 'modified':
    case 'metadata':
    case 'renamed':
      return before && after && { type: c.type, before, after };
    default:
      return null;
  }
}

/** The `folders` of a `workroom_changes` record; changes of an unknown shape are left out. */
export function readFolderChanges(value: unknown): FolderChanges[] {
  return arr(value).flatMap((raw) => {
    const f = obj(raw);
    const folder = str(f.folder);
    if (folder === undefined) return [];
    const changes = arr(f.changes)
      .map(readChange)
      .filter((change): change is Change => change !== null);
    return [{ folder, before: str(f.before) ?? '', after: str(f.after) ?? '', changes }];
  });
}

/** The entry a change is shown as: the new one, or the removed one for a deletion. */
export function shownEntry(change: Change): Entry {
  return change.type === 'deleted' ? change.before : change.after;
}

/**
 * A stored path for people: the host stores bytes of names that are not UTF-8 as NUL and two hex
 * digits; show them as `\xe9`, as `ls -b` would.
 */
export function displayPath(path: string): string {
  return path.replaceAll('\u0000', '\\x');
}

/** The path a change is shown (and its diff asked) under: the new path for a rename. */
export function changePath(change: Change): string {
  return shownEntry(change).p;
}

export function isDirectory(change: Change): boolean {
  return shownEntry(change).k === 'dir';
}

/** Whether the change can have a text diff: a file whose content was added, changed or removed. */
export function hasPreview(change: Change): boolean {
  return shownEntry(change).k === 'file' && (change.type === 'added' || change.type === 'modified' || change.type === 'deleted');
}

/** Whether the change left a file the person can preview or open: one added or modified. */
export function isOpenable(change: Change): boolean {
  if (change.type !== 'added' && change.type !== 'modified') return false;
  // A name that is not UTF-8 (stored with NULs, see `displayPath`) cannot be named to the host.
  return change.after.k === 'file' && !change.after.p.includes('\u0000');
}

/** The badge of a change (a rename's old path is shown next to the new one). */
export const CHANGE_WORDS: Record<ChangeType, string> = {
  added: 'added',
  modified: 'modified',
  deleted: 'deleted',
  renamed: 'renamed',
  metadata: 'permissions or time only',
};

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** "3 files", "1 folder", "2 files and 1 folder". */
export function countChanges(changes: Change[]): string {
  const folders = changes.filter(isDirectory).length;
  const files = changes.length - folders;
  if (folders === 0) return plural(files, 'file', 'files');
  if (files === 0) return plural(folders, 'folder', 'folders');
  return `${plural(files, 'file', 'files')} and ${plural(folders, 'folder', 'folders')}`;
}

/** "A", "A and B", "A, B and C". */
export function listWords(words: string[]): string {
  if (words.length <= 1) return words[0] ?? '';
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1] ?? ''}`;
}

/** The folders a turn changed something in (the host lists every shared folder). */
export function changedFolders(folders: FolderChanges[]): FolderChanges[] {
  return folders.filter((f) => f.changes.length > 0);
}

/** The card's title: "Changed 3 files in Taxes 2026", "Changed 4 files in Taxes 2026 and Letters". */
export function changesHeadline(folders: FolderChanges[]): string {
  const changed = changedFolders(folders);
  if (changed.length === 0) return 'No files changed';
  const all = changed.flatMap((f) => f.changes);
  return `Changed ${countChanges(all)} in ${listWords(changed.map((f) => baseName(f.folder)))}`;
}

/** One conflicting path, in words: what the person did after the agent. */
export function conflictText(conflict: Conflict): string {
  if (conflict.found === null) return `You deleted ${displayPath(conflict.path)} after the agent changed it`;
  if (conflict.expected === null) return `You created ${displayPath(conflict.path)} after the agent’s turn`;
  return `You changed ${displayPath(conflict.path)} after the agent did`;
}

/** "Undo needs a checkpoint of Videos that would copy 9.0 GB, more than the 2.0 GB limit set in Settings." */
export function overCapText(capBytes: number, folders: FolderEstimate[]): string {
  const [first] = folders;
  const limit = `more than the ${bytes(capBytes)} limit set in Settings`;
  if (folders.length === 1 && first) {
    return `Undo needs a checkpoint of ${baseName(first.folder)} that would copy ${bytes(first.bytes)}, ${limit}.`;
  }
  const each = folders.map((f) => `${baseName(f.folder)} (${bytes(f.bytes)})`);
  return `Undo needs checkpoints of ${listWords(each)}, each ${limit}.`;
}

/** After an undo with "keep my changes": "Kept your version of notes.md." */
export function keptText(folders: FolderRestored[]): string | null {
  const kept = folders.flatMap((f) => f.kept);
  if (kept.length === 0) return null;
  const shown = kept.slice(0, 3).map(displayPath);
  const more = kept.length - shown.length;
  const names = more > 0 ? `${shown.join(', ')} and ${more} more` : listWords(shown);
  return `Kept your ${kept.length === 1 ? 'version' : 'versions'} of ${names}.`;
}
