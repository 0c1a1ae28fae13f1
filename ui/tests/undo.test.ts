import { describe, expect, it } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import type { FolderChanges, FrameRecord } from '../src/backend/types';
import { changesHeadline, conflictText, displayPath, keptText, overCapText, readFolderChanges } from '../src/model/changes';
import { SessionController } from '../src/model/controller';
import { diffFromUnified } from '../src/model/diff';
import { reduce } from '../src/model/reducer';
import { viewFromSnapshot } from '../src/model/replay';
import { immediately } from '../src/model/store';
import { laterChangedTurns } from '../src/model/undo';
import { emptyView, isBusy, type SessionView } from '../src/model/view';
import { apply, kinds, live, only } from './helpers';

const TAXES = '/home/ann/Taxes 2026';

/** Folds stored records into a fresh view, as opening a session does. */
function stored(bodies: [FrameRecord['direction'], Record<string, unknown>][], start: SessionView = emptyView()): SessionView {
  return bodies.reduce<SessionView>((view, [direction, body], index) => reduce(view, { type: 'stored', record: { seq: index + 1, direction, body, at_ms: 0 } }), start);
}

const changesIn = (folder: string, ...changes: Parameters<typeof f.folderChanges>[1]): FolderChanges[] => [f.folderChanges(folder, changes)];

/** Three turns, each editing one file, stored as the host stores them (the record right after the result). */
function threeTurns(): [FrameRecord['direction'], Record<string, unknown>][] {
  return [1, 2, 3].flatMap((n): [FrameRecord['direction'], Record<string, unknown>][] => [
    ['in', f.userMessage(`edit ${n}`)],
    ['out', f.assistant(`m${n}`, f.toolUseBlock(`t${n}`, 'Edit', { file_path: `/sessions/s/mnt/Taxes 2026/${n}.md` }))],
    ['out', f.toolResult(`t${n}`, 'ok')],
    ['out', f.result()],
    ['host', f.changesRecord(changesIn(TAXES, f.modified(`${n}.md`)))],
  ]);
}

const cards = (view: SessionView) => only(view, 'changes');
const undone = (view: SessionView) => cards(view).filter((c) => c.undone).map((c) => c.turn);

describe('changed files in the conversation', () => {
  it('numbers the turns that recorded changes 1, 2, ... in transcript order, each card after its footer', () => {
    const view = stored(threeTurns());
    expect(cards(view).map((c) => c.turn)).toEqual([1, 2, 3]);
    expect(kinds(view)).toEqual(['user', 'tool', 'turn_end', 'changes', 'user', 'tool', 'turn_end', 'changes', 'user', 'tool', 'turn_end', 'changes']);
    expect(view.undo.lastTurn).toBe(3);
  });

  it('puts a live card (sent just before the result) where a reload puts it, also before a queued message', () => {
    const changes = changesIn(TAXES, f.modified('a.md'));
    let liveView = apply(emptyView(), { type: 'sent', text: 'first' }, { type: 'sent', text: 'second' });
    liveView = live(
      [f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'touch a.md' }))), f.frame(f.changesRecord(changes)), f.frame(f.result())],
      liveView,
    );
    expect(kinds(liveView)).toEqual(['user', 'tool', 'turn_end', 'changes', 'user']);

    const reloaded = stored([
      ['in', f.userMessage('first')],
      ['in', f.userMessage('second')],
      ['out', f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'touch a.md' }))],
      ['out', f.result()],
      ['host', f.changesRecord(changes)],
    ]);
    expect(kinds(reloaded)).toEqual(kinds(liveView));
    expect(cards(reloaded)[0]?.folders).toEqual(cards(liveView)[0]?.folders);
  });

  it('keeps the changes of a turn whose VM died at the end of what the turn did', () => {
    const view = live(
      [
        f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'make' }))),
        f.frame(f.changesRecord(changesIn(TAXES, f.added('out.bin')))),
        { type: 'vm', state: 'stopped', reason: 'it stopped' },
      ],
      apply(emptyView(), { type: 'sent', text: 'build it' }),
    );
    expect(kinds(view)).toEqual(['user', 'tool', 'changes', 'notice']);
  });

  it('counts a record once when the transcript and the live feed both carry it', () => {
    const record = f.changesRecord(changesIn(TAXES, f.modified('a.md')));
    const view = live([f.frame(record)], stored([['out', f.result()], ['host', record]]));
    expect(cards(view)).toHaveLength(1);
  });

  it('marks turn N and every later one undone, and redo re-applies only the last undo', () => {
    let view = stored([...threeTurns(), ['host', f.undoRecord(3, [TAXES])]]);
    expect(undone(view)).toEqual([3]);
    view = stored([['host', f.undoRecord(2, [TAXES])]], view);
    expect(undone(view)).toEqual([2, 3]);
    expect(view.undo.redo?.turn).toBe(2);
    view = stored([['host', f.redoRecord(2, [TAXES])]], view);
    // Turn 3 was undone before the redone undo: it stays undone.
    expect(undone(view)).toEqual([3]);
    expect(view.undo.redo).toBeNull();
  });

  it('offers redo only while an undo is the last of the changes, undo and redo records', () => {
    let view = stored(threeTurns());
    expect(view.undo.redo).toBeNull();
    view = apply(view, { type: 'restored', record: 'undo', turn: 1 });
    expect(view.undo.redo?.turn).toBe(1);
    expect(undone(view)).toEqual([1, 2, 3]);
    view = stored([['in', f.userMessage('again')], ['out', f.result()], ['host', f.changesRecord(changesIn(TAXES, f.added('b.md')))]], view);
    expect(view.undo.redo).toBeNull();
    // The new turn is not undone; the old ones stay undone.
    expect(undone(view)).toEqual([1, 2, 3]);
    expect(cards(view).map((c) => c.turn)).toEqual([1, 2, 3, 4]);
    // Redo without an undo to redo changes nothing.
    expect(apply(view, { type: 'restored', record: 'redo', turn: 1 })).toBe(view);
  });

  it('gives the same state from the transcript after the page applied undo and redo itself', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession([TAXES], {}, threeTurns().map(([direction, body], index) => ({ seq: index + 1, direction, body, at_ms: 0 })));
    const controller = new SessionController(id, backend, {}, immediately);
    await controller.open();
    await controller.undo(2, 'ask');
    await controller.redo('ask');
    await controller.undo(3, 'ask');
    const page = controller.store.get();
    const reloaded = viewFromSnapshot((await backend.openSession(id, () => undefined)).snapshot);
    expect(undone(page)).toEqual([3]);
    expect(undone(reloaded)).toEqual(undone(page));
    expect(reloaded.undo).toEqual(page.undo);
    expect(backend.transcriptOf(id).slice(-3).map((r) => (r.body as { type: string }).type)).toEqual(['workroom_undo', 'workroom_redo', 'workroom_undo']);
  });

  it('counts the later turns an undo takes with it, leaving out undone and empty ones', () => {
    let view = stored([...threeTurns(), ['out', f.result()], ['host', f.changesRecord(changesIn(TAXES))]]);
    expect([...laterChangedTurns(view)].sort()).toEqual([[1, 2], [2, 1], [3, 0], [4, 0]]);
    view = apply(view, { type: 'restored', record: 'undo', turn: 3 });
    expect(laterChangedTurns(view).get(1)).toBe(1);
  });

  it('says quietly when a turn runs without undo', () => {
    const view = live([f.frame(f.noUndoRecord('the person chose to go on without undo'))]);
    expect(only(view, 'notice').map((n) => [n.tone, n.text])).toEqual([['quiet', 'This turn ran without undo: the person chose to go on without undo.']]);
    expect(kinds(stored([['host', f.noUndoRecord('the checkpoint task failed')]]))).toEqual(['notice']);
  });
});

describe('the undo size cap', () => {
  it('takes back the message the host did not send and holds it for the question', () => {
    let view = apply(emptyView(), { type: 'sent', text: 'cut the videos' });
    view = live([{ type: 'undo_over_cap', text: 'cut the videos', cap_bytes: 1024, folders: [{ folder: '/home/ann/Videos', bytes: 4096 }] }], view);
    expect(only(view, 'user')).toEqual([]);
    expect(isBusy(view)).toBe(false);
    expect(view.overCap).toEqual([{ text: 'cut the videos', capBytes: 1024, folders: [{ folder: '/home/ann/Videos', bytes: 4096 }] }]);
    expect(apply(view, { type: 'over_cap_answered' }).overCap).toEqual([]);
  });

  it('starts the next queued message when the held-back one was to run', () => {
    let view = apply(emptyView(), { type: 'sent', text: 'big' }, { type: 'sent', text: 'small' });
    view = live([{ type: 'undo_over_cap', text: 'big', cap_bytes: 1, folders: [] }], view);
    expect(only(view, 'user').map((u) => u.text)).toEqual(['small']);
    expect(view.queued).toEqual([]);
    expect(view.awaiting).toHaveLength(1);
  });
});

describe('words for changes', () => {
  it('reads records of unknown shape safely', () => {
    expect(readFolderChanges([{ folder: TAXES, before: 'a', after: 'b', changes: [{ type: 'added', after: { p: 'x', k: 'file' } }, { type: 'exploded' }, 7] }, 'junk'])).toEqual([
      { folder: TAXES, before: 'a', after: 'b', changes: [{ type: 'added', after: { p: 'x', k: 'file', m: 0, t: 0, s: 0, h: null, l: null } }] },
    ]);
  });

  it('titles a card by what changed and where', () => {
    expect(changesHeadline(changesIn(TAXES, f.modified('a'), f.added('b'), f.deleted('c')))).toBe('Changed 3 files in Taxes 2026');
    expect(changesHeadline(changesIn(TAXES, f.added('d', 'dir'), f.added('d/a')))).toBe('Changed 1 file and 1 folder in Taxes 2026');
    expect(
      changesHeadline([...changesIn(TAXES, f.modified('a')), ...changesIn('/home/ann/Letters', f.modified('b')), ...changesIn('/home/ann/Empty')]),
    ).toBe('Changed 2 files in Taxes 2026 and Letters');
  });

  it('says what the person did to a conflicting path, what was kept, and what the cap stops', () => {
    const e = f.entry('notes.md');
    expect(conflictText({ path: 'notes.md', expected: e, found: e, wanted: null })).toBe('You changed notes.md after the agent did');
    expect(conflictText({ path: 'notes.md', expected: e, found: null, wanted: null })).toBe('You deleted notes.md after the agent changed it');
    expect(keptText([{ folder: TAXES, restored: 3, kept: ['notes.md'] }])).toBe('Kept your version of notes.md.');
    expect(keptText([{ folder: TAXES, restored: 3, kept: [] }])).toBeNull();
    expect(overCapText(2 * 1024 ** 3, [{ folder: '/home/ana/Videos', bytes: 9 * 1024 ** 3 }])).toBe(
      'Undo needs a checkpoint of Videos that would copy 9.0 GB, more than the 2.0 GB limit set in Settings.',
    );
  });

  it('reads the host’s unified diffs', () => {
    expect(diffFromUnified('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\\ No newline at end of file\n')).toEqual([
      { kind: 'gap', text: 'Line 1' },
      { kind: 'ctx', text: 'a' },
      { kind: 'del', text: 'b' },
      { kind: 'add', text: 'B' },
      { kind: 'ctx', text: 'c' },
    ]);
    expect(diffFromUnified('--- a/f\n+++ b/f\n')).toEqual([]);
    expect(diffFromUnified('Binary files differ')).toBeNull();
  });
});

describe('displayPath', () => {
  it('shows bytes of names that are not UTF-8 as \\x escapes', () => {
    expect(displayPath('Fotos/caf\u0000e9.txt')).toBe('Fotos/caf\\xe9.txt');
    expect(displayPath('plain/naïve.txt')).toBe('plain/naïve.txt');
  });
});
