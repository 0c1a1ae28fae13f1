import { describe, expect, it } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import { SessionController } from '../src/model/controller';
import { viewFromSnapshot } from '../src/model/replay';
import { immediately } from '../src/model/store';
import { emptyView, isBusy } from '../src/model/view';
import { apply, kinds, live, only } from './helpers';

/** A turn exactly as the agent streams it: text deltas, a tool call, its result, more text, the result. */
function streamedTurn(): Parameters<typeof live>[0] {
  return [
    f.frame(f.init()),
    f.frame(f.messageStart('m1')),
    f.frame(f.blockStart(0, { type: 'text', text: '' })),
    f.frame(f.textDelta(0, 'I will ')),
    f.frame(f.textDelta(0, 'list the ')),
    f.frame(f.textDelta(0, 'files.')),
    f.frame(f.assistant('m1', f.textBlock('I will list the files.'))),
    f.frame(f.blockStop(0)),
    f.frame(f.blockStart(1, { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {} })),
    f.frame(f.inputDelta(1, '{"command": "ls')),
    f.frame(f.inputDelta(1, ' -la"}')),
    f.frame(f.assistant('m1', f.toolUseBlock('toolu_1', 'Bash', { command: 'ls -la' }))),
    f.frame(f.blockStop(1)),
    f.frame(f.messageStop()),
    f.frame(f.toolResult('toolu_1', 'a.txt\nb.txt', { structured: { stdout: 'a.txt\nb.txt\n', stderr: '', interrupted: false } })),
    f.frame(f.messageStart('m2')),
    f.frame(f.blockStart(0, { type: 'text', text: '' })),
    f.frame(f.textDelta(0, 'Two files.')),
    f.frame(f.assistant('m2', f.textBlock('Two files.'))),
    f.frame(f.blockStop(0)),
    f.frame(f.result({ inputTokens: 1000, cacheRead: 500, outputTokens: 120, totalCostUsd: 0.05, durationMs: 3200 })),
  ];
}

describe('stream renderer', () => {
  it('accumulates text deltas into one message while it streams', () => {
    const view = live([
      f.frame(f.messageStart('m1')),
      f.frame(f.blockStart(0, { type: 'text', text: '' })),
      f.frame(f.textDelta(0, 'Hel')),
      f.frame(f.textDelta(0, 'lo, ')),
      f.frame(f.textDelta(0, 'world')),
    ]);
    const texts = only(view, 'text');
    expect(texts).toHaveLength(1);
    expect(texts[0]).toMatchObject({ text: 'Hello, world', streaming: true });
  });

  it('replaces streamed text with the complete block instead of adding it twice', () => {
    const view = live(streamedTurn());
    expect(kinds(view)).toEqual(['text', 'tool', 'text', 'turn_end']);
    expect(only(view, 'text').map((t) => [t.text, t.streaming])).toEqual([
      ['I will list the files.', false],
      ['Two files.', false],
    ]);
  });

  it('makes one item per assistant frame (one block each) when nothing streamed', () => {
    const view = live([
      f.frame(f.assistant('m1', f.thinkingBlock('Which files?'))),
      f.frame(f.assistant('m1', f.textBlock('Looking.'))),
      f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Read', { file_path: '/sessions/s/mnt/Taxes/a.txt' }))),
      f.frame(f.assistant('m1', f.toolUseBlock('t2', 'Glob', { pattern: '*.csv' }))),
    ]);
    expect(kinds(view)).toEqual(['thinking', 'text', 'tool', 'tool']);
  });

  it('pairs each tool result with its call, whatever the order', () => {
    const view = live([
      f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'sleep 1; echo one' }))),
      f.frame(f.assistant('m1', f.toolUseBlock('t2', 'Bash', { command: 'echo two' }))),
      f.frame(f.toolResult('t2', 'two')),
      f.frame(f.toolResult('t1', 'boom', { isError: true })),
    ]);
    const [first, second] = only(view, 'tool');
    expect(first).toMatchObject({ toolUseId: 't1', status: 'failed', result: { text: 'boom', isError: true } });
    expect(second).toMatchObject({ toolUseId: 't2', status: 'done', result: { text: 'two', isError: false } });
  });

  it('shows a tool call while its input streams, then completes it', () => {
    const during = live(streamedTurn().slice(0, 11));
    expect(only(during, 'tool')[0]).toMatchObject({ status: 'preparing', partialInput: '{"command": "ls -la"}' });
    const after = live(streamedTurn().slice(0, 12));
    expect(only(after, 'tool')[0]).toMatchObject({ status: 'running', input: { command: 'ls -la' }, partialInput: '' });
  });

  it('keeps thinking as its own (collapsed) item, streamed like text', () => {
    const view = live([
      f.frame(f.messageStart('m1')),
      f.frame(f.blockStart(0, { type: 'thinking', thinking: '' })),
      f.frame(f.thinkingDelta(0, 'Let me ')),
      f.frame(f.thinkingDelta(0, 'think.')),
      f.frame(f.assistant('m1', f.thinkingBlock('Let me think.'))),
      f.frame(f.blockStop(0)),
    ]);
    expect(only(view, 'thinking')).toEqual([expect.objectContaining({ text: 'Let me think.', streaming: false })]);
  });

  it('ends a turn with a footer of tokens (cache reads included) and the cost of this turn only', () => {
    const view = live([
      ...streamedTurn(),
      f.frame(f.assistant('m3', f.textBlock('Again.'))),
      f.frame(f.result({ inputTokens: 10, outputTokens: 5, totalCostUsd: 0.08, durationMs: 900 })),
    ]);
    const footers = only(view, 'turn_end').map((t) => t.summary);
    expect(footers[0]).toMatchObject({ inputTokens: 1500, outputTokens: 120, durationMs: 3200, outcome: 'done' });
    expect(footers[0]?.costUsd).toBeCloseTo(0.05);
    // `total_cost_usd` is cumulative over the agent process.
    expect(footers[1]?.costUsd).toBeCloseTo(0.03);
  });

  it('counts cost from zero again after the VM (and so the agent) restarts', () => {
    const view = live([
      f.frame(f.result({ totalCostUsd: 0.05 })),
      { type: 'vm', state: 'running', accel: 'kvm', boot_ms: 900 },
      f.frame(f.result({ totalCostUsd: 0.01 })),
    ]);
    expect(only(view, 'turn_end')[1]?.summary.costUsd).toBeCloseTo(0.01);
  });

  it('says in words that the model service is retrying, once, updated in place', () => {
    const view = live([f.frame(f.apiRetry(1)), f.frame(f.apiRetry(2))]);
    const notices = only(view, 'notice');
    expect(notices).toHaveLength(1);
    expect(notices[0]?.text).toBe('The model service answered 529 overloaded; trying again in 600 ms (attempt 2 of 10).');
  });

  it('marks an interrupted turn as stopped and leaves no half-finished items', () => {
    const view = live([
      f.frame(f.messageStart('m1')),
      f.frame(f.blockStart(0, { type: 'text', text: '' })),
      f.frame(f.textDelta(0, 'Working on')),
      f.frame(f.blockStart(1, { type: 'tool_use', id: 't1', name: 'Write', input: {} })),
      f.frame(f.messageStop(true)),
      f.frame(f.interruptMarker()),
      f.frame(f.interruptedResult()),
    ]);
    expect(kinds(view)).toEqual(['text', 'tool', 'turn_end']);
    expect(only(view, 'text')[0]?.streaming).toBe(false);
    expect(only(view, 'tool')[0]?.status).toBe('interrupted');
    expect(only(view, 'turn_end')[0]?.summary.outcome).toBe('interrupted');
  });

  it('shows an API error once, not again in the footer', () => {
    const message = 'API Error: 400 fake invalid_request_error';
    const view = live([
      f.frame(f.assistant('m1', f.textBlock(message), { is_api_error_message: true, error: 'invalid_request' })),
      f.frame(f.result({ isError: true, result: message, terminalReason: 'api_error' })),
    ]);
    expect(only(view, 'notice').map((n) => n.text)).toEqual([message]);
    expect(only(view, 'turn_end')[0]?.summary).toMatchObject({ outcome: 'error', errorText: null });
  });

  it('follows the plan from TodoWrite', () => {
    const todos = [
      { content: 'Read receipts', status: 'completed', activeForm: 'Reading receipts' },
      { content: 'Fix total', status: 'in_progress', activeForm: 'Fixing total' },
    ];
    const view = live([f.frame(f.assistant('m1', f.toolUseBlock('t1', 'TodoWrite', { todos })))]);
    expect(view.todos.map((t) => t.status)).toEqual(['completed', 'in_progress']);
  });
});

describe('messages and turns', () => {
  it('queues messages typed while the agent works and starts each after the previous turn', () => {
    let view = apply(emptyView(), { type: 'sent', text: 'first' }, { type: 'sent', text: 'second' });
    expect(only(view, 'user').map((u) => u.text)).toEqual(['first']);
    expect(view.queued.map((q) => q.text)).toEqual(['second']);
    expect(isBusy(view)).toBe(true);
    view = live([f.frame(f.assistant('m1', f.textBlock('One.'))), f.frame(f.result())], view);
    expect(view.queued).toEqual([]);
    expect(kinds(view)).toEqual(['user', 'text', 'turn_end', 'user']);
    view = live([f.frame(f.result())], view);
    expect(isBusy(view)).toBe(false);
  });

  it('marks messages as not delivered when the VM fails to boot for them', () => {
    let view = apply(emptyView(), { type: 'sent', text: 'hello' });
    view = live([{ type: 'vm', state: 'booting', step: 'starting the virtual machine' }, { type: 'error', message: 'QEMU is not installed' }], view);
    expect(only(view, 'user')[0]?.undelivered).toMatch(/did not start/);
    expect(view.vm).toMatchObject({ state: 'failed', reason: 'QEMU is not installed' });
    expect(isBusy(view)).toBe(false);
  });

  it('withdraws the booting messages when Stop is pressed during the boot', () => {
    let view = live([{ type: 'vm', state: 'booting', step: 'starting the agent' }], apply(emptyView(), { type: 'sent', text: 'hi' }));
    view = apply(view, { type: 'stop_requested' });
    expect(only(view, 'user')[0]?.undelivered).toMatch(/Stop/);
    expect(view.awaiting).toEqual([]);
  });
});

describe('rebuilding from the transcript', () => {
  it('gives the same conversation after a reload as it showed live', async () => {
    const backend = new MockBackend();
    const session = backend.addSession(['/home/ann/Taxes']);
    await backend.send(session.id, 'list the files');
    for (const event of streamedTurn()) backend.emit(session.id, event);

    const liveView = live(streamedTurn(), apply(emptyView(), { type: 'sent', text: 'list the files' }));
    const subscription = await backend.openSession(session.id, () => undefined);
    const reloaded = viewFromSnapshot(subscription.snapshot);

    expect(kinds(reloaded)).toEqual(kinds(liveView));
    expect(only(reloaded, 'text').map((t) => t.text)).toEqual(only(liveView, 'text').map((t) => t.text));
    expect(only(reloaded, 'turn_end')[0]?.summary).toEqual(only(liveView, 'turn_end')[0]?.summary);
  });

  it('shows the decisions and undelivered messages the host recorded', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/Taxes']);
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'rm -rf build/' }))));
    backend.recordHost(id, { type: 'workroom_permission', request_id: 'r1', tool_name: 'Bash', tool_use_id: 't1', decision: 'deny', by: 'user' });
    backend.emit(id, f.frame(f.toolResult('t1', 'The user denied this action.', { isError: true })));
    backend.recordHost(id, { type: 'workroom_unsent', text: 'try again', reason: 'the VM did not start' });
    const { snapshot } = await backend.openSession(id, () => undefined);
    const view = viewFromSnapshot(snapshot);
    expect(only(view, 'tool')[0]).toMatchObject({ status: 'denied', decision: { text: 'Denied by you', allowed: false } });
    expect(only(view, 'user')[0]).toMatchObject({ text: 'try again', undelivered: 'Not delivered: the VM did not start.' });
  });

  it('brings back the questions the host still holds, and only while the VM runs', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/Taxes']);
    const prompt = f.bashPrompt('r1', 't1', 'rm -rf build/');
    backend.setLive(id, { vm: { state: 'running', accel: 'kvm', boot_ms: 800 }, pending: [prompt] });
    const running = viewFromSnapshot((await backend.openSession(id, () => undefined)).snapshot);
    expect(running.pending).toEqual([prompt]);
  });
});

describe('opening a session while it runs', () => {
  it('counts a frame once when it is both in the transcript and in the live feed', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/Taxes']);
    const answer = { ...f.assistant('m1', f.textBlock('Only once.')), uuid: 'frame-1' };
    backend.emit(id, f.frame(answer));
    const controller = new SessionController(id, backend, {}, immediately);
    await controller.open();
    // The host stored it before emitting it; the event reaches the new window after the snapshot.
    backend.emit(id, f.frame(answer));
    backend.emit(id, f.frame({ ...f.assistant('m1', f.textBlock('And this.')), uuid: 'frame-2' }));
    expect(only(controller.store.get(), 'text').map((t) => t.text)).toEqual(['Only once.', 'And this.']);
  });
});
