import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import type { FrameRecord, SessionEvent } from '../src/backend/types';
import { ChatView } from '../src/components/ChatView';
import { BackendContext } from '../src/components/context';
import { SessionController } from '../src/model/controller';
import { viewFromSnapshot } from '../src/model/replay';
import { immediately } from '../src/model/store';
import { emptyView, type ChatItem, type SessionView } from '../src/model/view';
import { apply, kinds, live, only } from './helpers';

const RUNNING = { state: 'running', accel: 'kvm', boot_ms: 900 } as const;
const COUNT = 'toolu_count';
const BANK = 'toolu_bank';
const ASK = 'Check the receipts against the bank statement';

/** A frame of the sub-agent started by `parent`. */
const sub = (parent: string, body: f.Frame): SessionEvent => f.frame(f.fromSubagent(parent, body));

/**
 * A turn with two sub-agents, as the agent streams it: the main agent starts both in one message,
 * then their frames (deltas included) interleave until each reports back.
 */
function parallelTurn(): SessionEvent[] {
  return [
    f.frame(f.init()),
    f.frame(f.messageStart('m1')),
    f.frame(f.blockStart(0, { type: 'text', text: '' })),
    f.frame(f.textDelta(0, "I'll check both at once.")),
    f.frame(f.assistant('m1', f.textBlock("I'll check both at once."))),
    f.frame(f.blockStop(0)),
    f.frame(f.blockStart(1, { type: 'tool_use', id: COUNT, name: 'Task', input: {} })),
    f.frame(f.assistant('m1', f.taskBlock(COUNT, 'Count receipts', 'Count the receipts in receipts/.', 'counter'))),
    f.frame(f.blockStop(1)),
    f.frame(f.blockStart(2, { type: 'tool_use', id: BANK, name: 'Task', input: {} })),
    f.frame(f.assistant('m1', f.taskBlock(BANK, 'Check the bank statement', 'Find the card payments in bank.csv.'))),
    f.frame(f.blockStop(2)),
    f.frame(f.messageStop()),
    // 13: both sub-agents start.
    f.frame(f.subagentPrompt(COUNT, 'Count the receipts in receipts/.')),
    f.frame(f.subagentPrompt(BANK, 'Find the card payments in bank.csv.')),
    sub(COUNT, f.messageStart('s1')),
    sub(COUNT, f.blockStart(0, { type: 'text', text: '' })),
    sub(BANK, f.messageStart('s2')),
    sub(BANK, f.blockStart(0, { type: 'text', text: '' })),
    sub(COUNT, f.textDelta(0, 'Listing the receipts.')),
    sub(BANK, f.textDelta(0, 'Reading the statement.')),
    sub(COUNT, f.assistant('s1', f.textBlock('Listing the receipts.'))),
    sub(BANK, f.assistant('s2', f.textBlock('Reading the statement.'))),
    sub(COUNT, f.blockStop(0)),
    sub(BANK, f.blockStop(0)),
    sub(COUNT, f.assistant('s1', f.toolUseBlock('c1', 'Glob', { pattern: 'receipts/*.csv' }))),
    sub(BANK, f.assistant('s2', f.toolUseBlock('b1', 'Bash', { command: 'grep CARD bank.csv', description: 'Find card payments' }))),
    // 27: both sub-agents wait for their tools.
    sub(COUNT, f.messageStop()),
    sub(BANK, f.messageStop()),
    sub(COUNT, f.toolResult('c1', 'receipts/jan.csv\nreceipts/feb.csv\nreceipts/mar.csv', { structured: { numFiles: 3, filenames: ['a', 'b', 'c'] } })),
    sub(BANK, f.toolResult('b1', '3 payments', { structured: { stdout: '3 payments\n', stderr: '' } })),
    sub(COUNT, f.assistant('s3', f.textBlock('COUNT: 3 receipts'))),
    sub(BANK, f.assistant('s4', f.textBlock('BANK: 3 card payments'))),
    f.frame(f.taskResult(COUNT, 'COUNT: 3 receipts', { toolUses: 1, durationMs: 12_000 })),
    f.frame(f.taskResult(BANK, 'BANK: 3 card payments', { toolUses: 1, durationMs: 9_400 })),
    f.frame(f.messageStart('m2')),
    f.frame(f.blockStart(0, { type: 'text', text: '' })),
    f.frame(f.textDelta(0, 'Every receipt matches a card payment.')),
    f.frame(f.assistant('m2', f.textBlock('Every receipt matches a card payment.'))),
    f.frame(f.blockStop(0)),
    f.frame(f.result({ totalCostUsd: 0.03 })),
  ];
}

/** Index of the event after which the bank sub-agent's `Bash` call waits for its permission. */
const BANK_ASKS_AFTER = 27;

const summary = (item: ChatItem) =>
  item.kind === 'tool' ? `${item.name} ${item.status}` : item.kind === 'text' ? item.text : item.kind;

function activityOf(view: SessionView, toolUseId: string): string[] {
  const task = only(view, 'tool').find((tool) => tool.toolUseId === toolUseId);
  return (task?.activity ?? []).map(summary);
}

async function openChat(backend: MockBackend, id: string) {
  const controller = new SessionController(id, backend, {}, immediately);
  await controller.open();
  const rendered = render(
    <BackendContext.Provider value={backend}>
      <ChatView controller={controller} />
    </BackendContext.Provider>,
  );
  return { controller, ...rendered };
}

function runningSession(backend: MockBackend) {
  const { id } = backend.addSession(['/home/ann/Taxes 2026']);
  backend.setLive(id, { vm: RUNNING });
  return id;
}

const cardOf = (name: RegExp) => screen.getByRole('article', { name });

describe('sub-agents in the model', () => {
  it('puts each sub-agent’s words and tool calls in its own call, none in the conversation', () => {
    const view = live(parallelTurn());
    expect(kinds(view)).toEqual(['text', 'tool', 'tool', 'text', 'turn_end']);
    expect(only(view, 'text').map((t) => t.text)).toEqual(["I'll check both at once.", 'Every receipt matches a card payment.']);
    expect(activityOf(view, COUNT)).toEqual(['Listing the receipts.', 'Glob done', 'COUNT: 3 receipts']);
    expect(activityOf(view, BANK)).toEqual(['Reading the statement.', 'Bash done', 'BANK: 3 card payments']);
    expect(only(view, 'tool').map((t) => [t.status, t.result?.text])).toEqual([
      ['done', 'COUNT: 3 receipts'],
      ['done', 'BANK: 3 card payments'],
    ]);
  });

  it('keeps the main agent’s stream to itself while sub-agents stream', () => {
    const mainDone = live(parallelTurn().slice(0, 13));
    const view = live(parallelTurn().slice(13, BANK_ASKS_AFTER), mainDone);
    // The sub-agents' deltas use block index 0, like the main message's text did.
    expect(only(view, 'text')).toEqual(only(mainDone, 'text'));
    expect(view.stream).toEqual(mainDone.stream);

    const streaming = live(
      [
        f.frame(f.messageStart('m2')),
        f.frame(f.blockStart(0, { type: 'text', text: '' })),
        f.frame(f.textDelta(0, 'Both are ')),
        sub(COUNT, f.messageStart('s9')),
        sub(COUNT, f.blockStart(0, { type: 'text', text: '' })),
        sub(COUNT, f.textDelta(0, 'SUB WORDS')),
        sub(COUNT, f.blockStart(1, { type: 'tool_use', id: 'c9', name: 'Read', input: {} })),
        sub(COUNT, f.blockStop(0)),
        sub(COUNT, f.messageStop(true)),
        f.frame(f.textDelta(0, 'still working.')),
      ],
      view,
    );
    expect(only(streaming, 'text').at(-1)).toMatchObject({ text: 'Both are still working.', streaming: true });
    expect(kinds(streaming)).toEqual([...kinds(view), 'text']);
    expect(JSON.stringify(streaming.items)).not.toContain('SUB WORDS');
  });

  it('replays a stored transcript to the same view, decisions on sub-agents’ calls included', () => {
    const events = parallelTurn();
    const prompt = f.bashPrompt('r1', 'b1', 'grep CARD bank.csv');
    let liveView = live(events.slice(0, BANK_ASKS_AFTER), apply(emptyView(), { type: 'sent', text: ASK }));
    liveView = live([f.permissionEvent(prompt)], liveView);
    liveView = apply(liveView, { type: 'answered', prompt, answer: { kind: 'allow_once' } });
    liveView = live(events.slice(BANK_ASKS_AFTER), liveView);

    const out = (event: SessionEvent): [FrameRecord['direction'], unknown] => ['out', event.type === 'frame' ? event.frame : null];
    const bodies: [FrameRecord['direction'], unknown][] = [
      ['in', f.userMessage(ASK)],
      ...events.slice(0, BANK_ASKS_AFTER).map(out),
      ['host', { type: 'workroom_permission', request_id: 'r1', tool_name: 'Bash', tool_use_id: 'b1', decision: 'allow_once', by: 'user' }],
      ...events.slice(BANK_ASKS_AFTER).map(out),
    ];
    // The host stores no deltas.
    const transcript: FrameRecord[] = bodies
      .filter(([, body]) => (body as { type: string }).type !== 'stream_event')
      .map(([direction, body], index) => ({ seq: index + 1, direction, body, at_ms: 1_000 }));
    const record = new MockBackend().addSession(['/home/ann/Taxes 2026']);
    const replayed = viewFromSnapshot({ record, transcript, pending: [], vm: null });

    expect(replayed.items).toEqual(liveView.items);
    const bank = only(replayed, 'tool')[1]?.activity?.find((item) => item.kind === 'tool');
    expect(bank).toMatchObject({ toolUseId: 'b1', decision: { allowed: true } });
  });

  it('puts the host’s own allowance of a sub-agent’s file change on that call', () => {
    const view = live([
      f.frame(f.assistant('m1', f.taskBlock(COUNT, 'Write summary', 'Write summary.txt.'))),
      sub(COUNT, f.assistant('s1', f.toolUseBlock('w1', 'Write', { file_path: '/sessions/s/mnt/Taxes/summary.txt', content: 's' }))),
      { type: 'auto_allowed', request_id: 'r9', reason: 'file edits allowed', summary: 'Write summary.txt' },
    ]);
    expect(kinds(view)).toEqual(['tool']);
    const write = only(view, 'tool')[0]?.activity?.[0];
    expect(write).toMatchObject({ toolUseId: 'w1', decision: { text: 'Allowed by Workroom (file edits allowed)', allowed: true } });
  });

  it('marks what a sub-agent left running as not finished when the turn is stopped', () => {
    const view = live([...parallelTurn().slice(0, BANK_ASKS_AFTER), f.frame(f.interruptMarker()), f.frame(f.interruptedResult())]);
    const tasks = only(view, 'tool');
    expect(tasks.map((t) => t.status)).toEqual(['interrupted', 'interrupted']);
    expect(activityOf(view, BANK)).toEqual(['Reading the statement.', 'Bash interrupted']);
  });
});

describe('sub-agent cards', () => {
  it('shows each sub-agent in its own card while they run, and reports when done', async () => {
    const backend = new MockBackend();
    const id = runningSession(backend);
    const { container } = await openChat(backend, id);
    for (const event of parallelTurn().slice(0, BANK_ASKS_AFTER)) backend.emit(id, event);

    await waitFor(() => expect(screen.getAllByTestId('subagent-card')).toHaveLength(2));
    const count = cardOf(/^Sub-agent Count receipts \(counter\)/);
    const bank = cardOf(/^Sub-agent Check the bank statement/);
    expect(count.dataset.status).toBe('running');
    expect((count.querySelector('details') as HTMLDetailsElement).open).toBe(true);
    expect(count.querySelector('.tool-title')?.textContent).toBe('Sub-agent: Count receipts (counter)');
    expect(count.querySelector('.subagent-step')?.textContent).toBe('Find files matching receipts/*.csv');
    expect(within(count).getByText('Listing the receipts.')).toBeTruthy();
    expect(within(count).queryByText('Reading the statement.')).toBeNull();
    expect(within(bank).getByText('Reading the statement.')).toBeTruthy();
    expect(within(bank).getByLabelText('Command').textContent).toContain('grep CARD bank.csv');

    for (const event of parallelTurn().slice(BANK_ASKS_AFTER)) backend.emit(id, event);
    await waitFor(() => expect(count.dataset.status).toBe('done'));
    expect(bank.dataset.status).toBe('done');
    expect((count.querySelector('details') as HTMLDetailsElement).open).toBe(false);
    expect(count.querySelector('.subagent-step')?.textContent).toBe('1 tool call · 12.0 s');
    expect(within(count).getByLabelText('Its report').textContent).toContain('COUNT: 3 receipts');
    // Its last words are its report: shown once.
    expect(within(count).getAllByText('COUNT: 3 receipts')).toHaveLength(1);
    expect(within(count).queryByText(/BANK/)).toBeNull();

    // The conversation itself has the main agent's words only.
    const conversation = [...container.querySelectorAll('.chat-items > .assistant-message')].map((m) => m.textContent?.trim());
    expect(conversation).toEqual(["I'll check both at once.", 'Every receipt matches a card payment.']);
  });

  it('says a sub-agent failed, with its reason', async () => {
    const backend = new MockBackend();
    const id = runningSession(backend);
    await openChat(backend, id);
    backend.emit(id, f.frame(f.assistant('m1', f.taskBlock(COUNT, 'Count receipts', 'Count them.'))));
    backend.emit(id, f.frame(f.toolResult(COUNT, 'The sub-agent was interrupted by the user.', { isError: true })));
    const card = await screen.findByTestId('subagent-card');
    expect(card.dataset.status).toBe('failed');
    expect(card.querySelector('.tool-title')?.textContent).toBe('Sub-agent: Count receipts');
    expect(card.querySelector('.subagent-step')?.textContent).toBe('The sub-agent was interrupted by the user.');
  });

  it('labels a sub-agent’s permission question with its task, and shows the answer on its call', async () => {
    const backend = new MockBackend();
    const id = runningSession(backend);
    await openChat(backend, id);
    for (const event of parallelTurn().slice(0, BANK_ASKS_AFTER)) backend.emit(id, event);
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 'b1', 'grep CARD bank.csv')));

    const prompt = await screen.findByTestId('permission-card');
    expect(within(prompt).getByTestId('prompt-from').textContent).toBe('From sub-agent: Check the bank statement');
    const bank = cardOf(/^Sub-agent Check the bank statement: waiting for your answer/);
    expect(within(bank).getByRole('article', { name: 'Bash: waiting for your answer' })).toBeTruthy();
    expect(cardOf(/^Sub-agent Count receipts/).getAttribute('aria-label')).toMatch(/running$/);

    fireEvent.keyDown(prompt, { key: 'y' });
    await waitFor(() => expect(screen.queryByTestId('permission-card')).toBeNull());
    expect(within(bank).getByText('Allowed once by you')).toBeTruthy();
  });

  it('leaves the main agent’s own questions unlabelled', async () => {
    const backend = new MockBackend();
    const id = runningSession(backend);
    await openChat(backend, id);
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'ls' }))));
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 't1', 'ls')));
    const prompt = await screen.findByTestId('permission-card');
    expect(within(prompt).queryByTestId('prompt-from')).toBeNull();
  });

  it('shows no sub-agent text in the main message while they stream', async () => {
    const backend = new MockBackend();
    const id = runningSession(backend);
    const { container } = await openChat(backend, id);
    for (const event of parallelTurn().slice(0, 21)) backend.emit(id, event);
    await waitFor(() => expect(screen.getAllByTestId('subagent-card')).toHaveLength(2));
    const messages = [...container.querySelectorAll('.chat-items > .assistant-message')];
    expect(messages.map((m) => m.textContent?.trim())).toEqual(["I'll check both at once."]);
    expect(container.querySelector('.stream-cursor')).toBeNull();
  });
});
