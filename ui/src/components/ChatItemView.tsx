import { Component } from 'preact';

import { isSubagentCall } from '../model/subagents';
import type { ChatItem } from '../model/view';
import { Markdown } from './Markdown';
import { NetworkLines } from './NetworkLines';
import { SubagentCard } from './SubagentCard';
import { ToolCard } from './ToolCard';
import { TurnFooter } from './TurnFooter';

const NONE: readonly string[] = [];

/** The person's own message. Plain text: it is theirs, and Markdown would change what they typed. */
export function UserMessage({ text, note, queued = false }: { text: string; note: string | null; queued?: boolean }) {
  return (
    <div class={`user-message${queued ? ' is-queued' : ''}${note ? ' is-undelivered' : ''}`}>
      <p class="sr-only">You wrote:</p>
      <div class="user-text">{text}</div>
      {queued && <p class="badge badge-queued">Queued: the agent gets to it when the current request is done</p>}
      {note && <p class="user-note">{note}</p>}
    </div>
  );
}

/**
 * One entry of the conversation. `waiting`: the tool calls in it (a sub-agent's included) whose
 * permission question is open.
 */
export function ChatItemView({ item, waiting = NONE }: { item: ChatItem; waiting?: readonly string[] }) {
  switch (item.kind) {
    case 'user':
      return <UserMessage text={item.text} note={item.undelivered} />;
    case 'text':
      return (
        <div class="assistant-message">
          <Markdown text={item.text} streaming={item.streaming} />
        </div>
      );
    case 'thinking':
      return (
        <details class="thinking">
          <summary>{item.streaming ? 'Thinking…' : 'Thought about it'}</summary>
          <div class="thinking-text">{item.text}</div>
        </details>
      );
    case 'tool':
      return isSubagentCall(item.name) ? (
        <SubagentCard tool={item} waiting={waiting} />
      ) : (
        <ToolCard tool={item} awaitingAnswer={waiting.includes(item.toolUseId)} />
      );
    case 'turn_end':
      return <TurnFooter summary={item.summary} />;
    case 'changes':
      // Drawn by `ChatView` as a `ChangesCard`, which needs the session's undo actions.
      return null;
    case 'network':
      return <NetworkLines item={item} />;
    case 'notice':
      return (
        <p class={`notice notice-${item.tone}`} role={item.tone === 'error' ? 'alert' : undefined}>
          {item.text}
        </p>
      );
  }
}

interface PureItemProps {
  item: ChatItem;
  waiting: readonly string[];
}

/**
 * A conversation entry that re-renders only when its item changes. The reducer replaces an item
 * object only when it changes, so while an answer streams only its last message is drawn again.
 */
export class PureChatItem extends Component<PureItemProps> {
  override shouldComponentUpdate(next: PureItemProps): boolean {
    // `waiting` is a new array on every render of the chat; what counts is which calls are in it.
    return next.item !== this.props.item || next.waiting.join() !== this.props.waiting.join();
  }

  override render() {
    return <ChatItemView item={this.props.item} waiting={this.props.waiting} />;
  }
}
