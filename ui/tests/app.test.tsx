import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import { App } from '../src/components/App';
import { immediately } from '../src/model/store';

function renderApp(backend: MockBackend) {
  return render(<App backend={backend} schedule={immediately} />);
}

/** Opens a session from the sidebar by its title. */
async function openFromSidebar(title: string) {
  const nav = await screen.findByRole('navigation', { name: 'Sessions' });
  const row = await within(nav).findByText(title, { selector: '.session-title' });
  fireEvent.click(row.closest('button') as HTMLButtonElement);
  return screen.findByRole('region', { name: `Conversation: ${title}` });
}

describe('the app', () => {
  it('walks through the first run: provider, then the image with a progress bar, then home', async () => {
    const backend = new MockBackend();
    backend.provider = { kind: 'anthropic', base_url: null, key_source: null, configured: false };
    backend.image = { state: 'missing', arch: 'x86_64' };
    let finish: () => void = () => undefined;
    backend.script.onPrepareImage = (onProgress) =>
      new Promise<void>((resolve) => {
        onProgress({ step: 'Downloading packages', fraction: 0.4 });
        finish = resolve;
      });
    renderApp(backend);
    fireEvent.click(await screen.findByRole('button', { name: 'Continue' }));
    expect(await screen.findByText('Paste your Anthropic API key.')).toBeTruthy();
    fireEvent.input(screen.getByPlaceholderText('sk-ant-…'), { target: { value: 'sk-ant-test' } });
    fireEvent.click(screen.getByRole('button', { name: 'Continue' }));
    expect(await screen.findByText('Downloading packages (40%)')).toBeTruthy();
    expect(screen.getByRole('progressbar')).toBeTruthy();
    finish();
    expect(await screen.findByRole('heading', { name: 'Start working on a folder' })).toBeTruthy();
    expect(backend.calls.find((c) => c.method === 'setProvider')?.args[0]).toMatchObject({ kind: 'anthropic' });
  });

  it('starts a session on a chosen folder, streams the answer, and shows the footer', async () => {
    const backend = new MockBackend();
    backend.nextPickedFolder = '/home/ann/Taxes 2026';
    backend.script.onSend = (b, id) => {
      b.emit(id, { type: 'vm', state: 'booting', step: 'starting the agent' });
      b.emit(id, { type: 'vm', state: 'running', accel: 'kvm', boot_ms: 1200 });
      b.emit(id, f.frame(f.messageStart('m1')));
      b.emit(id, f.frame(f.blockStart(0, { type: 'text', text: '' })));
      b.emit(id, f.frame(f.textDelta(0, 'Hello **there**')));
    };
    renderApp(backend);
    fireEvent.click(await screen.findByRole('button', { name: 'Choose a folder…' }));
    const chat = await screen.findByRole('region', { name: 'Conversation: Taxes 2026' });
    fireEvent.input(within(chat).getByLabelText('Message to the agent'), { target: { value: 'say hello' } });
    fireEvent.keyDown(within(chat).getByLabelText('Message to the agent'), { key: 'Enter' });
    expect(await within(chat).findByText('say hello')).toBeTruthy();
    expect((await within(chat).findByText('there')).tagName).toBe('STRONG');
    expect(within(chat).getByRole('button', { name: 'Stop' })).toBeTruthy();

    const id = backend.opened[0] as string;
    backend.emit(id, f.frame(f.assistant('m1', f.textBlock('Hello **there**'))));
    backend.emit(id, f.frame(f.result({ inputTokens: 1234, outputTokens: 56, totalCostUsd: 0.0123, durationMs: 2500 })));
    expect(await within(chat).findByText(/Done in 2\.5 s · 1,234 in · 56 out tokens · \$0\.0123/)).toBeTruthy();
    expect(within(chat).queryByRole('button', { name: 'Stop' })).toBeNull();
  });

  it('shows messages typed during a turn as queued, and Stop interrupts', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/site'], { title: 'Site' });
    backend.setLive(id, { vm: { state: 'running', accel: 'kvm', boot_ms: 900 } });
    renderApp(backend);
    await openFromSidebar('Site');
    const box = await screen.findByLabelText('Message to the agent');
    fireEvent.input(box, { target: { value: 'first' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    fireEvent.input(box, { target: { value: 'second' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(await screen.findByText(/Queued/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(backend.calls.some((c) => c.method === 'interrupt')).toBe(true));
    expect(screen.getByRole('button', { name: 'Stopping…' })).toBeTruthy();
    backend.emit(id, f.frame(f.interruptedResult()));
    expect(await screen.findByText(/Stopped after/)).toBeTruthy();
    expect(screen.queryByText(/Queued/)).toBeNull();
  });

  it('notifies when a question arrives while the window is not focused', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/site'], { title: 'Site' });
    backend.setLive(id, { vm: { state: 'running', accel: 'kvm', boot_ms: 900 } });
    renderApp(backend);
    await openFromSidebar('Site');
    const focus = vi.spyOn(document, 'hasFocus').mockReturnValue(false);
    backend.emit(id, f.permissionEvent(f.bashPrompt('r1', 't1', 'rm -rf build/', 'site')));
    focus.mockRestore();
    await waitFor(() =>
      expect(backend.calls.find((c) => c.method === 'notify')?.args).toEqual(['The agent asks for permission', 'Run rm -rf build/ in site']),
    );
    expect(await screen.findByText('Needs your answer')).toBeTruthy();
  });

  it('explains a failed VM, shows its console log, and retries the message that did not get through', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/photos'], { title: 'Photos' });
    backend.recordHost(id, { type: 'workroom_unsent', text: 'rename the photos', reason: 'the VM did not start' });
    backend.setLive(id, { vm: { state: 'failed', reason: 'QEMU is not installed.', console_tail: '' }, consoleLog: 'kernel panic' });
    renderApp(backend);
    await openFromSidebar('Photos');
    const alert = await screen.findByText('The virtual machine is not working');
    const box = alert.closest('[role="alert"]') as HTMLElement;
    expect(within(box).getByText('QEMU is not installed.')).toBeTruthy();
    fireEvent.click(within(box).getByRole('button', { name: 'Show console log' }));
    expect(await within(box).findByText('kernel panic')).toBeTruthy();
    fireEvent.click(within(box).getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(backend.calls.find((c) => c.method === 'send')?.args).toEqual([id, 'rename the photos']));
  });

  it('opens links from model text in the browser, never in the window', async () => {
    const backend = new MockBackend();
    const { id } = backend.addSession(['/home/ann/site'], { title: 'Site' });
    backend.emit(id, f.frame(f.assistant('m1', f.textBlock('See [the docs](https://example.com/docs).'))));
    renderApp(backend);
    await openFromSidebar('Site');
    const link = await screen.findByRole('link', { name: 'the docs' });
    const click = new MouseEvent('click', { bubbles: true, cancelable: true });
    link.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    await waitFor(() => expect(backend.calls.find((c) => c.method === 'openLink')?.args).toEqual(['https://example.com/docs']));
  });

  it('starts a session for folders dropped on the window or given at launch', async () => {
    const backend = new MockBackend();
    backend.launchFolders = ['/home/ann/launch'];
    renderApp(backend);
    expect(await screen.findByRole('region', { name: 'Conversation: launch' })).toBeTruthy();
    backend.offerFolders(['/home/ann/dropped']);
    expect(await screen.findByRole('region', { name: 'Conversation: dropped' })).toBeTruthy();
    expect(backend.calls.filter((c) => c.method === 'createSession').map((c) => c.args[0])).toEqual([['/home/ann/launch'], ['/home/ann/dropped']]);
  });
});
