import { render } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { Markdown } from '../src/components/Markdown';
import { renderMarkdown, splitBlocks } from '../src/markdown/render';

function rendered(text: string): Element {
  const { container } = render(<Markdown text={text} />);
  return container;
}

describe('markdown from the model', () => {
  it('renders ordinary Markdown: emphasis, lists, tables, code', () => {
    const dom = rendered('**Total**: 3 files\n\n- a\n- b\n\n| A | B |\n| - | - |\n| 1 | 2 |\n\n```bash\nls -la\n```');
    expect(dom.querySelector('strong')?.textContent).toBe('Total');
    expect(dom.querySelectorAll('li')).toHaveLength(2);
    expect(dom.querySelector('table td')?.textContent).toBe('1');
    expect(dom.querySelector('pre code.language-bash')?.textContent).toBe('ls -la');
    expect(dom.querySelector('pre code span[class^="hljs-"]')).not.toBeNull();
  });

  it('never lets a script or an event handler into the page', () => {
    const attack = [
      '<script>window.pwned = true</script>',
      '<img src=x onerror="window.pwned = true">',
      '<a href="#" onclick="window.pwned = true">click</a>',
      '[link](javascript:window.pwned=true)',
      '<iframe src="https://evil.example"></iframe>',
      '<svg onload="window.pwned = true"></svg>',
      '`code` <style>body{display:none}</style>',
    ].join('\n\n');
    const dom = rendered(attack);
    expect(dom.querySelector('script, img, iframe, svg, style')).toBeNull();
    for (const element of dom.querySelectorAll('*')) {
      for (const attribute of element.getAttributeNames()) expect(attribute).not.toMatch(/^on/i);
      expect(element.getAttribute('href') ?? '').not.toMatch(/^javascript:/i);
    }
    expect((window as unknown as { pwned?: boolean }).pwned).toBeUndefined();
    // Raw HTML is shown as the text it is.
    expect(dom.textContent).toContain('<script>window.pwned = true</script>');
  });

  it('turns images into links instead of fetching them', () => {
    const html = renderMarkdown('![chart](https://example.com/chart.png)');
    expect(html).not.toContain('<img');
    expect(html).toContain('href="https://example.com/chart.png"');
    expect(html).toContain('[image: chart]');
  });

  it('keeps safe links and marks them', () => {
    const dom = rendered('See [the docs](https://example.com/docs).');
    const link = dom.querySelector('a');
    expect(link?.getAttribute('href')).toBe('https://example.com/docs');
    expect(link?.getAttribute('rel')).toBe('noopener noreferrer');
  });

  it('splits into blocks at blank lines, but never inside a code fence or a list item', () => {
    expect(splitBlocks('para one\n\n```\ncode\n\nmore code\n```\n\n1. item\n\n   continued\n2. next\n\nend')).toEqual([
      'para one',
      '```\ncode\n\nmore code\n```',
      '1. item\n\n   continued\n2. next',
      'end',
    ]);
  });

  it('draws a streaming answer block by block with a cursor', () => {
    const { container } = render(<Markdown text={'First.\n\nSecond'} streaming />);
    expect(container.querySelectorAll('.md-block')).toHaveLength(2);
    expect(container.querySelector('.stream-cursor')).not.toBeNull();
  });
});
