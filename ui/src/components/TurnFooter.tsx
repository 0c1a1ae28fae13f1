import { dollars, seconds, thousands } from '../model/format';
import type { TurnSummary } from '../model/view';

const OUTCOME_WORDS: Record<TurnSummary['outcome'], string> = {
  done: 'Done in',
  interrupted: 'Stopped after',
  error: 'Ended with an error after',
};

/** The end of a turn: how it ended, how long it took, tokens and cost. */
export function TurnFooter({ summary }: { summary: TurnSummary }) {
  return (
    <div class={`turn-footer turn-${summary.outcome}`}>
      {summary.errorText && <p class="error-text">{summary.errorText}</p>}
      <p>
        {OUTCOME_WORDS[summary.outcome]} {seconds(summary.durationMs)} · {thousands(summary.inputTokens)} in ·{' '}
        {thousands(summary.outputTokens)} out tokens · {dollars(summary.costUsd)}
      </p>
    </div>
  );
}
