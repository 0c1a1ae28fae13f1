import { useState } from 'preact/hooks';

import { diffStat, type DiffLine } from '../model/diff';

/** Lines shown before "Show more": enough for most edits, short enough to keep the chat readable. */
export const DIFF_PREVIEW_LINES = 40;

const MARKS: Record<DiffLine['kind'], string> = { add: '+', del: '−', ctx: ' ', gap: '⋯' };
const SPOKEN: Record<DiffLine['kind'], string> = { add: 'added: ', del: 'removed: ', ctx: '', gap: '' };

/** Removed and added lines, long changes cut with an expander. */
export function DiffView({ lines, limit = DIFF_PREVIEW_LINES }: { lines: DiffLine[]; limit?: number }) {
  const [expanded, setExpanded] = useState(false);
  if (lines.length === 0) return <p class="muted">No changes to show.</p>;
  const shown = expanded ? lines : lines.slice(0, limit);
  const hidden = lines.length - shown.length;
  const { added, removed } = diffStat(lines);
  return (
    <div class="diff">
      <p class="diff-stat">
        <span class="diff-added">+{added}</span> <span class="diff-removed">−{removed}</span>
        <span class="sr-only">{`${added} lines added, ${removed} removed`}</span>
      </p>
      <pre class="diff-lines">
        {shown.map((line, index) => (
          <div key={index} class={`diff-line diff-${line.kind}`}>
            <span class="diff-mark" aria-hidden="true">
              {MARKS[line.kind]}
            </span>
            <span class="sr-only">{SPOKEN[line.kind]}</span>
            {line.text}
          </div>
        ))}
      </pre>
      {(hidden > 0 || expanded) && lines.length > limit && (
        <button type="button" class="link-button" aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>
          {expanded ? 'Show less' : `Show ${hidden} more ${hidden === 1 ? 'line' : 'lines'}`}
        </button>
      )}
    </div>
  );
}
