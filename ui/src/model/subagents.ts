/**
 * Sub-agents: the model hands part of the work to an agent with its own context by calling `Task`
 * (newer name `Agent`). What the sub-agent does lands in the call's `activity` (`agentFrames.ts`);
 * these helpers say what its card and its permission questions show.
 */
import { clip, firstLine, seconds } from './format';
import { field, num, obj } from './json';
import { toolTitle } from './tools';
import type { ChatItem, ToolItem } from './view';

export function isSubagentCall(name: string): boolean {
  return name === 'Task' || name === 'Agent';
}

/** Where a sub-agent stands, in the three states its card distinguishes. */
export type SubagentStatus = 'running' | 'done' | 'failed';

export function subagentStatus(tool: ToolItem): SubagentStatus {
  switch (tool.status) {
    case 'preparing':
    case 'running':
      return 'running';
    case 'done':
      return 'done';
    default:
      // Failed, denied, or cut short with the turn: it did not report back.
      return 'failed';
  }
}

/** What a running sub-agent is at: its latest tool call, or the start of its latest words. */
export function subagentStep(tool: ToolItem): string {
  const activity = tool.activity ?? [];
  const last = activity[activity.length - 1];
  switch (last?.kind) {
    case 'tool':
      // A command's card is titled by its description too; the command itself is often long.
      return (last.name === 'Bash' && field(last.input, 'description')) || toolTitle(last.name, last.input);
    case 'text':
      return clip(firstLine(last.text), 80);
    case 'thinking':
      return 'Thinking';
    default:
      return 'Starting';
  }
}

/**
 * One line on how it went: "3 tool calls · 12.0 s" from the sub-agent's own figures
 * (`tool_use_result`), or why it failed.
 */
export function subagentOutcome(tool: ToolItem): string {
  if (subagentStatus(tool) === 'failed') return clip(firstLine(tool.result?.text ?? ''), 100) || 'Not finished';
  const structured = obj(tool.result?.structured);
  const calls = num(structured.totalToolUseCount) ?? (tool.activity ?? []).filter((item) => item.kind === 'tool').length;
  const ms = num(structured.totalDurationMs);
  const count = `${calls} tool ${calls === 1 ? 'call' : 'calls'}`;
  return ms === undefined ? count : `${count} · ${seconds(ms)}`;
}

/** The tool calls of an item, its sub-agent's included: the ones a permission question can be about. */
export function callsIn(item: ChatItem): ToolItem[] {
  if (item.kind !== 'tool') return [];
  return [item, ...(item.activity ?? []).flatMap(callsIn)];
}

/** The sub-agent call whose activity holds tool call `toolUseId`, if a sub-agent made it. */
export function subagentOf(items: ChatItem[], toolUseId: string | null): ToolItem | null {
  if (!toolUseId) return null;
  for (const item of items) {
    if (item.kind === 'tool' && item.activity?.some((inner) => callsIn(inner).some((call) => call.toolUseId === toolUseId))) {
      return item;
    }
  }
  return null;
}
