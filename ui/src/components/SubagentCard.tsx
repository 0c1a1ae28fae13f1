import { field } from '../model/json';
import { subagentOutcome, subagentStatus, subagentStep } from '../model/subagents';
import { subagentName } from '../model/tools';
import type { ChatItem, ToolItem } from '../model/view';
import { Markdown } from './Markdown';
import { OutputBlock } from './OutputBlock';
import { CardHeader, ToolCard, WaitingContext } from './ToolCard';

/** One thing the sub-agent did: its words (compact Markdown), a tool call on its usual card, a notice. */
function ActivityEntry({ item, waiting }: { item: ChatItem; waiting: readonly string[] }) {
  switch (item.kind) {
    case 'text':
      return (
        <div class="subagent-text">
          <Markdown text={item.text} />
        </div>
      );
    case 'tool':
      return <ToolCard tool={item} awaitingAnswer={waiting.includes(item.toolUseId)} />;
    case 'notice':
      return <p class={`notice notice-${item.tone}`}>{item.text}</p>;
    default:
      // Its thinking stays out: the card tells what it did, and the main agent's thinking is there.
      return null;
  }
}

/** The activity without its last words when they are the report shown below it (they usually are). */
function withoutReport(activity: ChatItem[], tool: ToolItem): ChatItem[] {
  const last = activity[activity.length - 1];
  const report = tool.result && !tool.result.isError ? tool.result.text.trim() : null;
  return last?.kind === 'text' && last.text.trim() === report ? activity.slice(0, -1) : activity;
}

/**
 * A sub-agent's call (`Task`): its task and where it stands in the header; what it did, open while it
 * runs or waits for the person and folded away once it is done; its report at the end. `waiting`:
 * the tool calls in it whose permission question is open.
 */
export function SubagentCard({ tool, waiting }: { tool: ToolItem; waiting: readonly string[] }) {
  const status = subagentStatus(tool);
  const asking = waiting.length > 0;
  const name = subagentName(tool.input);
  const activity = withoutReport(tool.activity ?? [], tool);
  const prompt = field(tool.input, 'prompt');
  return (
    <article
      class={`tool-card tool-subagent is-${tool.status}`}
      aria-label={`Sub-agent ${name}: ${asking ? 'waiting for your answer' : status}`}
      data-testid="subagent-card"
      data-status={status}
    >
      <details class="tool-compact" open={status === 'running' || asking}>
        <summary>
          <WaitingContext.Provider value={asking}>
            <CardHeader
              tool={tool}
              title={`Sub-agent: ${name}`}
              extra={<span class="muted subagent-step">{status === 'running' ? subagentStep(tool) : subagentOutcome(tool)}</span>}
            />
          </WaitingContext.Provider>
        </summary>
        {prompt !== '' && (
          <details class="subagent-prompt">
            <summary>The task it was given</summary>
            <div class="thinking-text">{prompt}</div>
          </details>
        )}
        {activity.length > 0 && (
          <ol class="subagent-activity" aria-label="What the sub-agent did">
            {activity.map((item) => (
              <li key={item.key}>
                <ActivityEntry item={item} waiting={waiting} />
              </li>
            ))}
          </ol>
        )}
        {tool.result &&
          (tool.result.isError ? (
            <OutputBlock label="Why it stopped" text={tool.result.text} tone="error" />
          ) : (
            <div class="subagent-report" aria-label="Its report">
              <p class="detail-label">Its report</p>
              <Markdown text={tool.result.text} />
            </div>
          ))}
      </details>
    </article>
  );
}
