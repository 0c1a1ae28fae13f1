import { fireEvent, render, screen } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { DIFF_PREVIEW_LINES, DiffView } from '../src/components/DiffView';
import { ToolCard } from '../src/components/ToolCard';
import { diffFromDetail, diffFromPatch, diffNewFile, diffStrings } from '../src/model/diff';
import type { ToolItem } from '../src/model/view';

describe('diffs', () => {
  it('shows what an edit removes and adds, with the lines both share as context', () => {
    expect(diffStrings('# Notes\ntotal: 1\nend', '# Notes\ntotal: 2\nend')).toEqual([
      { kind: 'ctx', text: '# Notes' },
      { kind: 'del', text: 'total: 1' },
      { kind: 'add', text: 'total: 2' },
      { kind: 'ctx', text: 'end' },
    ]);
  });

  it("reads the host's `- old` / `+ new` detail", () => {
    expect(diffFromDetail('- a\n- b\n+ c')).toEqual([
      { kind: 'del', text: 'a' },
      { kind: 'del', text: 'b' },
      { kind: 'add', text: 'c' },
    ]);
  });

  it("reads a tool's structured patch, hunk by hunk", () => {
    const patch = [{ oldStart: 3, oldLines: 2, newStart: 3, newLines: 2, lines: [' keep', '-old', '+new'] }];
    expect(diffFromPatch(patch)).toEqual([
      { kind: 'gap', text: 'Line 3' },
      { kind: 'ctx', text: 'keep' },
      { kind: 'del', text: 'old' },
      { kind: 'add', text: 'new' },
    ]);
    expect(diffFromPatch([])).toBeNull();
  });

  it('renders removed and added lines apart, with their counts', () => {
    const { container } = render(<DiffView lines={diffStrings('one\ntwo', 'one\nthree\nfour')} />);
    expect([...container.querySelectorAll('.diff-del')].map((l) => l.textContent)).toEqual(['−removed: two']);
    expect([...container.querySelectorAll('.diff-add')].map((l) => l.textContent)).toEqual(['+added: three', '+added: four']);
    expect(container.querySelector('.diff-stat')?.textContent).toContain('+2 −1');
  });

  it('cuts long changes and shows the rest on request', () => {
    const content = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join('\n');
    const { container } = render(<DiffView lines={diffNewFile(content)} />);
    expect(container.querySelectorAll('.diff-line')).toHaveLength(DIFF_PREVIEW_LINES);
    const more = screen.getByRole('button', { name: `Show ${100 - DIFF_PREVIEW_LINES} more lines` });
    fireEvent.click(more);
    expect(container.querySelectorAll('.diff-line')).toHaveLength(100);
    expect(container.textContent).toContain('line 100');
    fireEvent.click(screen.getByRole('button', { name: 'Show less' }));
    expect(container.querySelectorAll('.diff-line')).toHaveLength(DIFF_PREVIEW_LINES);
  });

  it('shows an Edit card as a diff with the path as the person knows it', () => {
    const tool: ToolItem = {
      kind: 'tool',
      key: 'k',
      toolUseId: 't1',
      name: 'Edit',
      input: { file_path: '/sessions/abc/mnt/Taxes 2026/summary.md', old_string: 'Total: 1', new_string: 'Total: 2' },
      partialInput: '',
      status: 'done',
      result: { text: 'updated', isError: false, structured: undefined },
      decision: { text: 'Allowed once by you', allowed: true },
      startedAtMs: null,
    };
    const { container } = render(<ToolCard tool={tool} />);
    expect(container.querySelector('.tool-title')?.textContent).toBe('Edit Taxes 2026/summary.md');
    expect(container.querySelector('.diff-del')?.textContent).toContain('Total: 1');
    expect(container.querySelector('.diff-add')?.textContent).toContain('Total: 2');
    expect(screen.getByText('Allowed once by you')).toBeTruthy();
  });
});
