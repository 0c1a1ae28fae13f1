/**
 * Which sub-agent a question comes from: several may run at once, each on its own part of the task,
 * and the person answers for the one that asks.
 */
export function PromptFrom({ from }: { from: string | null }) {
  return from ? (
    <p class="permission-from" data-testid="prompt-from">
      From sub-agent: {from}
    </p>
  ) : null;
}
