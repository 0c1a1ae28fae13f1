import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import type { Change, FrameRecord } from '../src/backend/types';
import { CHANGES_PREVIEW_ROWS } from '../src/components/ChangesCard';
import { ChatView } from '../src/components/ChatView';
import { BackendContext } from '../src/components/context';
import { Settings } from '../src/components/Settings';
import { SessionController } from '../src/model/controller';
import { immediately } from '../src/model/store';

const TAXES = '/home/ann/Taxes 2026';
const RUNNING = { state: 'running', accel: 'kvm', boot_ms: 900 } as const;

/** A stored session whose turns changed these files, one list per turn. */
function sessionWithTurns(backend: MockBackend, turns: Change[][]) {
  const bodies = turns.flatMap((changes, index): [FrameRecord['direction'], Record<string, unknown>][] => [
    ['in', f.userMessage(`turn ${index + 1}`)],
    ['out', f.assistant(`m${index}`, f.textBlock(`Did ${index + 1}.`))],
    ['out', f.result()],
    ['host', f.changesRecord([f.folderChanges(TAXES, changes)])],
  ]);
  const { id } = backend.addSession([TAXES], { title: 'Taxes' }, bodies.map(([direction, body], index) => ({ seq: index + 1, direction, body, at_ms: 0 })));
  backend.setLive(id, { vm: RUNNING });
  return id;
}

async function openChat(backend: MockBackend, id: string) {
  const controller = new SessionController(id, backend, {}, immediately);
  await controller.open();
  render(
    <BackendContext.Provider value={backend}>
      <ChatView controller={controller} />
    </BackendContext.Provider>,
  );
  return controller;
}

/** An element by the hooks the end-to-end tests use too. */
function hooked(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
}

const card = (turn: number) => hooked(`[data-testid="changes-card"][data-turn="${turn}"]`);
const rowOf = (path: string) => hooked(`[data-testid="change-row"][data-path="${path}"]`);

describe('the changed files card', () => {
  it('lists what the turn changed, with a badge for each kind and folders de-emphasised', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [
      [f.modified('summary.md'), f.added('receipts', 'dir'), f.added('receipts/mar.csv'), f.deleted('old.txt'), f.renamed('a.md', 'b.md'), f.metadata('run.sh')],
    ]);
    await openChat(backend, id);
    const changes = screen.getByRole('region', { name: 'Changed 5 files and 1 folder in Taxes 2026' });
    expect(changes.dataset.turn).toBe('1');
    const rows = within(changes).getAllByTestId('change-row');
    expect(rows.map((row) => [row.dataset.path, row.querySelector('.change-path')?.textContent, row.querySelector('.change-badge')?.textContent])).toEqual([
      ['summary.md', 'summary.md', 'modified'],
      ['receipts', 'receipts/', 'added'],
      ['receipts/mar.csv', 'receipts/mar.csv', 'added'],
      ['old.txt', 'old.txt', 'deleted'],
      ['b.md', 'a.md → b.md', 'renamed'],
      ['run.sh', 'run.sh', 'permissions or time only'],
    ]);
    expect(rowOf('receipts').classList.contains('is-dir')).toBe(true);
    // Only files whose content changed open a diff.
    expect(rows.map((row) => row.querySelector('.change-toggle') !== null)).toEqual([true, false, true, true, false, false]);
  });

  it('shows no card for a turn that changed nothing', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[]]);
    await openChat(backend, id);
    expect(screen.queryByTestId('changes-card')).toBeNull();
  });

  it('fetches a diff only when its row is opened, once, and shows it as a diff', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[f.modified('summary.md'), f.added('photo.jpg'), f.added('notes.txt')]]);
    backend.setDiff(1, TAXES, 'summary.md', '--- a/summary.md\n+++ b/summary.md\n@@ -4,1 +4,1 @@\n-1,730.00 EUR\n+1,843.20 EUR\n');
    backend.setDiff(1, TAXES, 'notes.txt', 'not a diff');
    await openChat(backend, id);
    expect(backend.calls.some((c) => c.method === 'changeDiff')).toBe(false);

    const toggle = within(rowOf('summary.md')).getByRole('button', { name: /summary\.md/ });
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    await waitFor(() => expect(rowOf('summary.md').querySelector('.diff-add')?.textContent).toContain('1,843.20 EUR'));
    expect(backend.calls.filter((c) => c.method === 'changeDiff').map((c) => c.args)).toEqual([[id, 1, TAXES, 'summary.md']]);
    fireEvent.click(toggle);
    expect(rowOf('summary.md').querySelector('.diff')).toBeNull();
    fireEvent.click(toggle);
    expect(rowOf('summary.md').querySelector('.diff')).not.toBeNull();
    expect(backend.calls.filter((c) => c.method === 'changeDiff')).toHaveLength(1);

    fireEvent.click(within(rowOf('photo.jpg')).getByRole('button', { name: /photo\.jpg/ }));
    expect(await within(rowOf('photo.jpg')).findByText('No preview (binary or large file)')).toBeTruthy();
    fireEvent.click(within(rowOf('notes.txt')).getByRole('button', { name: /notes\.txt/ }));
    expect((await within(rowOf('notes.txt')).findByText('not a diff')).tagName).toBe('PRE');
  });

  it('collapses long lists and shows them all on request', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [Array.from({ length: 250 }, (_, i) => f.added(`build/file-${i}.o`))]);
    await openChat(backend, id);
    expect(screen.getAllByTestId('change-row')).toHaveLength(CHANGES_PREVIEW_ROWS);
    fireEvent.click(screen.getByRole('button', { name: 'Show all 250' }));
    expect(screen.getAllByTestId('change-row')).toHaveLength(250);
  });
});

describe('undo and redo from the card', () => {
  it('undoes a turn and the later ones, then redoes it', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[f.modified('a.md')], [f.modified('b.md')]]);
    await openChat(backend, id);
    const undoFirst = within(card(1)).getByTestId('undo-turn');
    expect(undoFirst.tagName).toBe('BUTTON');
    expect(undoFirst.title).toBe('Put the files back as they were before this turn. The later turn that changed files is undone too.');
    fireEvent.click(undoFirst);
    await waitFor(() => expect(within(card(1)).getByTestId('turn-undone')).toBeTruthy());
    expect(within(card(2)).getByTestId('turn-undone')).toBeTruthy();
    expect(backend.calls.find((c) => c.method === 'undoTurn')?.args).toEqual([id, 1, 'ask']);
    // Redo is offered on the card that was undone, not on the later ones it took along.
    expect(within(card(2)).queryByTestId('redo-turn')).toBeNull();
    fireEvent.click(within(card(1)).getByTestId('redo-turn'));
    await waitFor(() => expect(screen.queryByTestId('turn-undone')).toBeNull());
    expect(backend.calls.find((c) => c.method === 'redoTurn')?.args).toEqual([id, 'ask']);
    expect(screen.getAllByTestId('undo-turn')).toHaveLength(2);
  });

  it('asks about files the person changed since, and keeps them when told to', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[f.modified('notes.md'), f.added('draft.md')]]);
    const notes = f.entry('notes.md');
    backend.conflicts = [{ folder: TAXES, conflicts: [{ path: 'notes.md', expected: notes, found: { ...notes, s: 99 }, wanted: notes }] }];
    await openChat(backend, id);
    fireEvent.click(within(card(1)).getByTestId('undo-turn'));
    const dialog = await screen.findByRole('dialog', { name: 'Undo would overwrite your changes' });
    expect(dialog.dataset.testid).toBe('undo-conflicts');
    expect(within(dialog).getByText('You changed notes.md after the agent did')).toBeTruthy();
    expect(within(card(1)).queryByTestId('turn-undone')).toBeNull();

    fireEvent.click(within(dialog).getByTestId('conflict-keep'));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(backend.calls.filter((c) => c.method === 'undoTurn').map((c) => c.args[2])).toEqual(['ask', 'keep']);
    expect(within(card(1)).getByTestId('turn-undone')).toBeTruthy();
    expect(within(card(1)).getByText('Kept your version of notes.md.')).toBeTruthy();
  });

  it('cancels the conflict question with Escape, changing nothing', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[f.modified('notes.md')]]);
    backend.conflicts = [{ folder: TAXES, conflicts: [{ path: 'notes.md', expected: f.entry('notes.md'), found: null, wanted: null }] }];
    await openChat(backend, id);
    fireEvent.click(within(card(1)).getByTestId('undo-turn'));
    const dialog = await screen.findByRole('dialog');
    await waitFor(() => expect(document.activeElement).toBe(dialog));
    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(backend.calls.filter((c) => c.method === 'undoTurn')).toHaveLength(1);
    expect(within(card(1)).queryByTestId('turn-undone')).toBeNull();
  });

  it('overwrites on request, and redo asks the same way', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[f.modified('notes.md')]]);
    await openChat(backend, id);
    fireEvent.click(within(card(1)).getByTestId('undo-turn'));
    await waitFor(() => expect(within(card(1)).getByTestId('turn-undone')).toBeTruthy());
    backend.conflicts = [{ folder: TAXES, conflicts: [{ path: 'notes.md', expected: null, found: f.entry('notes.md'), wanted: f.entry('notes.md') }] }];
    fireEvent.click(within(card(1)).getByTestId('redo-turn'));
    const dialog = await screen.findByRole('dialog', { name: 'Redo would overwrite your changes' });
    fireEvent.click(within(dialog).getByTestId('conflict-overwrite'));
    await waitFor(() => expect(screen.queryByTestId('turn-undone')).toBeNull());
    expect(backend.calls.filter((c) => c.method === 'redoTurn').map((c) => c.args)).toEqual([
      [id, 'ask'],
      [id, 'overwrite'],
    ]);
  });

  it('waits while the agent works, and shows a refusal next to the card', async () => {
    const backend = new MockBackend();
    const id = sessionWithTurns(backend, [[f.modified('notes.md')]]);
    const controller = await openChat(backend, id);
    await controller.send('more');
    const undo = within(card(1)).getByTestId('undo-turn') as HTMLButtonElement;
    await waitFor(() => expect(undo.disabled).toBe(true));
    expect(undo.title).toBe('Undo is possible once the agent has finished.');
    backend.emit(id, f.frame(f.result()));
    await waitFor(() => expect(undo.disabled).toBe(false));
    backend.failNext('undoTurn', { code: 'busy', message: 'The agent is working; undo when it is done.' });
    fireEvent.click(undo);
    expect((await within(card(1)).findByRole('alert')).textContent).toBe('The agent is working; undo when it is done.');
  });
});

describe('the undo size cap', () => {
  const OVER = { cap_bytes: 2 * 1024 ** 3, folders: [{ folder: '/home/ana/Videos', bytes: 9 * 1024 ** 3 }] };

  async function sendOverCap(backend: MockBackend) {
    const { id } = backend.addSession(['/home/ana/Videos'], { title: 'Videos' });
    backend.overCap = OVER;
    await openChat(backend, id);
    const box = screen.getByLabelText('Message to the agent') as HTMLTextAreaElement;
    fireEvent.input(box, { target: { value: 'cut the holiday video' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    return { id, box, dialog: await screen.findByRole('dialog', { name: 'Send without undo?' }) };
  }

  it('asks, then sends the message again without undo', async () => {
    const backend = new MockBackend();
    const { id, dialog } = await sendOverCap(backend);
    expect(dialog.dataset.testid).toBe('undo-over-cap');
    expect(within(dialog).getByText('Undo needs a checkpoint of Videos that would copy 9.0 GB, more than the 2.0 GB limit set in Settings.')).toBeTruthy();
    // Not sent: it is not in the conversation.
    expect(screen.queryByText('cut the holiday video', { selector: '.user-text' })).toBeNull();
    fireEvent.click(within(dialog).getByTestId('send-without-undo'));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(backend.calls.filter((c) => c.method === 'send').map((c) => c.args)).toEqual([
      [id, 'cut the holiday video'],
      [id, 'cut the holiday video', { withoutUndo: true }],
    ]);
    expect(screen.getByText('cut the holiday video', { selector: '.user-text' })).toBeTruthy();
  });

  it('puts the message back in the composer on Cancel or Escape', async () => {
    const backend = new MockBackend();
    const { box, dialog } = await sendOverCap(backend);
    fireEvent.click(within(dialog).getByTestId('cap-cancel'));
    await waitFor(() => expect(box.value).toBe('cut the holiday video'));
    expect(screen.queryByRole('dialog')).toBeNull();

    fireEvent.keyDown(box, { key: 'Enter' });
    fireEvent.keyDown(await screen.findByRole('dialog'), { key: 'Escape' });
    await waitFor(() => expect(box.value).toBe('cut the holiday video'));
    expect(backend.calls.filter((c) => c.method === 'send')).toHaveLength(2);
  });
});

describe('undo settings', () => {
  it('shows and saves how long undo is kept, the size cap and .git, and what checkpoints take', async () => {
    const backend = new MockBackend();
    render(
      <BackendContext.Provider value={backend}>
        <Settings onClose={() => undefined} />
      </BackendContext.Provider>,
    );
    const group = await screen.findByRole('region', { name: 'Undo' });
    const turns = within(group).getByLabelText('Turns kept for undo, per session') as HTMLInputElement;
    const days = within(group).getByLabelText('Days kept for undo') as HTMLInputElement;
    const size = within(group).getByLabelText(/Largest checkpoint/) as HTMLInputElement;
    const git = within(group).getByLabelText('Leave .git folders out of checkpoints') as HTMLInputElement;
    expect([turns.value, days.value, size.value, git.checked]).toEqual(['50', '30', '1024', false]);
    expect(screen.getByText(/of which undo checkpoints take 150 MB/)).toBeTruthy();

    fireEvent.input(turns, { target: { value: '20' } });
    fireEvent.input(days, { target: { value: '7' } });
    fireEvent.input(size, { target: { value: '0' } });
    fireEvent.click(git);
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(backend.calls.some((c) => c.method === 'setSettings')).toBe(true));
    expect(backend.settings).toMatchObject({ checkpoint_keep_turns: 20, checkpoint_max_days: 7, checkpoint_max_mb: 0, checkpoint_skip_git: true });
  });
});
