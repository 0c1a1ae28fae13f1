import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import type { PermissionAnswer, PermissionPrompt } from '../src/backend/types';
import { ChatView } from '../src/components/ChatView';
import { BackendContext } from '../src/components/context';
import { PermissionCard } from '../src/components/PermissionCard';
import { SessionController } from '../src/model/controller';
import { viewFromSnapshot } from '../src/model/replay';
import { immediately } from '../src/model/store';
import { live } from './helpers';

const RUNNING = { state: 'running', accel: 'kvm', boot_ms: 900 } as const;

const QUESTIONS: f.QuestionInput[] = [
  {
    question: 'Where should the posts go?',
    header: 'Layout',
    options: [
      { label: 'By year', description: 'One folder per year' },
      { label: 'Flat', description: 'All in one folder' },
    ],
    multiSelect: false,
  },
  {
    question: 'Which extras should I keep?',
    header: 'Extras',
    options: [
      { label: 'Comments', description: 'The comment form' },
      { label: 'Reading time', description: '"5 min read"' },
      { label: 'Analytics', description: 'The tracking snippet' },
    ],
    multiSelect: true,
  },
];

const PLAN = '## The plan\n\n1. Move the posts\n2. Switch the theme to **new**';

function renderCard(prompt: PermissionPrompt) {
  const onAnswer = vi.fn<(answer: PermissionAnswer) => void>();
  render(<PermissionCard prompt={prompt} onAnswer={onAnswer} />);
  return onAnswer;
}

/** The option input of a question card by its label, in the question with that text. */
function option(question: string, label: string): HTMLInputElement {
  const fieldset = within(screen.getByTestId('question-card')).getByText(question).closest('fieldset') as HTMLElement;
  return fieldset.querySelector(`[data-testid="question-option"][data-label="${label}"]`) as HTMLInputElement;
}

function otherText(question: string): HTMLInputElement {
  return screen.getByLabelText(`Your own answer to: ${question}`) as HTMLInputElement;
}

const send = () => screen.getByTestId('answers-send') as HTMLButtonElement;

describe('question card', () => {
  it('shows each question with its header, options and descriptions, radio or checkboxes, and Other', () => {
    renderCard(f.questionPrompt('r1', 'q1', QUESTIONS));
    const card = screen.getByTestId('question-card');
    expect(within(card).getByText('Layout').className).toBe('question-header');
    expect(within(card).getByText('One folder per year')).toBeTruthy();
    expect(option('Where should the posts go?', 'By year').type).toBe('radio');
    expect(option('Which extras should I keep?', 'Comments').type).toBe('checkbox');
    const labels = [...card.querySelectorAll('[data-testid="question-option"]')].map((input) => input.getAttribute('data-label'));
    expect(labels).toEqual(['By year', 'Flat', 'Other', 'Comments', 'Reading time', 'Analytics', 'Other']);
    expect(send().disabled).toBe(true);
  });

  it('sends the chosen label, and a multi-select’s labels joined, once every question has an answer', () => {
    const onAnswer = renderCard(f.questionPrompt('r1', 'q1', QUESTIONS));
    fireEvent.click(option('Where should the posts go?', 'Flat'));
    fireEvent.click(option('Where should the posts go?', 'By year'));
    expect(send().disabled).toBe(true);
    fireEvent.click(option('Which extras should I keep?', 'Analytics'));
    fireEvent.click(option('Which extras should I keep?', 'Comments'));
    fireEvent.click(option('Which extras should I keep?', 'Reading time'));
    fireEvent.click(option('Which extras should I keep?', 'Analytics'));
    expect(option('Where should the posts go?', 'Flat').checked).toBe(false);
    expect(send().disabled).toBe(false);
    fireEvent.click(send());
    expect(onAnswer).toHaveBeenCalledWith({
      kind: 'answers',
      message: { 'Where should the posts go?': 'By year', 'Which extras should I keep?': 'Comments, Reading time' },
    });
  });

  it('sends the Other text instead of a label; typing there chooses Other', () => {
    const onAnswer = renderCard(f.questionPrompt('r1', 'q1', QUESTIONS.slice(0, 1)));
    fireEvent.click(option('Where should the posts go?', 'Flat'));
    fireEvent.click(option('Where should the posts go?', 'Other'));
    expect(option('Where should the posts go?', 'Flat').checked).toBe(false);
    // Other without words is no answer yet.
    expect(send().disabled).toBe(true);
    fireEvent.input(otherText('Where should the posts go?'), { target: { value: '  by month  ' } });
    fireEvent.click(send());
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'answers', message: { 'Where should the posts go?': 'by month' } });
  });

  it('adds the Other text after the labels of a multi-select', () => {
    const onAnswer = renderCard(f.questionPrompt('r1', 'q1', QUESTIONS.slice(1)));
    fireEvent.click(option('Which extras should I keep?', 'Comments'));
    fireEvent.input(otherText('Which extras should I keep?'), { target: { value: 'the RSS feed' } });
    expect(option('Which extras should I keep?', 'Other').checked).toBe(true);
    fireEvent.click(send());
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'answers', message: { 'Which extras should I keep?': 'Comments, the RSS feed' } });
  });

  it('skips with a plain deny, and takes no single-key shortcuts', () => {
    const onAnswer = renderCard(f.questionPrompt('r1', 'q1', QUESTIONS));
    const card = screen.getByTestId('question-card');
    for (const key of ['y', 's', 'a', 'n', 'm']) {
      fireEvent.keyDown(card, { key });
      fireEvent.keyDown(otherText('Where should the posts go?'), { key });
      fireEvent.keyDown(option('Where should the posts go?', 'Flat'), { key });
    }
    expect(onAnswer).not.toHaveBeenCalled();
    fireEvent.click(within(card).getByRole('button', { name: 'Skip' }));
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'deny' });
  });
});

describe('plan card', () => {
  it('shows the plan as Markdown and approves it in either mode', () => {
    const onAnswer = renderCard(f.planPrompt('r1', 'p1', PLAN));
    const card = screen.getByTestId('plan-card');
    expect(within(card).getByRole('heading', { name: 'The plan' })).toBeTruthy();
    expect(within(card).getByText('new').tagName).toBe('STRONG');
    fireEvent.click(screen.getByTestId('plan-approve-edits'));
    expect(onAnswer).toHaveBeenLastCalledWith({ kind: 'approve_plan', message: 'acceptEdits' });
    fireEvent.click(screen.getByTestId('plan-approve-ask'));
    expect(onAnswer).toHaveBeenLastCalledWith({ kind: 'approve_plan', message: 'default' });
    expect(screen.getByTestId('plan-approve-edits').textContent).toBe('Approve and let it edit');
    expect(screen.getByTestId('plan-approve-ask').textContent).toBe('Approve, ask before changes');
  });

  it('keeps planning with feedback: typing does not answer, Enter sends it', () => {
    const onAnswer = renderCard(f.planPrompt('r1', 'p1', PLAN));
    const card = screen.getByTestId('plan-card');
    fireEvent.keyDown(card, { key: 'y' });
    expect(within(card).queryByLabelText('What should change in the plan?')).toBeNull();
    fireEvent.click(screen.getByTestId('plan-keep-planning'));
    const box = within(card).getByLabelText('What should change in the plan?');
    expect((screen.getByTestId('plan-feedback-send') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.keyDown(box, { key: 'y' });
    fireEvent.keyDown(box, { key: 'Enter' });
    fireEvent.input(box, { target: { value: 'keep the old URLs' } });
    expect(onAnswer).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onAnswer).toHaveBeenCalledWith({ kind: 'deny_with_message', message: 'keep the old URLs' });
  });
});

describe('network card', () => {
  const prompt = f.networkPrompt('r1', 'example.com');

  it('asks whether the tools may connect to the host, with four answers and no message', () => {
    renderCard(prompt);
    const card = screen.getByTestId('network-card');
    expect(within(card).getByRole('heading').textContent).toBe("Let the agent's tools connect to example.com?");
    expect(within(card).getByText(/wants to reach example\.com/)).toBeTruthy();
    const buttons = within(card).getAllByRole('button').map((b) => b.textContent?.replace(/[A-Z]$/, '').trim());
    expect(buttons).toEqual(['Allow once', 'Allow for this session', 'Always allow', 'Deny']);
  });

  it.each([
    ['Allow once', 'y', 'allow_once'],
    ['Allow for this session', 's', 'allow_for_session'],
    ['Always allow', 'a', 'always_allow'],
    ['Deny', 'n', 'deny'],
  ] as const)('answers %s from its button and the %s key', (name, key, kind) => {
    const onAnswer = renderCard(prompt);
    const card = screen.getByTestId('network-card');
    fireEvent.click(within(card).getByRole('button', { name: new RegExp(`^${name} [A-Z]$`) }));
    fireEvent.keyDown(card, { key });
    expect(onAnswer.mock.calls).toEqual([[{ kind }], [{ kind }]]);
  });

  it('has no message shortcut', () => {
    const onAnswer = renderCard(prompt);
    fireEvent.keyDown(screen.getByTestId('network-card'), { key: 'm' });
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(onAnswer).not.toHaveBeenCalled();
  });
});

// ── In a session ──────────────────────────────────────────────────────────────

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

function planningSession(backend: MockBackend) {
  const { id } = backend.addSession(['/home/ann/blog'], { permission_mode: 'plan' });
  backend.setLive(id, { vm: RUNNING });
  return id;
}

const resultTexts = (backend: MockBackend, id: string) =>
  backend
    .transcriptOf(id)
    .map((record) => record.body as { type: string; message?: { content?: { type: string; content?: string }[] } })
    .filter((body) => body.type === 'user')
    .flatMap((body) => body.message?.content?.map((block) => block.content) ?? []);

describe('questions and plans in a session', () => {
  it('answers the agent’s questions: the agent gets them as its tool result, the card shows them', async () => {
    const backend = new MockBackend();
    const id = planningSession(backend);
    await openChat(backend, id);
    const questions = QUESTIONS.slice(0, 1);
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('q1', 'AskUserQuestion', { questions }))));
    backend.emit(id, f.permissionEvent(f.questionPrompt('r1', 'q1', questions)));
    await screen.findByTestId('question-card');
    fireEvent.click(option('Where should the posts go?', 'Flat'));
    fireEvent.click(send());
    await waitFor(() => expect(screen.queryByTestId('question-card')).toBeNull());
    expect(backend.calls.find((c) => c.method === 'answer')?.args).toEqual([
      id,
      'r1',
      { kind: 'answers', message: { 'Where should the posts go?': 'Flat' } },
    ]);
    expect(resultTexts(backend, id)).toEqual([
      'User has answered your questions: "Where should the posts go?"="Flat". You can now continue with the user\'s answers in mind.',
    ]);
    const toolCard = screen.getByRole('article', { name: /AskUserQuestion/ });
    expect(within(toolCard).getByText('Ask you a question')).toBeTruthy();
    expect(within(toolCard).getByText('Answered by you')).toBeTruthy();
    expect(toolCard.querySelector('.answer-list')?.textContent).toBe('Where should the posts go? Flat');
  });

  it('approves a plan: the agent leaves plan mode and the mode shown follows', async () => {
    const backend = new MockBackend();
    const id = planningSession(backend);
    await openChat(backend, id);
    const mode = screen.getByRole('combobox') as HTMLSelectElement;
    expect(mode.value).toBe('plan');
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('p1', 'ExitPlanMode', { plan: PLAN }))));
    backend.emit(id, f.permissionEvent(f.planPrompt('r1', 'p1', PLAN)));
    fireEvent.click(await screen.findByTestId('plan-approve-edits'));
    await waitFor(() => expect(mode.value).toBe('acceptEdits'));
    expect(screen.queryByTestId('plan-card')).toBeNull();
    expect(screen.getByText('Plan approved by you')).toBeTruthy();
    expect(resultTexts(backend, id)).toEqual(['User has approved your plan. You can now start coding.']);
    expect(backend.transcriptOf(id).map((r) => r.body)).toContainEqual(expect.objectContaining({ type: 'workroom_permission', decision: 'approve_plan' }));
  });

  it('keeps planning: the feedback goes to the agent as a denial with its message', async () => {
    const backend = new MockBackend();
    const id = planningSession(backend);
    await openChat(backend, id);
    backend.emit(id, f.frame(f.assistant('m1', f.toolUseBlock('p1', 'ExitPlanMode', { plan: PLAN }))));
    backend.emit(id, f.permissionEvent(f.planPrompt('r1', 'p1', PLAN)));
    fireEvent.click(await screen.findByTestId('plan-keep-planning'));
    fireEvent.input(screen.getByLabelText('What should change in the plan?'), { target: { value: 'keep the old URLs' } });
    fireEvent.click(screen.getByTestId('plan-feedback-send'));
    await waitFor(() => expect(screen.queryByTestId('plan-card')).toBeNull());
    expect(backend.calls.find((c) => c.method === 'answer')?.args[2]).toEqual({ kind: 'deny_with_message', message: 'keep the old URLs' });
    expect(screen.getByText('You asked for more planning')).toBeTruthy();
    expect((screen.getByRole('combobox') as HTMLSelectElement).value).toBe('plan');
  });

  it('follows the mode the agent reports in a status frame, live and from the transcript', () => {
    const view = live([f.frame(f.init('claude-sonnet-4-5', 'plan')), f.frame(f.statusFrame('default'))]);
    expect(view.permissionMode).toBe('default');
    const unrelated = live([f.frame(f.init('claude-sonnet-4-5', 'plan')), f.frame({ type: 'system', subtype: 'status', status: 'compacting' })]);
    expect(unrelated.permissionMode).toBe('plan');
    const record = new MockBackend().addSession(['/home/ann/blog'], { permission_mode: 'plan' });
    const transcript = [f.init('claude-sonnet-4-5', 'plan'), f.statusFrame('acceptEdits')].map((body, index) => ({ seq: index + 1, direction: 'out' as const, body, at_ms: 0 }));
    expect(viewFromSnapshot({ record, transcript, pending: [], vm: null }).permissionMode).toBe('acceptEdits');
  });

  it('says which host a lasting network answer was for, live and after a reload', async () => {
    const backend = new MockBackend();
    const id = planningSession(backend);
    const controller = await openChat(backend, id);
    backend.emit(id, f.permissionEvent(f.networkPrompt('r1', 'example.com')));
    fireEvent.keyDown(await screen.findByTestId('network-card'), { key: 's' });
    const words = 'Connections to example.com: allowed for this session by you.';
    expect(await screen.findByText(words)).toBeTruthy();
    controller.close();
    const again = new SessionController(id, backend, {}, immediately);
    await again.open();
    expect(again.store.get().items).toContainEqual(expect.objectContaining({ kind: 'notice', text: words }));
  });

  it('leaves a one-time network answer to the request’s own line', async () => {
    const backend = new MockBackend();
    const id = planningSession(backend);
    const controller = await openChat(backend, id);
    backend.emit(id, f.permissionEvent(f.networkPrompt('r1', 'example.com')));
    fireEvent.keyDown(await screen.findByTestId('network-card'), { key: 'n' });
    backend.emit(id, f.frame(f.networkRecord('CONNECT', 'example.com:443', false, 'you')));
    const line = await screen.findByTestId('network-line');
    expect(line.textContent).toBe('✗ CONNECT example.com:443 — refused by you');
    expect(controller.store.get().items.map((item) => item.kind)).toEqual(['network']);
  });
});
