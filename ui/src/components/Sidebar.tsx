import { useEffect, useRef, useState } from 'preact/hooks';

import type { SessionRecord } from '../backend/types';
import { relativeTime } from '../model/format';
import { groupSessions } from '../model/sessions';
import { Icon } from './Icon';

/** What a session needs from the person, for its badge. */
export interface SessionActivity {
  waitingForYou: boolean;
  working: boolean;
}

interface Props {
  sessions: SessionRecord[];
  activeId: string | null;
  activity: Record<string, SessionActivity>;
  onOpen: (id: string) => void;
  onNew: () => void;
  onRename: (id: string, title: string) => void;
  onDelete: (id: string) => void;
  onSettings: () => void;
}

function RenameForm({ session, onDone }: { session: SessionRecord; onDone: (title: string | null) => void }) {
  const [title, setTitle] = useState(session.title);
  const input = useRef<HTMLInputElement>(null);
  // Enter, Escape and blur can all end the edit; only the first counts.
  const finished = useRef(false);
  const finish = (result: string | null) => {
    if (finished.current) return;
    finished.current = true;
    onDone(result);
  };
  // Renaming starts from a click on "Rename": focus follows the person's intent.
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  return (
    <form
      class="rename-form"
      onSubmit={(event) => {
        event.preventDefault();
        finish(title.trim() || null);
      }}
    >
      <label class="sr-only" for={`rename-${session.id}`}>
        New name for {session.title}
      </label>
      <input
        id={`rename-${session.id}`}
        value={title}
        ref={input}
        onInput={(event) => setTitle((event.target as HTMLInputElement).value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            finish(null);
          }
        }}
        onBlur={() => finish(title.trim() || null)}
      />
    </form>
  );
}

function SessionRow({
  session,
  active,
  activity,
  onOpen,
  onRename,
  onDelete,
}: {
  session: SessionRecord;
  active: boolean;
  activity: SessionActivity | undefined;
  onOpen: () => void;
  onRename: (title: string) => void;
  onDelete: () => void;
}) {
  const [mode, setMode] = useState<'view' | 'rename' | 'confirm-delete'>('view');
  if (mode === 'rename') {
    return (
      <li class="session-row">
        <RenameForm
          session={session}
          onDone={(title) => {
            setMode('view');
            if (title && title !== session.title) onRename(title);
          }}
        />
      </li>
    );
  }
  return (
    <li class={`session-row${active ? ' is-active' : ''}`}>
      <button type="button" class="session-open" aria-current={active ? 'page' : undefined} onClick={onOpen}>
        <span class="session-title">{session.title}</span>
        <span class="session-meta">
          {activity?.waitingForYou && <span class="badge badge-attention">Needs your answer</span>}
          {!activity?.waitingForYou && activity?.working && <span class="badge">Working</span>}
          <span class="muted">{relativeTime(session.updated_at)}</span>
        </span>
      </button>
      {mode === 'confirm-delete' ? (
        <div class="confirm-delete" role="group" aria-label={`Delete ${session.title}?`}>
          <span>Delete this session and its history?</span>
          <button type="button" class="danger" onClick={onDelete}>
            Delete
          </button>
          <button type="button" onClick={() => setMode('view')}>
            Cancel
          </button>
        </div>
      ) : (
        <div class="session-actions">
          <button type="button" class="icon-button" aria-label={`Rename ${session.title}`} title="Rename" onClick={() => setMode('rename')}>
            <Icon name="pencil" />
          </button>
          <button
            type="button"
            class="icon-button"
            aria-label={`Delete ${session.title}`}
            title="Delete"
            onClick={() => setMode('confirm-delete')}
          >
            <Icon name="trash" />
          </button>
        </div>
      )}
    </li>
  );
}

/** Sessions grouped by folder, with search, rename and delete. */
export function Sidebar(props: Props) {
  const [query, setQuery] = useState('');
  const groups = groupSessions(props.sessions, query);
  return (
    <nav class="sidebar" aria-label="Sessions">
      <div class="sidebar-top">
        <button type="button" class="primary wide" onClick={props.onNew}>
          New session
        </button>
        <label class="sr-only" for="session-search">
          Search sessions
        </label>
        <input
          id="session-search"
          type="search"
          placeholder="Search sessions"
          value={query}
          onInput={(event) => setQuery((event.target as HTMLInputElement).value)}
        />
      </div>
      <div class="session-groups">
        {groups.length === 0 && (
          <p class="muted empty-list">{props.sessions.length === 0 ? 'No sessions yet.' : 'No session matches.'}</p>
        )}
        {groups.map((group) => (
          <section key={group.folder} class="session-group" aria-label={group.label}>
            <h2 title={group.folder}>{group.label}</h2>
            <ul>
              {group.sessions.map((session) => (
                <SessionRow
                  key={session.id}
                  session={session}
                  active={session.id === props.activeId}
                  activity={props.activity[session.id]}
                  onOpen={() => props.onOpen(session.id)}
                  onRename={(title) => props.onRename(session.id, title)}
                  onDelete={() => props.onDelete(session.id)}
                />
              ))}
            </ul>
          </section>
        ))}
      </div>
      <div class="sidebar-bottom">
        <button type="button" class="wide" onClick={props.onSettings}>
          Settings
        </button>
      </div>
    </nav>
  );
}
