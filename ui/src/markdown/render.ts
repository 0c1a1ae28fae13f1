/**
 * Markdown from the model to sanitised HTML. Raw HTML in the text is shown as text (as a terminal
 * would), images become links (a remote image would be fetched without asking), and the result
 * still passes the sanitiser: two fences, so one mistake is not enough.
 */
import { Marked, type Tokens } from 'marked';

import { highlight } from './highlight';
import { escapeHtml, sanitize, type SanitizedHtml } from './sanitize';

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    code({ text, lang }: Tokens.Code): string {
      const language = lang?.trim().split(/\s+/)[0] ?? '';
      const label = language ? ` language-${escapeHtml(language)}` : '';
      return `<pre><code class="hljs${label}">${highlight(text, language)}</code></pre>\n`;
    },
    image({ href, text }: Tokens.Image): string {
      const alt = escapeHtml(text || 'image');
      return /^https?:/i.test(href) ? `<a href="${escapeHtml(href)}">[image: ${alt}]</a>` : `[image: ${alt}]`;
    },
    checkbox({ checked }: Tokens.Checkbox): string {
      return checked ? '☑ ' : '☐ ';
    },
  },
});

export function renderMarkdown(text: string): SanitizedHtml {
  return sanitize(marked.parse(text) as string);
}

/**
 * Splits Markdown into top-level blocks at blank lines outside code fences. While a long answer
 * streams only its last block changes, so the earlier ones are parsed once and cached. A blank line
 * followed by an indented line continues the block (a list item's second paragraph).
 */
export function splitBlocks(text: string): string[] {
  const blocks: string[] = [];
  let current: string[] = [];
  let fence: string | null = null;
  let afterBlank = false;
  const flush = () => {
    while (current.length > 0 && current[current.length - 1]?.trim() === '') current.pop();
    if (current.length > 0) blocks.push(current.join('\n'));
    current = [];
  };
  for (const line of text.split('\n')) {
    const blank = line.trim() === '';
    if (fence === null && !blank && afterBlank && !/^[ \t]/.test(line)) flush();
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker) {
      if (fence === null) fence = marker;
      else if (marker.charAt(0) === fence.charAt(0) && marker.length >= fence.length) fence = null;
    }
    afterBlank = fence === null && blank;
    if (current.length > 0 || !blank) current.push(line);
  }
  flush();
  return blocks;
}

const CACHE_LIMIT = 800;
const cache = new Map<string, SanitizedHtml>();

/** `renderMarkdown` of one block, remembered (oldest entries are dropped past the limit). */
export function renderBlock(block: string): SanitizedHtml {
  const hit = cache.get(block);
  if (hit !== undefined) return hit;
  const html = renderMarkdown(block);
  cache.set(block, html);
  if (cache.size > CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return html;
}
