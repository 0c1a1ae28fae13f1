/**
 * The only way to HTML that may be put into the page: model output is untrusted, so every string
 * that becomes markup passes DOMPurify with a short allow-list first. `SanitizedHtml` is a branded
 * type: `SafeHtml` accepts nothing else, so forgetting to sanitise does not compile.
 */
import DOMPurify from 'dompurify';

declare const sanitizedBrand: unique symbol;
export type SanitizedHtml = string & { readonly [sanitizedBrand]: true };

/** Tags Markdown rendering produces; anything else (script, style, img, iframe, svg, form…) is dropped. */
const ALLOWED_TAGS = [
  'a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i',
  'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead',
  'tr', 'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'start', 'align'];
/** Links may only leave for the web or mail; `javascript:`, `data:`, `file:` and the like are dropped. */
const ALLOWED_URI_REGEXP = /^(?:https?:|mailto:)/i;

let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      // Clicks are routed to the system browser (see App); this keeps the referrer out if not.
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
}

export function sanitize(html: string): SanitizedHtml {
  installHooks();
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
  }) as SanitizedHtml;
}

/** Text as HTML that shows it literally. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
