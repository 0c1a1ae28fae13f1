import { useEffect, useRef, useState } from 'preact/hooks';

import { planText, PROMPT_KICKERS } from '../model/prompts';
import { useFocusWhenShown } from './context';
import { Markdown } from './Markdown';
import type { PromptCardProps } from './PermissionCard';
import { PromptFrom } from './PromptFrom';

/**
 * The plan the agent proposes before it changes anything (`ExitPlanMode`): approve it, choosing
 * how freely the agent then edits, or send it back with what to change. No single-key shortcuts:
 * approving a plan is worth a click.
 */
export function PlanCard({ prompt, onAnswer, autoFocus = false, from = null }: PromptCardProps) {
  const card = useRef<HTMLElement>(null);
  const feedbackBox = useRef<HTMLTextAreaElement>(null);
  const [keepPlanning, setKeepPlanning] = useState(false);
  const [feedback, setFeedback] = useState('');
  const headingId = `permission-${prompt.request_id}`;

  useFocusWhenShown(card, autoFocus);

  useEffect(() => {
    if (keepPlanning) feedbackBox.current?.focus();
  }, [keepPlanning]);

  // The agent reads the feedback to revise its plan: an empty one would tell it nothing.
  const sendFeedback = () => {
    const message = feedback.trim();
    if (message) onAnswer({ kind: 'deny_with_message', message });
  };

  return (
    <section
      ref={card}
      class="permission-card plan-card"
      tabIndex={0}
      aria-labelledby={headingId}
      data-request-id={prompt.request_id}
      data-testid="plan-card"
    >
      <h3 id={headingId} class="permission-kicker">
        {PROMPT_KICKERS.plan}
      </h3>
      <PromptFrom from={from} />
      <div class="plan-text">
        <Markdown text={planText(prompt)} />
      </div>
      <div class="permission-actions" role="group" aria-label="Your answer">
        <button
          type="button"
          class="primary"
          data-testid="plan-approve-edits"
          title="Planning ends; the agent edits files without asking, and asks for the rest"
          onClick={() => onAnswer({ kind: 'approve_plan', message: 'acceptEdits' })}
        >
          Approve and let it edit
        </button>
        <button
          type="button"
          data-testid="plan-approve-ask"
          title="Planning ends; the agent asks before each change"
          onClick={() => onAnswer({ kind: 'approve_plan', message: 'default' })}
        >
          Approve, ask before changes
        </button>
        <button type="button" data-testid="plan-keep-planning" aria-expanded={keepPlanning} onClick={() => setKeepPlanning(true)}>
          Keep planning
        </button>
      </div>
      {keepPlanning && (
        <form
          class="deny-message"
          onSubmit={(event) => {
            event.preventDefault();
            sendFeedback();
          }}
        >
          <label>
            What should change in the plan?
            <textarea
              ref={feedbackBox}
              rows={3}
              value={feedback}
              onInput={(event) => setFeedback((event.target as HTMLTextAreaElement).value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
                  event.preventDefault();
                  sendFeedback();
                } else if (event.key === 'Escape') {
                  event.preventDefault();
                  setKeepPlanning(false);
                  card.current?.focus();
                }
              }}
            />
          </label>
          <div class="row">
            <button type="submit" class="primary" disabled={feedback.trim() === ''} data-testid="plan-feedback-send">
              Send feedback
            </button>
            <button type="button" onClick={() => setKeepPlanning(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
