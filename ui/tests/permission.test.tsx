import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import type { PermissionAnswer } from '../src/backend/types';
import { ChatView } from '../src/components/ChatView';
import { BackendContext } from '../src/components/context';
import { PermissionCard } from '../src/components/PermissionCard';
import { SessionController } from '../src/model/controller';
import { immediately } from '../src/model/store';

const RUNNING = { state: 'running', accel: 'kvm', boot_ms: 900 } as const;

function renderCard(prompt = f.bashPrompt('r1', 't1', 'rm -rf build/')) {
  const onAnswer = vi.fn<(answer: PermissionAnswer) => void>();
  render(<PermissionCard prompt={prompt} onAnswer={onAnswer} />);
  const card = screen.getByRole('region', { name: prompt.summary.replace(/`/g, '') });
  return { card, onAnswer };
}

describe('permission card', () => {
  it('says in plain words what will happen and where, shows the command and the answers', () => {
    const { card } = renderCard();
    const heading = within(card).getByRole('heading');
    expect(heading.textContent).toBe('Run rm -rf build/ in Taxes 2026');
    expect(heading.querySelector('code')?.textContent).toBe('rm -rf build/');
    expect(within(card).getByLabelText('Command').textContent).toContain('rm -rf build/');
    const buttons = within(card).getAllByRole('button').map((b) => b.textContent?.replace(/[A-Z]$/, '').trim());
    expect(buttons).toEqual(['Allow once', 'Allow for this session', 'Always allow', 'Deny', 'Deny with message…']);
  });

  it('shows an edit as a diff of old and new lines', () => {
    const { card } = renderCard(f.editPrompt('r2', 't2', 'summary.md', 'Total: 1,730', 'Total: 1,843'));
    expect(card.querySelector('.diff-del')?.textContent).toContain('Total: 1,730');
    expect(card.querySelector('.diff-add')?.textContent).toContain('Total: 1,843');
  });

  it.each([
    ['y', { kind: 'allow_once' }],
    ['s', { kind: 'allow_for_session' }],
    ['a', { kind: 'always_allow' }],
    ['n', { kind: 'deny' }],
  ] as const)('answers with the %s key while focused', (key, answer) => {
    const { card, onAnswer } = renderCard();
    card.focus();
    fireEvent.keyDown(card, { key });
    expect(onAnswer).toHaveBeenCalledWith(answer);
  });

  it('takes shortcuts from a focused button inside the card, but not with modifier keys', () => {
    const { card, onAnswer } = renderCard();
    const deny = within(card).getByRole('button', { name: /^Deny N$/ });
    fireEvent.keyDown(deny, { key: 'c', ctrlKey: true });
    fireEvent.keyDown(deny, { key: 'y', ctrlKey: true });
    expect(onAnswer).not.toHaveBeenCalled();
    fireEvent.keyDown(deny, { key: 'Y' });
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'allow_once' });
  });

  it('opens a message box with m; typing there does not answer; Enter denies with the message', () => {
    const { card, onAnswer } = renderCard();
    fireEvent.keyDown(card, { key: 'm' });
    const box = within(card).getByLabelText('Tell the agent what to do instead');
    fireEvent.keyDown(box, { key: 'y' });
    fireEvent.input(box, { target: { value: 'use the trash instead' } });
    expect(onAnswer).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'deny_with_message', message: 'use the trash instead' });
  });

  it('answers from the buttons too', () => {
    const { card, onAnswer } = renderCard();
    fireEvent.click(within(card).getByRole('button', { name: /Always allow/ }));
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'always_allow' });
  });
});

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

function sessionWithTool(backend: MockBackend) {
  const { id } = backend.addSession(['/home/ann/Taxes 2026']);
  backend.setLive(id, { vm: RUNNING });
  return id;
}

describe('permission prompts in a session', () => {
  it('sends the answer for the prompt and shows the decision on the tool card', async () => {
    const backend = new MockBackend();
    const id = sessionWithTool(backend);
    await openChat(backend, id);
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'rm -rf build/' }))));
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 't1', 'rm -rf build/')));
    const card = await screen.findByRole('region', { name: /Run/ });
    fireEvent.keyDown(card, { key: 'n' });
    await waitFor(() => expect(screen.queryByRole('region', { name: /Run/ })).toBeNull());
    expect(backend.calls.find((c) => c.method === 'answer')?.args).toEqual([id, 'r1', { kind: 'deny' }]);
    expect(screen.getByText('Denied by you')).toBeTruthy();
  });

  it('removes a prompt the agent withdrew', async () => {
    const backend = new MockBackend();
    const id = sessionWithTool(backend);
    await openChat(backend, id);
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 't1', 'rm -rf build/')));
    expect(await screen.findByRole('region', { name: /Run/ })).toBeTruthy();
    backend.emit(id, { type: 'permission_withdrawn', request_id: 'r1' });
    await waitFor(() => expect(screen.queryByRole('region', { name: /Run/ })).toBeNull());
  });

  it('shows pending prompts again after the window reloads, and they can still be answered', async () => {
    const backend = new MockBackend();
    const id = sessionWithTool(backend);
    const first = await openChat(backend, id);
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'rm -rf build/' }))));
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 't1', 'rm -rf build/')));
    await screen.findByRole('region', { name: /Run/ });

    // A reload: the page and its state are gone; the host still holds the question.
    first.close();
    cleanup();
    await openChat(backend, id);
    const card = await screen.findByRole('region', { name: /Run/ });
    expect(screen.getByText('rm -rf build/', { selector: '.tool-card .command, .tool-card .command *' })).toBeTruthy();
    fireEvent.click(within(card).getByRole('button', { name: /Allow once/ }));
    await waitFor(() => expect(backend.pendingOf(id)).toEqual([]));
  });

  it('puts the question back when the answer does not get through', async () => {
    const backend = new MockBackend();
    const id = sessionWithTool(backend);
    await openChat(backend, id);
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 't1', 'rm -rf build/')));
    const card = await screen.findByRole('region', { name: /Run/ });
    backend.failNext('answer', { code: 'unknown', message: 'the session has ended' });
    fireEvent.keyDown(card, { key: 'y' });
    expect(await screen.findByText(/Your answer did not reach the agent: the session has ended/)).toBeTruthy();
    expect(screen.getByRole('region', { name: /Run/ })).toBeTruthy();
  });
});
