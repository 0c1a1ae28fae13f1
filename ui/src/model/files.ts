/**
 * Files the agent made, for their Preview and Open buttons: which tool calls wrote a whole file,
 * where a path the agent gave is on the host, and a preview's parts as the dialog draws them.
 */
import type { DocBlock } from '../backend/types';
import { field } from './json';
import type { ToolItem } from './view';

/** Tools that write a whole file at `input.file_path` (edits change a file the person already has). */
const FILE_WRITERS: readonly string[] = ['Write', 'CreateSpreadsheet', 'CreateDocument', 'CreatePdf', 'CreatePresentation'];

/** The file a finished tool call wrote, as the agent named it; `null` when it wrote none (yet). */
export function writtenFile(tool: ToolItem): string | null {
  if (!FILE_WRITERS.includes(tool.name) || tool.status !== 'done') return null;
  return field(tool.input, 'file_path') || null;
}

/** A folder's own name (`folder` for a root, as the host names it). */
function ownName(folder: string): string {
  return /[^/\\]+(?=[/\\]*$)/.exec(folder)?.[0] ?? 'folder';
}

/** The names the guest sees the folders under, made unique as the host does (`Notes`, `Notes-2`). */
function guestNames(folders: readonly string[]): string[] {
  const names: string[] = [];
  for (const folder of folders) {
    const base = ownName(folder);
    let name = base;
    for (let n = 2; names.includes(name); n += 1) name = `${base}-${n}`;
    names.push(name);
  }
  return names;
}

const GUEST_PATH = /^\/sessions\/[^/]+\/mnt\/([^/]+)(\/.*)?$/;

/**
 * A path the agent gave, as the host knows it: the guest sees the session's folders at
 * `/sessions/<id>/mnt/<name>` (the host's `FolderMap`). Other paths (host paths, paths relative to
 * the first folder) go to the host as they are; it checks every path anyway.
 */
export function hostPath(path: string, folders: readonly string[]): string {
  const match = GUEST_PATH.exec(path);
  const folder = match?.[1] === undefined ? undefined : folders[guestNames(folders).indexOf(match[1])];
  if (!match || folder === undefined) return path;
  return `${folder.replace(/[/\\]+$/, '')}${match[2] ?? ''}`;
}

/** Markdown files are shown rendered, like the agent's own words. */
export function isMarkdownName(name: string): boolean {
  return /\.(md|markdown|mdown|mkd)$/i.test(name);
}

/** Only images go into an <img>: anything else the host sent is not shown. */
export function isImageDataUrl(url: string): boolean {
  return /^data:image\/[a-z0-9.+-]+;base64,/i.test(url);
}

/** A document's part as drawn: consecutive list items make one list. */
export type DocPart = Exclude<DocBlock, { type: 'list_item' }> | { type: 'list'; items: string[] };

export function groupListItems(blocks: readonly DocBlock[]): DocPart[] {
  const parts: DocPart[] = [];
  for (const block of blocks) {
    const last = parts[parts.length - 1];
    if (block.type !== 'list_item') parts.push(block);
    else if (last?.type === 'list') last.items.push(block.text);
    else parts.push({ type: 'list', items: [block.text] });
  }
  return parts;
}

/** The heading element for a document heading: h2 to h4 (the dialog's title is the h1). */
export function headingTag(level: number): 'h2' | 'h3' | 'h4' {
  return level <= 1 ? 'h2' : level === 2 ? 'h3' : 'h4';
}

/** Rows padded to the widest one, so a ragged sheet still draws as a grid. */
export function squareRows(rows: readonly string[][]): string[][] {
  const width = Math.max(0, ...rows.map((row) => row.length));
  return rows.map((row) => (row.length === width ? row : [...row, ...Array<string>(width - row.length).fill('')]));
}
