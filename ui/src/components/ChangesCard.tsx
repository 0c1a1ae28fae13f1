import { Component } from 'preact';
import { useState } from 'preact/hooks';

import { toBackendError } from '../backend/errors';
import type { Change, FolderChanges } from '../backend/types';
import {
  CHANGE_WORDS,
  changedFolders,
  changePath,
  changesHeadline,
  countChanges,
  displayPath,
  hasPreview,
  isDirectory,
  isOpenable,
} from '../model/changes';
import { diffFromUnified } from '../model/diff';
import { baseName } from '../model/format';
import type { ChangesItem } from '../model/view';
import { DiffView } from './DiffView';
import { FileButtons } from './FileButtons';

/** Rows shown per folder before "Show all": a turn that touched a build tree can list thousands. */
export const CHANGES_PREVIEW_ROWS = 20;

/** What the last undo or redo of a card came to, when there is something to say. */
export interface UndoNote {
  text: string;
  error: boolean;
}

/** Fetches a change's diff (`null`: no preview). */
export type LoadDiff = (turn: number, folder: string, path: string) => Promise<string | null>;

type DiffState = { state: 'loading' } | { state: 'ready'; text: string | null } | { state: 'failed'; message: string };

function ChangeDetail({ diff }: { diff: DiffState }) {
  switch (diff.state) {
    case 'loading':
      return <p class="muted">Loading the change…</p>;
    case 'failed':
      return <p class="error-text">{diff.message}</p>;
    case 'ready': {
      if (diff.text === null) return <p class="muted">No preview (binary or large file)</p>;
      const lines = diffFromUnified(diff.text);
      return lines ? <DiffView lines={lines} /> : <pre class="change-text">{diff.text}</pre>;
    }
  }
}

interface RowProps {
  turn: number;
  folder: string;
  change: Change;
  /** The turn is undone: what it added or changed is not there to preview or open. */
  undone: boolean;
  loadDiff: LoadDiff;
}

/**
 * One changed path; a file's row opens its diff, fetched the first time it is opened. A file the
 * turn left (added or modified) can be previewed and opened in its app.
 */
function ChangeRow({ turn, folder, change, undone, loadDiff }: RowProps) {
  const [open, setOpen] = useState(false);
  const [diff, setDiff] = useState<DiffState | null>(null);
  const path = changePath(change);
  const directory = isDirectory(change);

  const toggle = () => {
    setOpen(!open);
    if (open || (diff !== null && diff.state !== 'failed')) return;
    setDiff({ state: 'loading' });
    loadDiff(turn, folder, path).then(
      (text) => setDiff({ state: 'ready', text }),
      (reason: unknown) => setDiff({ state: 'failed', message: toBackendError(reason).message }),
    );
  };

  const label = (
    <>
      <span class="change-path">
        {change.type === 'renamed'
          ? `${displayPath(change.before.p)} → ${displayPath(path)}`
          : `${displayPath(path)}${directory ? '/' : ''}`}
      </span>
      <span class={`badge change-badge change-${change.type}`}>{CHANGE_WORDS[change.type]}</span>
    </>
  );
  return (
    <li class={`change-row${directory ? ' is-dir' : ''}`} data-testid="change-row" data-path={path}>
      <div class="change-head">
        {hasPreview(change) ? (
          <button type="button" class="change-toggle" aria-expanded={open} onClick={toggle}>
            <span class="change-chevron" aria-hidden="true">
              {open ? '▾' : '▸'}
            </span>
            {label}
          </button>
        ) : (
          <span class="change-static">{label}</span>
        )}
        {!undone && isOpenable(change) && <FileButtons path={`${folder}/${path}`} />}
      </div>
      {open && diff && (
        <div class="change-detail">
          <ChangeDetail diff={diff} />
        </div>
      )}
    </li>
  );
}

interface FolderListProps {
  turn: number;
  folder: FolderChanges;
  named: boolean;
  undone: boolean;
  loadDiff: LoadDiff;
}

function FolderList({ turn, folder, named, undone, loadDiff }: FolderListProps) {
  const [showAll, setShowAll] = useState(false);
  const total = folder.changes.length;
  const rows = showAll ? folder.changes : folder.changes.slice(0, CHANGES_PREVIEW_ROWS);
  return (
    <div class="changes-folder">
      {named && (
        <h4 class="changes-folder-name" title={folder.folder}>
          {baseName(folder.folder)} <span class="muted">{countChanges(folder.changes)}</span>
        </h4>
      )}
      <ul class="change-list" aria-label={`Changes in ${baseName(folder.folder)}`}>
        {rows.map((change) => (
          <ChangeRow
            key={`${change.type}\n${changePath(change)}`}
            turn={turn}
            folder={folder.folder}
            change={change}
            undone={undone}
            loadDiff={loadDiff}
          />
        ))}
      </ul>
      {total > CHANGES_PREVIEW_ROWS && (
        <button type="button" class="link-button" aria-expanded={showAll} onClick={() => setShowAll(!showAll)}>
          {showAll ? 'Show fewer' : `Show all ${total}`}
        </button>
      )}
    </div>
  );
}

export interface ChangesCardProps {
  item: ChangesItem;
  /** The agent is working: undoing now would race what it does. */
  busy: boolean;
  /** An undo or redo is running (for this card or another). */
  pending: boolean;
  /** This card's undo or redo is the one running. */
  working: boolean;
  /** This card's undo is the latest and can be redone. */
  redoable: boolean;
  /** Later turns that changed files and that undoing this one undoes too. */
  laterTurns: number;
  note: UndoNote | null;
  onUndo: (turn: number) => void;
  onRedo: (turn: number) => void;
  loadDiff: LoadDiff;
}

function undoTitle(busy: boolean, laterTurns: number): string {
  if (busy) return 'Undo is possible once the agent has finished.';
  const base = 'Put the files back as they were before this turn.';
  if (laterTurns === 0) return base;
  return `${base} The ${laterTurns === 1 ? 'later turn' : `${laterTurns} later turns`} that changed files ${laterTurns === 1 ? 'is' : 'are'} undone too.`;
}

/** What a turn changed in the shared folders, at the end of the turn, with Undo (and Redo). */
export function ChangesCard({ item, busy, pending, working, redoable, laterTurns, note, onUndo, onRedo, loadDiff }: ChangesCardProps) {
  const folders = changedFolders(item.folders);
  // Every turn that ran a command records its changes; one that changed nothing has no card.
  if (folders.length === 0) return null;
  const titleId = `changes-${item.key}`;
  return (
    <section
      class={`changes-card${item.undone ? ' is-undone' : ''}`}
      aria-labelledby={titleId}
      data-testid="changes-card"
      data-turn={item.turn}
    >
      <header class="changes-header">
        <h3 id={titleId} class="changes-title">
          {changesHeadline(item.folders)}
        </h3>
        <span class="changes-actions">
          {item.undone ? (
            <>
              <span class="badge badge-undone" data-testid="turn-undone">
                Undone
              </span>
              {redoable && (
                <button
                  type="button"
                  data-testid="redo-turn"
                  disabled={busy || pending}
                  title={busy ? 'Redo is possible once the agent has finished.' : 'Put the changes back again.'}
                  onClick={() => onRedo(item.turn)}
                >
                  {working ? 'Redoing…' : 'Redo'}
                </button>
              )}
            </>
          ) : (
            <button
              type="button"
              data-testid="undo-turn"
              disabled={busy || pending}
              title={undoTitle(busy, laterTurns)}
              onClick={() => onUndo(item.turn)}
            >
              {working ? 'Undoing…' : 'Undo'}
            </button>
          )}
        </span>
      </header>
      {folders.map((folder) => (
        <FolderList
          key={folder.folder}
          turn={item.turn}
          folder={folder}
          named={folders.length > 1}
          undone={item.undone}
          loadDiff={loadDiff}
        />
      ))}
      {note && (
        <p class={note.error ? 'error-text' : 'muted'} role={note.error ? 'alert' : 'status'}>
          {note.text}
        </p>
      )}
    </section>
  );
}

/**
 * A changes card that re-renders only when one of its props changes: the chat re-renders with
 * every streamed word, and a card can list hundreds of paths.
 */
export class PureChangesCard extends Component<ChangesCardProps> {
  override shouldComponentUpdate(next: ChangesCardProps): boolean {
    return (Object.keys(next) as (keyof ChangesCardProps)[]).some((key) => next[key] !== this.props[key]);
  }

  override render() {
    return <ChangesCard {...this.props} />;
  }
}
