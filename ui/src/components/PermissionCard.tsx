import { useEffect, useRef, useState } from 'preact/hooks';

import type { PermissionAnswer, PermissionPrompt } from '../backend/types';
import { diffFromDetail, diffNewFile } from '../model/diff';
import { networkHost, PROMPT_KICKERS, promptKind } from '../model/prompts';
import { useFocusWhenShown } from './context';
import { DiffView } from './DiffView';
import { InlineCode } from './InlineCode';
import { PlanCard } from './PlanCard';
import { PromptFrom } from './PromptFrom';
import { QuestionCard } from './QuestionCard';

/** The answers of a tool call or a host to reach, without a message. */
type PlainAnswer = 'allow_once' | 'allow_for_session' | 'always_allow' | 'deny';

/**
 * Keyboard shortcuts while the card (or one of its buttons) has focus. Question and plan cards
 * have none: their answers are choices and text, typed in their own fields.
 */
export const SHORTCUTS: Record<string, PlainAnswer | 'message'> = {
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

export interface PromptCardProps {
  prompt: PermissionPrompt;
  onAnswer: (answer: PermissionAnswer) => void;
  /** Take focus when shown (only when nothing else has it, so typing elsewhere never answers). */
  autoFocus?: boolean;
  /** The sub-agent that asks, by its task; absent or `null` for the main agent. */
  from?: string | null;
}

/** A question from the agent, on the card that fits it: its questions, its plan, a host, or a tool call. */
export function PermissionCard(props: PromptCardProps) {
  switch (promptKind(props.prompt)) {
    case 'question':
      return <QuestionCard {...props} />;
    case 'plan':
      return <PlanCard {...props} />;
    case 'network':
      return <AllowCard {...props} network />;
    case 'tool':
      return <AllowCard {...props} network={false} />;
  }
}

/** What the person decides about a host the agent's tools want to reach. */
function NetworkHeading({ id, prompt }: { id: string; prompt: PermissionPrompt }) {
  return (
    <>
      <h3 id={id} class="permission-summary">
        Let the agent's tools connect to <code>{networkHost(prompt)}</code>?
      </h3>
      {prompt.detail && <p class="permission-detail">{prompt.detail}</p>}
    </>
  );
}

/**
 * A tool call, or a host to reach (`network`), in plain words, with the answers and their
 * shortcuts. Nobody reads a message sent with a refused connection, so that card has no "Deny
 * with message".
 */
function AllowCard({ prompt, onAnswer, autoFocus = false, from = null, network }: PromptCardProps & { network: boolean }) {
  const card = useRef<HTMLElement>(null);
  const messageBox = useRef<HTMLTextAreaElement>(null);
  const [writingMessage, setWritingMessage] = useState(false);
  const [message, setMessage] = useState('');
  const headingId = `permission-${prompt.request_id}`;

  useFocusWhenShown(card, autoFocus);

  useEffect(() => {
    if (writingMessage) messageBox.current?.focus();
  }, [writingMessage]);

  const answer = (kind: PlainAnswer | 'deny_with_message') => {
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
    if (!action || (network && action === 'message')) return;
    event.preventDefault();
    if (action === 'message') setWritingMessage(true);
    else answer(action);
  };

  return (
    <section
      ref={card}
      class={`permission-card${network ? ' network-card' : ''}`}
      tabIndex={0}
      aria-labelledby={headingId}
      onKeyDown={onKeyDown}
      data-request-id={prompt.request_id}
      data-testid={network ? 'network-card' : 'permission-card'}
    >
      <p class="permission-kicker">{PROMPT_KICKERS[network ? 'network' : 'tool']}</p>
      <PromptFrom from={from} />
      {network ? (
        <NetworkHeading id={headingId} prompt={prompt} />
      ) : (
        <>
          <h3 id={headingId} class="permission-summary">
            <InlineCode text={prompt.summary} />
          </h3>
          <PromptDetail prompt={prompt} />
        </>
      )}
      <div class="permission-actions" role="group" aria-label="Your answer">
        <button type="button" class="primary" onClick={() => answer('allow_once')}>
          Allow once <kbd>Y</kbd>
        </button>
        <button
          type="button"
          onClick={() => answer('allow_for_session')}
          title={network ? 'Let the tools reach this host until the session ends' : 'Allow calls like this until the session ends'}
        >
          Allow for this session <kbd>S</kbd>
        </button>
        <button
          type="button"
          onClick={() => answer('always_allow')}
          title={
            network
              ? 'Add this host to the ones reachable without asking (Settings, Network)'
              : 'Save a rule: calls like this never ask again in this folder'
          }
        >
          Always allow <kbd>A</kbd>
        </button>
        <button type="button" class="danger" onClick={() => answer('deny')}>
          Deny <kbd>N</kbd>
        </button>
        {!network && (
          <button type="button" onClick={() => setWritingMessage(true)} aria-expanded={writingMessage}>
            Deny with message… <kbd>M</kbd>
          </button>
        )}
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
