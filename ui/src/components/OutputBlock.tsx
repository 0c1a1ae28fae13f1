import { useState } from 'preact/hooks';

/** Lines of output shown before "Show all": the end, where results and errors usually are. */
export const OUTPUT_PREVIEW_LINES = 12;

/** A tool's text output: its last lines, with the rest one click away. */
export function OutputBlock({ text, tone = 'plain', label }: { text: string; tone?: 'plain' | 'error'; label: string }) {
  const [expanded, setExpanded] = useState(false);
  const lines = text.replace(/\n+$/, '').split('\n');
  const hidden = expanded ? 0 : Math.max(0, lines.length - OUTPUT_PREVIEW_LINES);
  return (
    <div class={`output output-${tone}`}>
      {lines.length > OUTPUT_PREVIEW_LINES && (
        <button type="button" class="link-button" aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>
          {expanded ? 'Show only the last lines' : `Show all ${lines.length} lines`}
        </button>
      )}
      <pre aria-label={label}>{lines.slice(hidden).join('\n')}</pre>
    </div>
  );
}
