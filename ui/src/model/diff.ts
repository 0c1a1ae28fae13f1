/**
 * Line diffs for file changes, from whatever the agent or the host gave: an Edit's old and new
 * strings, a tool's `structuredPatch`, the host's `- old` / `+ new` prompt detail, or a new file.
 */
import { arr, num, obj, str } from './json';

export interface DiffLine {
  kind: 'add' | 'del' | 'ctx' | 'gap';
  text: string;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  // A trailing newline ends the last line; it does not start an empty one.
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of a new file, added. */
export function diffNewFile(content: string): DiffLine[] {
  return splitLines(content).map((text) => ({ kind: 'add', text }));
}

/**
 * An Edit's `old_string` → `new_string`: lines the two share at the start and the end are shown as
 * context, the rest as removed then added.
 */
export function diffStrings(oldText: string, newText: string): DiffLine[] {
  const before = splitLines(oldText);
  const after = splitLines(newText);
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head += 1;
  let tail = 0;
  while (
    tail < before.length - head &&
    tail < after.length - head &&
    before[before.length - 1 - tail] === after[after.length - 1 - tail]
  ) {
    tail += 1;
  }
  const context = (lines: string[]): DiffLine[] => lines.map((text) => ({ kind: 'ctx', text }));
  return [
    ...context(before.slice(0, head)),
    ...before.slice(head, before.length - tail).map((text): DiffLine => ({ kind: 'del', text })),
    ...after.slice(head, after.length - tail).map((text): DiffLine => ({ kind: 'add', text })),
    ...context(before.slice(before.length - tail)),
  ];
}

/** A tool's `structuredPatch` (hunks of ` `/`-`/`+` lines); `null` when there is none. */
export function diffFromPatch(patch: unknown): DiffLine[] | null {
  const hunks = arr(patch).map(obj);
  if (hunks.length === 0) return null;
  const lines: DiffLine[] = [];
  for (const hunk of hunks) {
    const start = num(hunk.newStart);
    if (start !== undefined) lines.push({ kind: 'gap', text: `Line ${start}` });
    for (const raw of arr(hunk.lines)) {
      const line = str(raw) ?? '';
      const mark = line.charAt(0);
      const text = line.slice(1);
      lines.push({ kind: mark === '+' ? 'add' : mark === '-' ? 'del' : 'ctx', text });
    }
  }
  return lines;
}

/** The host's prompt detail for an edit: `- old` and `+ new` lines (`broker.rs`). */
export function diffFromDetail(detail: string): DiffLine[] {
  return splitLines(detail).map((line): DiffLine => {
    if (line.startsWith('- ') || line === '-') return { kind: 'del', text: line.slice(2) };
    if (line.startsWith('+ ') || line === '+') return { kind: 'add', text: line.slice(2) };
    return { kind: 'ctx', text: line };
  });
}

/** "+3 −1". */
export function diffStat(lines: DiffLine[]): { added: number; removed: number } {
  return {
    added: lines.filter((line) => line.kind === 'add').length,
    removed: lines.filter((line) => line.kind === 'del').length,
  };
}

/**
 * A unified diff as the host writes it (`change_diff`: `---`/`+++` headers, `@@` hunks); `null`
 * when the text has no hunk to read, so the caller shows it as it is.
 */
export function diffFromUnified(text: string): DiffLine[] | null {
  const lines: DiffLine[] = [];
  let inHunk = false;
  for (const line of splitLines(text)) {
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      inHunk = true;
      lines.push({ kind: 'gap', text: `Line ${hunk[1] ?? '?'}` });
      continue;
    }
    // Headers before the first hunk, and the "\ No newline at end of file" notes.
    if (!inHunk || line.startsWith('\\')) continue;
    const mark = line.charAt(0);
    lines.push({ kind: mark === '+' ? 'add' : mark === '-' ? 'del' : 'ctx', text: line.slice(1) });
  }
  // Headers alone (or nothing): the contents are the same.
  const headersOnly = splitLines(text).every((line) => line.startsWith('--- ') || line.startsWith('+++ '));
  return inHunk || headersOnly ? lines : null;
}
