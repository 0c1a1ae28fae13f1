import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';

import { writtenFile } from '../model/files';
import { bytes, seconds } from '../model/format';
import { field, num, obj } from '../model/json';
import { readTodos, todoProgress } from '../model/todos';
import {
  commandOutput,
  fileChangeLines,
  lookupDetail,
  lookupOutcome,
  partialInputHint,
  questionAnswers,
  toolCardKind,
  toolTitle,
} from '../model/tools';
import type { ToolItem, ToolStatus } from '../model/view';
import { useTicker } from './context';
import { DiffView } from './DiffView';
import { FileButtons } from './FileButtons';
import { Markdown } from './Markdown';
import { OutputBlock } from './OutputBlock';

const STATUS_WORDS: Record<ToolStatus, string> = {
  preparing: 'Preparing',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  denied: 'Denied',
  interrupted: 'Not finished',
};

const STATUS_ICONS: Record<ToolStatus, string> = {
  preparing: '…',
  running: '',
  done: '✓',
  failed: '✗',
  denied: '⊘',
  interrupted: '◌',
};

function StatusMark({ status, waiting }: { status: ToolStatus; waiting: boolean }) {
  if (waiting) {
    return (
      <span class="tool-status tool-status-waiting" title="Waiting for your answer">
        <span aria-hidden="true">?</span>
        <span class="sr-only">Waiting for your answer</span>
      </span>
    );
  }
  return (
    <span class={`tool-status tool-status-${status}`} title={STATUS_WORDS[status]}>
      {status === 'running' ? <span class="spinner" aria-hidden="true" /> : <span aria-hidden="true">{STATUS_ICONS[status]}</span>}
      <span class="sr-only">{STATUS_WORDS[status]}</span>
    </span>
  );
}

/** "12 s" next to a tool that has been running a while (not while it waits for the person). */
function Elapsed({ tool, waiting }: { tool: ToolItem; waiting: boolean }) {
  const running = tool.status === 'running' && !waiting;
  const now = useTicker(running);
  if (!running || tool.startedAtMs === null) return null;
  const elapsed = now - tool.startedAtMs;
  return elapsed >= 2000 ? <span class="muted">{seconds(elapsed)}</span> : null;
}

/** Whether the card's tool call waits for the person's answer (set by `ToolCard` and `SubagentCard`). */
export const WaitingContext = createContext(false);

export function CardHeader({ tool, title, extra }: { tool: ToolItem; title: ComponentChildren; extra?: ComponentChildren }) {
  const waiting = useContext(WaitingContext);
  return (
    <div class="tool-header">
      <StatusMark status={tool.status} waiting={waiting} />
      <span class="tool-title">{title}</span>
      <span class="tool-meta">
        {extra}
        {waiting && <span class="badge badge-attention">Waiting for your answer</span>}
        <Elapsed tool={tool} waiting={waiting} />
        {tool.decision && (
          <span class={`badge ${tool.decision.allowed ? 'badge-ok' : 'badge-no'}`}>{tool.decision.text}</span>
        )}
      </span>
    </div>
  );
}

function CommandCard({ tool }: { tool: ToolItem }) {
  const waiting = useContext(WaitingContext);
  const command = field(tool.input, 'command');
  const description = field(tool.input, 'description');
  const { stdout, stderr } = commandOutput(tool);
  const isError = tool.result?.isError === true;
  return (
    <>
      <CardHeader tool={tool} title={description || 'Run a command'} />
      <pre class="command" aria-label="Command">
        <span class="prompt-mark" aria-hidden="true">$ </span>
        {command}
      </pre>
      {tool.status === 'running' && !tool.result && !waiting && <p class="muted running-note">Running…</p>}
      {stdout.trim() !== '' && <OutputBlock label="Output" text={stdout} tone={isError && !stderr ? 'error' : 'plain'} />}
      {stderr.trim() !== '' && <OutputBlock label="Errors" text={stderr} tone="error" />}
      {tool.result && stdout.trim() === '' && stderr.trim() === '' && <p class="muted">No output.</p>}
    </>
  );
}

function FileChangeCard({ tool }: { tool: ToolItem }) {
  const lines = fileChangeLines(tool);
  const failed = tool.result?.isError === true;
  const file = writtenFile(tool);
  return (
    <>
      <CardHeader tool={tool} title={toolTitle(tool.name, tool.input)} extra={file && <FileButtons path={file} />} />
      {failed ? <OutputBlock label="Why" text={tool.result?.text ?? ''} tone="error" /> : <DiffView lines={lines} />}
    </>
  );
}

/** A spreadsheet, Word document or PDF the agent wrote: the file first, what it was made from on request. */
function DocumentCard({ tool }: { tool: ToolItem }) {
  const file = writtenFile(tool);
  const size = num(obj(tool.result?.structured).bytes);
  const extra = (
    <>
      {size !== undefined && <span class="muted">{bytes(size)}</span>}
      {file && <FileButtons path={file} />}
    </>
  );
  return (
    <>
      <CardHeader tool={tool} title={toolTitle(tool.name, tool.input)} extra={extra} />
      {tool.result?.isError ? (
        <OutputBlock label="Why" text={tool.result.text} tone="error" />
      ) : (
        <details class="tool-compact">
          <summary class="detail-label">What the agent put in it</summary>
          <pre class="json">{JSON.stringify(tool.input, null, 2)}</pre>
        </details>
      )}
    </>
  );
}

function LookupCard({ tool }: { tool: ToolItem }) {
  const outcome = lookupOutcome(tool);
  const detail = lookupDetail(tool);
  return (
    <details class="tool-compact">
      <summary>
        <CardHeader tool={tool} title={toolTitle(tool.name, tool.input)} extra={outcome && <span class="muted">{outcome}</span>} />
      </summary>
      {detail.trim() !== '' ? (
        <OutputBlock label="Result" text={detail} tone={tool.result?.isError ? 'error' : 'plain'} />
      ) : (
        <p class="muted">{tool.result ? 'Nothing to show.' : 'Waiting for the result…'}</p>
      )}
    </details>
  );
}

function PlanCard({ tool }: { tool: ToolItem }) {
  const todos = readTodos(obj(tool.input).todos) ?? [];
  return <CardHeader tool={tool} title="Updated the plan" extra={<span class="muted">{todoProgress(todos)}</span>} />;
}

/** Questions the agent asked, with the answers; asking happens on the question card. */
function QuestionsCard({ tool }: { tool: ToolItem }) {
  const answered = questionAnswers(tool);
  return (
    <details class="tool-compact">
      <summary>
        <CardHeader tool={tool} title={toolTitle(tool.name, tool.input)} />
      </summary>
      <ul class="answer-list">
        {answered.map(({ question, answer }, index) => (
          <li key={index}>
            <span class="muted">{question}</span> {answer ?? (tool.result ? '(no answer)' : '…')}
          </li>
        ))}
      </ul>
      {tool.result?.isError && <OutputBlock label="Result" text={tool.result.text} tone="error" />}
    </details>
  );
}

/** A plan the agent proposed; approving it happens on the plan card. */
function ProposalCard({ tool }: { tool: ToolItem }) {
  return (
    <details class="tool-compact">
      <summary>
        <CardHeader tool={tool} title={toolTitle(tool.name, tool.input)} />
      </summary>
      <div class="plan-text">
        <Markdown text={field(tool.input, 'plan')} />
      </div>
    </details>
  );
}

function OtherCard({ tool }: { tool: ToolItem }) {
  return (
    <details class="tool-compact">
      <summary>
        <CardHeader tool={tool} title={toolTitle(tool.name, tool.input)} />
      </summary>
      <p class="detail-label">What the agent sent</p>
      <pre class="json">{JSON.stringify(tool.input, null, 2)}</pre>
      {tool.result && <OutputBlock label="Result" text={tool.result.text} tone={tool.result.isError ? 'error' : 'plain'} />}
    </details>
  );
}

function PreparingCard({ tool }: { tool: ToolItem }) {
  const hint = partialInputHint(tool);
  return <CardHeader tool={tool} title={`${tool.name}${hint ? `: ${hint}` : ''}`} extra={<span class="muted">preparing…</span>} />;
}

/** A tool call as a card: what it does, whether it was allowed, and what came back. */
export function ToolCard({ tool, awaitingAnswer = false }: { tool: ToolItem; awaitingAnswer?: boolean }) {
  const kind = toolCardKind(tool.name);
  let body: ComponentChildren;
  if (tool.status === 'preparing') body = <PreparingCard tool={tool} />;
  else if (kind === 'command') body = <CommandCard tool={tool} />;
  else if (kind === 'file_change') body = <FileChangeCard tool={tool} />;
  else if (kind === 'document') body = <DocumentCard tool={tool} />;
  else if (kind === 'lookup') body = <LookupCard tool={tool} />;
  else if (kind === 'plan') body = <PlanCard tool={tool} />;
  else if (kind === 'questions') body = <QuestionsCard tool={tool} />;
  else if (kind === 'proposal') body = <ProposalCard tool={tool} />;
  else body = <OtherCard tool={tool} />;
  return (
    <WaitingContext.Provider value={awaitingAnswer}>
      <article
        class={`tool-card tool-${kind} is-${tool.status}`}
        aria-label={`${tool.name}: ${awaitingAnswer ? 'waiting for your answer' : STATUS_WORDS[tool.status]}`}
      >
        {body}
      </article>
    </WaitingContext.Provider>
  );
}
