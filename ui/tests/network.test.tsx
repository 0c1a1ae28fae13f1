import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import type { FrameRecord, NetworkDecider } from '../src/backend/types';
import { ChatItemView } from '../src/components/ChatItemView';
import { BackendContext } from '../src/components/context';
import { Settings } from '../src/components/Settings';
import { parseHosts } from '../src/model/network';
import { viewFromSnapshot } from '../src/model/replay';
import { emptyView } from '../src/model/view';
import { apply, kinds, live, only } from './helpers';

function lineFor(method: string, target: string, allowed: boolean, by: NetworkDecider) {
  const [item] = only(live([f.frame(f.networkRecord(method, target, allowed, by))]), 'network');
  if (!item) throw new Error('no network item');
  const { container } = render(<ChatItemView item={item} />);
  return container.querySelector('[data-testid="network-line"]') as HTMLElement;
}

describe('network lines', () => {
  it.each([
    ['GET', 'http://example.com/page', true, 'rule', '↗ GET http://example.com/page — allowed by your network settings'],
    ['CONNECT', 'evil.example:443', false, 'rule', '✗ CONNECT evil.example:443 — refused by your network settings'],
    ['CONNECT', 'api.anthropic.com:443', false, 'provider', '✗ CONNECT api.anthropic.com:443 — refused: only the model proxy may reach the model provider'],
    ['GET', 'https://pypi.org/simple/', true, 'session', '↗ GET https://pypi.org/simple/ — allowed for this session'],
    ['CONNECT', 'github.com:443', true, 'you', '↗ CONNECT github.com:443 — allowed by you'],
    ['CONNECT', 'gone.example:443', false, 'you', '✗ CONNECT gone.example:443 — refused by you'],
    ['GET', 'http://down.example/', true, 'error', '✗ GET http://down.example/ — allowed, but the server could not be reached'],
  ] as const)('%s %s (%s by %s) reads as one line', (method, target, allowed, by, text) => {
    const line = lineFor(method, target, allowed, by);
    expect(line.textContent).toBe(text);
    expect(line.dataset.allowed).toBe(String(allowed));
    expect(line.dataset.host).toBe(target.replace(/^https?:\/\//, '').replace(/[:/].*$/, ''));
  });

  it('groups requests in a row under one collapsed line, and starts a new group after other entries', () => {
    const view = live([
      f.frame(f.networkRecord('GET', 'https://pypi.org/simple/requests/', true, 'rule')),
      f.frame(f.networkRecord('GET', 'https://files.pythonhosted.org/r.whl', true, 'rule')),
      f.frame(f.networkRecord('CONNECT', 'tracker.example:443', false, 'rule')),
      f.frame(f.assistant('m1', f.textBlock('Installed.'))),
      f.frame(f.networkRecord('GET', 'https://example.com/', true, 'you')),
    ]);
    expect(kinds(view)).toEqual(['network', 'text', 'network']);
    const [group] = only(view, 'network');
    if (!group) throw new Error('no group');
    const { container } = render(<ChatItemView item={group} />);
    const details = container.querySelector('details') as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(details.querySelector('summary')?.textContent).toBe('✗ 3 network requests, 1 refused');
    const lines = [...details.querySelectorAll<HTMLElement>('[data-testid="network-line"]')];
    expect(lines.map((line) => [line.dataset.host, line.dataset.allowed])).toEqual([
      ['pypi.org', 'true'],
      ['files.pythonhosted.org', 'true'],
      ['tracker.example', 'false'],
    ]);
  });

  it('shows the stored records as the live ones, and the mock stores them as the host’s', () => {
    const backend = new MockBackend();
    const record = backend.addSession(['/home/ann/site']);
    const id = record.id;
    const records = [
      f.networkRecord('GET', 'http://example.com/page', true, 'rule'),
      f.networkRecord('CONNECT', 'evil.example:443', false, 'rule'),
    ];
    for (const body of records) backend.emit(id, f.frame(body));
    const stored = backend.transcriptOf(id);
    expect(stored.map((r: FrameRecord) => r.direction)).toEqual(['host', 'host']);
    const replayed = viewFromSnapshot({ record, transcript: stored, pending: [], vm: null });
    const liveView = live(records.map(f.frame));
    expect(only(replayed, 'network')).toEqual(only(liveView, 'network'));
  });

  it('leaves out a record without a host', () => {
    const view = apply(emptyView(), { type: 'stored', record: { seq: 1, direction: 'host', body: { type: 'workroom_network', allowed: true }, at_ms: 0 } });
    expect(view.items).toEqual([]);
  });
});

describe('network settings', () => {
  it('reads host lists one per line, or separated by commas or spaces, without blanks', () => {
    expect(parseHosts(' pypi.org,github.com\n\n  *.example.com ,, \n')).toEqual(['pypi.org', 'github.com', '*.example.com']);
    expect(parseHosts('  \n ')).toEqual([]);
  });

  it('shows both lists and saves them as arrays', async () => {
    const backend = new MockBackend();
    backend.settings = { ...backend.settings, network_allow: ['pypi.org', 'github.com'], network_deny: [] };
    render(
      <BackendContext.Provider value={backend}>
        <Settings onClose={() => undefined} />
      </BackendContext.Provider>,
    );
    const group = await screen.findByRole('region', { name: 'Network' });
    expect(within(group).getByText(/ask before they reach any other host/)).toBeTruthy();
    expect(within(group).getByText(/model provider is never reachable by tools/)).toBeTruthy();
    const allow = within(group).getByLabelText('Reachable without asking') as HTMLTextAreaElement;
    const deny = within(group).getByLabelText('Never reachable') as HTMLTextAreaElement;
    expect([allow.value, deny.value]).toEqual(['pypi.org\ngithub.com', '']);

    fireEvent.input(allow, { target: { value: 'pypi.org, github.com\n\n  example.com  ' } });
    fireEvent.input(deny, { target: { value: 'tracker.example\n' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(backend.calls.some((c) => c.method === 'setSettings')).toBe(true));
    expect(backend.calls.find((c) => c.method === 'setSettings')?.args[0]).toMatchObject({
      network_allow: ['pypi.org', 'github.com', 'example.com'],
      network_deny: ['tracker.example'],
    });
    await waitFor(() => expect(allow.value).toBe('pypi.org\ngithub.com\nexample.com'));
  });

  it('saves the connectors file, and an empty field as the default', async () => {
    const backend = new MockBackend();
    render(
      <BackendContext.Provider value={backend}>
        <Settings onClose={() => undefined} />
      </BackendContext.Provider>,
    );
    const group = await screen.findByRole('region', { name: 'Connectors' });
    const file = within(group).getByLabelText('Configuration file') as HTMLInputElement;
    fireEvent.input(file, { target: { value: ' /home/me/.mcp.json ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(backend.calls.some((c) => c.method === 'setSettings')).toBe(true));
    expect(backend.calls.find((c) => c.method === 'setSettings')?.args[0]).toMatchObject({ mcp_config: '/home/me/.mcp.json' });
    fireEvent.input(file, { target: { value: '   ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(backend.calls.filter((c) => c.method === 'setSettings').length).toBe(2));
    expect(backend.calls.filter((c) => c.method === 'setSettings')[1]?.args[0]).toMatchObject({ mcp_config: null });
  });
});
