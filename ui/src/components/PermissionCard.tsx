import { useEffect, useRef, useState } from 'preact/hooks';

import type { PermissionAnswer, PermissionPrompt } from '../backend/types';
import { diffFromDetail, diffNewFile } from '../model/diff';
import { DiffView } from './DiffView';
import { InlineCode } from './InlineCode';

/** Keyboard shortcuts while the card (or one of its buttons) has focus. */
export const SHORTCUTS: Record<string, PermissionAnswer['kind'] | 'message'> = {
  y: 'allow_once',
  s: 'allow_for_session',
  a: 'always_allow',
  n: 'deny',
  m: 'message',
};

/** What exactly will happen: the command, the change, or (for other tools) the raw request on demand. */
function PromptDetail({ prompt }: { prompt: PermissionPrompt }) {
  const detail = prompt.detail ?? '';
  if (detail === '') return null;
  switch (prompt.tool_name) {
    case 'Bash':
      return (
        <pre class="command" aria-label="Command">
          <span class="prompt-mark" aria-hidden="true">$ </span>
          {detail}
        </pre>
      );
    case 'Edit':
    case 'MultiEdit':
      return <DiffView lines={diffFromDetail(detail)} />;
    case 'Write':
      return <DiffView lines={diffNewFile(detail)} />;
    default:
      return (
        <details>
          <summary>Details</summary>
          <pre class="json">{detail}</pre>
        </details>
      );
  }
}

interface Props {
  prompt: PermissionPrompt;
  onAnswer: (answer: PermissionAnswer) => void;
  /** Take focus when shown (only when nothing else has it, so typing elsewhere never answers). */
  autoFocus?: boolean;
}

/** A question from the agent, in plain words, with the five answers and their shortcuts. */
export function PermissionCard({ prompt, onAnswer, autoFocus = false }: Props) {
  const card = useRef<HTMLElement>(null);
  const messageBox = useRef<HTMLTextAreaElement>(null);
  const [writingMessage, setWritingMessage] = useState(false);
  const [message, setMessage] = useState('');
  const headingId = `permission-${prompt.request_id}`;

  useEffect(() => {
    const active = document.activeElement;
    if (autoFocus && (active === null || active === document.body)) card.current?.focus();
  }, [autoFocus]);

  useEffect(() => {
    if (writingMessage) messageBox.current?.focus();
  }, [writingMessage]);

  const answer = (kind: PermissionAnswer['kind']) => {
    if (kind === 'deny_with_message') onAnswer({ kind, message: message.trim() });
    else onAnswer({ kind });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement | null;
    if (target?.tagName === 'TEXTAREA' || target?.tagName === 'INPUT') {
      if (event.key === 'Escape') {
        event.preventDefault();
        setWritingMessage(false);
        card.current?.focus();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const action = SHORTCUTS[event.key.toLowerCase()];
    if (!action) return;
    event.preventDefault();
    if (action === 'message') setWritingMessage(true);
    else answer(action);
  };

  return (
    <section
      ref={card}
      class="permission-card"
      tabIndex={0}
      aria-labelledby={headingId}
      onKeyDown={onKeyDown}
      data-request-id={prompt.request_id}
    >
      <p class="permission-kicker">The agent asks for permission</p>
      <h3 id={headingId} class="permission-summary">
        <InlineCode text={prompt.summary} />
      </h3>
      <PromptDetail prompt={prompt} />
      <div class="permission-actions" role="group" aria-label="Your answer">
        <button type="button" class="primary" onClick={() => answer('allow_once')}>
          Allow once <kbd>Y</kbd>
        </button>
        <button type="button" onClick={() => answer('allow_for_session')} title="Allow calls like this until the session ends">
          Allow for this session <kbd>S</kbd>
        </button>
        <button type="button" onClick={() => answer('always_allow')} title="Save a rule: calls like this never ask again in this folder">
          Always allow <kbd>A</kbd>
        </button>
        <button type="button" class="danger" onClick={() => answer('deny')}>
          Deny <kbd>N</kbd>
        </button>
        <button type="button" onClick={() => setWritingMessage(true)} aria-expanded={writingMessage}>
          Deny with message… <kbd>M</kbd>
        </button>
      </div>
      {writingMessage && (
        <form
          class="deny-message"
          onSubmit={(event) => {
            event.preventDefault();
            answer('deny_with_message');
          }}
        >
          <label>
            Tell the agent what to do instead
            <textarea
              ref={messageBox}
              rows={2}
              value={message}
              onInput={(event) => setMessage((event.target as HTMLTextAreaElement).value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
                  event.preventDefault();
                  answer('deny_with_message');
                }
              }}
            />
          </label>
          <div class="row">
            <button type="submit" class="danger">
              Deny and send
            </button>
            <button type="button" onClick={() => setWritingMessage(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
