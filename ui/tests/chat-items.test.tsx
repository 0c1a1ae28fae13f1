import { fireEvent, render, screen } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { ChatItemView } from '../src/components/ChatItemView';
import { OUTPUT_PREVIEW_LINES } from '../src/components/OutputBlock';
import type { ChatItem, ToolItem } from '../src/model/view';

function tool(fields: Partial<ToolItem>): ToolItem {
  return {
    kind: 'tool',
    key: 'k',
    toolUseId: 't1',
    name: 'Bash',
    input: {},
    partialInput: '',
    status: 'done',
    result: null,
    decision: null,
    startedAtMs: null,
    ...fields,
  };
}

describe('conversation entries', () => {
  it('keeps thinking collapsed', () => {
    const item: ChatItem = { kind: 'thinking', key: 'k', messageId: 'm', text: 'Hmm, receipts first.', streaming: false };
    const { container } = render(<ChatItemView item={item} />);
    const details = container.querySelector('details.thinking') as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(details.querySelector('summary')?.textContent).toBe('Thought about it');
  });

  it('shows a command with its output, the end first, the rest on request', () => {
    const stdout = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    const item = tool({
      input: { command: 'make test', description: 'Run the tests' },
      result: { text: stdout, isError: false, structured: { stdout, stderr: 'warning: slow', interrupted: false } },
    });
    render(<ChatItemView item={item} />);
    expect(screen.getByText('Run the tests')).toBeTruthy();
    expect(screen.getByLabelText('Command').textContent).toBe('$ make test');
    const output = screen.getByLabelText('Output');
    expect(output.textContent?.split('\n')).toHaveLength(OUTPUT_PREVIEW_LINES);
    expect(output.textContent).toContain('line 30');
    fireEvent.click(screen.getByRole('button', { name: 'Show all 30 lines' }));
    expect(screen.getByLabelText('Output').textContent).toContain('line 1\n');
    expect(screen.getByLabelText('Errors').textContent).toBe('warning: slow');
  });

  it('shows lookups as one expandable line saying what they found', () => {
    const item = tool({
      name: 'Glob',
      input: { pattern: '*.csv', path: '/sessions/s/mnt/Taxes 2026/receipts' },
      result: { text: '', isError: false, structured: { numFiles: 3, filenames: ['/sessions/s/mnt/Taxes 2026/receipts/jan.csv', 'b.csv', 'c.csv'] } },
    });
    const { container } = render(<ChatItemView item={item} />);
    const details = container.querySelector('details.tool-compact') as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(details.querySelector('summary')?.textContent).toContain('Find files matching *.csv in Taxes 2026/receipts');
    expect(details.querySelector('summary')?.textContent).toContain('3 files');
    expect(details.textContent).toContain('Taxes 2026/receipts/jan.csv');
  });

  it('marks a message that never reached the agent', () => {
    render(<ChatItemView item={{ kind: 'user', key: 'k', text: 'rename them', undelivered: 'Not delivered: the VM did not start.' }} />);
    expect(screen.getByText('Not delivered: the VM did not start.')).toBeTruthy();
  });

  it('gives unknown tools a readable title and their raw request only under details', () => {
    const item = tool({ name: 'mcp__calendar__add_event', input: { title: 'Dentist' } });
    const { container } = render(<ChatItemView item={item} />);
    expect(container.querySelector('.tool-title')?.textContent).toBe('Use calendar › add_event');
    expect((container.querySelector('details') as HTMLDetailsElement).open).toBe(false);
  });
});
