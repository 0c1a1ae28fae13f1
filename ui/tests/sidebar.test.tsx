import { fireEvent, render, screen, within } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';

import type { SessionRecord } from '../src/backend/types';
import { Sidebar } from '../src/components/Sidebar';
import { groupSessions, recentFolders } from '../src/model/sessions';

function session(id: string, title: string, folders: string[], updated: number): SessionRecord {
  return {
    id,
    title,
    folders,
    agent_session_id: null,
    model: null,
    permission_mode: 'default',
    created_at: updated,
    updated_at: updated,
    cost_usd: 0,
    input_tokens: 0,
    output_tokens: 0,
  };
}

const SESSIONS = [
  session('a', 'Receipts total', ['/home/ann/Taxes 2026'], 100),
  session('b', 'Rebuild the site', ['/home/ann/code/website'], 300),
  session('c', 'Letters to the bank', ['/home/ann/Taxes 2026', '/home/ann/Letters'], 200),
  session('d', 'Old taxes', ['/mnt/backup/Taxes 2026'], 50),
];

describe('session grouping', () => {
  it('groups sessions by working folder, newest first', () => {
    const groups = groupSessions(SESSIONS);
    expect(groups.map((g) => [g.label, g.sessions.map((s) => s.id)])).toEqual([
      ['website', ['b']],
      // Two folders are named "Taxes 2026": their full paths tell them apart.
      ['/home/ann/Taxes 2026', ['c', 'a']],
      ['/mnt/backup/Taxes 2026', ['d']],
    ]);
  });

  it('searches titles and folders, every word', () => {
    expect(groupSessions(SESSIONS, 'bank').flatMap((g) => g.sessions.map((s) => s.id))).toEqual(['c']);
    expect(groupSessions(SESSIONS, 'letters').flatMap((g) => g.sessions.map((s) => s.id))).toEqual(['c']);
    expect(groupSessions(SESSIONS, 'taxes backup').flatMap((g) => g.sessions.map((s) => s.id))).toEqual(['d']);
    expect(groupSessions(SESSIONS, 'nothing like it')).toEqual([]);
  });

  it('lists recent folders once each', () => {
    expect(recentFolders(SESSIONS, 3)).toEqual(['/home/ann/code/website', '/home/ann/Taxes 2026', '/home/ann/Letters']);
  });
});

function renderSidebar() {
  const handlers = { onOpen: vi.fn(), onNew: vi.fn(), onRename: vi.fn(), onDelete: vi.fn(), onSettings: vi.fn() };
  render(<Sidebar sessions={SESSIONS} activeId="a" activity={{ b: { waitingForYou: true, working: true } }} {...handlers} />);
  return handlers;
}

describe('sidebar', () => {
  it('shows the groups, the open session, and which session waits for an answer', () => {
    renderSidebar();
    const nav = screen.getByRole('navigation', { name: 'Sessions' });
    expect(within(nav).getAllByRole('heading').map((h) => h.textContent)).toEqual([
      'website',
      '/home/ann/Taxes 2026',
      '/mnt/backup/Taxes 2026',
    ]);
    expect(screen.getByRole('button', { current: 'page' }).textContent).toContain('Receipts total');
    const site = within(screen.getByRole('region', { name: 'website' }));
    expect(site.getByText('Needs your answer')).toBeTruthy();
  });

  it('filters as the person types a search', () => {
    renderSidebar();
    fireEvent.input(screen.getByLabelText('Search sessions'), { target: { value: 'site' } });
    expect(screen.queryByText('Receipts total')).toBeNull();
    expect(screen.getByText('Rebuild the site')).toBeTruthy();
    fireEvent.input(screen.getByLabelText('Search sessions'), { target: { value: 'zzz' } });
    expect(screen.getByText('No session matches.')).toBeTruthy();
  });

  it('renames in place: Enter saves, Escape cancels', () => {
    const { onRename } = renderSidebar();
    fireEvent.click(screen.getByRole('button', { name: 'Rename Receipts total' }));
    const input = screen.getByLabelText('New name for Receipts total');
    fireEvent.keyDown(input, { key: 'Escape' });
    expect(onRename).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Rename Receipts total' }));
    const again = screen.getByLabelText('New name for Receipts total');
    fireEvent.input(again, { target: { value: 'Receipts 2026' } });
    fireEvent.submit(again.closest('form') as HTMLFormElement);
    expect(onRename).toHaveBeenCalledTimes(1);
    expect(onRename).toHaveBeenCalledWith('a', 'Receipts 2026');
  });

  it('deletes only after confirming', () => {
    const { onDelete } = renderSidebar();
    fireEvent.click(screen.getByRole('button', { name: 'Delete Old taxes' }));
    expect(onDelete).not.toHaveBeenCalled();
    const confirm = screen.getByRole('group', { name: 'Delete Old taxes?' });
    fireEvent.click(within(confirm).getByRole('button', { name: 'Delete' }));
    expect(onDelete).toHaveBeenCalledWith('d');
  });
});
