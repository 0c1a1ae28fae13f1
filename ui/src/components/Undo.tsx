/**
 * Undo and redo from the changes cards (ask first; when the person changed files since, they choose
 * to keep their versions or use the other ones), and the question when a message's undo checkpoint
 * would be over the size cap.
 */
import { useCallback, useState } from 'preact/hooks';

import { toBackendError } from '../backend/errors';
import type { FolderConflicts, OnConflict } from '../backend/types';
import { conflictText, keptText, overCapText } from '../model/changes';
import type { SessionController } from '../model/controller';
import { baseName, clip } from '../model/format';
import type { OverCap } from '../model/view';
import type { UndoNote } from './ChangesCard';
import { Dialog } from './Dialog';

type Action = 'undo' | 'redo';

/** Conflicts waiting for the person's choice, and what to run again with it. */
export interface Asking {
  action: Action;
  turn: number;
  folders: FolderConflicts[];
}

export interface UndoFlow {
  /** The turn whose undo or redo is running. */
  working: number | null;
  /** Per turn: what its card's last undo or redo came to, when there is something to say. */
  notes: Readonly<Record<number, UndoNote>>;
  asking: Asking | null;
  undo: (turn: number) => void;
  redo: (turn: number) => void;
  /** Runs the asked undo or redo again, keeping or overwriting the person's changes. */
  resolve: (onConflict: Exclude<OnConflict, 'ask'>) => void;
  cancel: () => void;
}

/** The undo and redo of one session's cards. `undo` and `redo` keep their identity (the cards are pure). */
export function useUndo(controller: SessionController): UndoFlow {
  const [working, setWorking] = useState<number | null>(null);
  const [notes, setNotes] = useState<Readonly<Record<number, UndoNote>>>({});
  const [asking, setAsking] = useState<Asking | null>(null);

  const run = useCallback(
    async (action: Action, turn: number, onConflict: OnConflict) => {
      setAsking(null);
      setWorking(turn);
      setNotes(({ [turn]: _previous, ...rest }) => rest);
      const note = (text: string, error: boolean) => setNotes((current) => ({ ...current, [turn]: { text, error } }));
      try {
        const result = action === 'undo' ? await controller.undo(turn, onConflict) : await controller.redo(onConflict);
        if (result.state === 'conflicts') {
          setAsking({ action, turn, folders: result.folders });
        } else {
          const kept = keptText(result.folders);
          if (kept) note(kept, false);
        }
      } catch (reason) {
        note(toBackendError(reason).message, true);
      } finally {
        setWorking(null);
      }
    },
    [controller],
  );

  const undo = useCallback((turn: number) => void run('undo', turn, 'ask'), [run]);
  const redo = useCallback((turn: number) => void run('redo', turn, 'ask'), [run]);
  const resolve = (onConflict: Exclude<OnConflict, 'ask'>) => {
    if (asking) void run(asking.action, asking.turn, onConflict);
  };
  return { working, notes, asking, undo, redo, resolve, cancel: () => setAsking(null) };
}

/** Undo (or redo) would overwrite files the person changed after the agent: keep theirs, or not. */
export function ConflictDialog({ asking, onResolve, onCancel }: { asking: Asking; onResolve: UndoFlow['resolve']; onCancel: () => void }) {
  const verb = asking.action === 'undo' ? 'Undo' : 'Redo';
  const several = asking.folders.length > 1;
  return (
    <Dialog title={`${verb} would overwrite your changes`} onCancel={onCancel} testId="undo-conflicts">
      <p>Nothing has been changed yet. Since the agent’s turn:</p>
      {asking.folders.map((folder) => (
        <section key={folder.folder} aria-label={baseName(folder.folder)}>
          {several && (
            <h2 class="conflict-folder" title={folder.folder}>
              {baseName(folder.folder)}
            </h2>
          )}
          <ul class="conflict-list">
            {folder.conflicts.map((conflict) => (
              <li key={conflict.path}>{conflictText(conflict)}</li>
            ))}
          </ul>
        </section>
      ))}
      <div class="row dialog-actions">
        <button type="button" class="primary" data-testid="conflict-keep" onClick={() => onResolve('keep')}>
          Keep my changes
        </button>
        <button type="button" class="danger" data-testid="conflict-overwrite" onClick={() => onResolve('overwrite')}>
          {asking.action === 'undo' ? 'Use the earlier version' : 'Use the agent’s version'}
        </button>
        <button type="button" data-testid="conflict-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <p class="muted">
        “Keep my changes” {asking.action === 'undo' ? 'undoes' : 'redoes'} everything else and leaves these files as you have them.
      </p>
    </Dialog>
  );
}

/** The message was not sent: its undo checkpoint would be over the cap. Send it without undo, or not. */
export function OverCapDialog({ held, onSend, onCancel }: { held: OverCap; onSend: () => void; onCancel: () => void }) {
  return (
    <Dialog title="Send without undo?" onCancel={onCancel} testId="undo-over-cap">
      <p>{overCapText(held.capBytes, held.folders)}</p>
      <blockquote class="held-message">{clip(held.text, 300)}</blockquote>
      <p class="muted">Your message has not been sent. Sent without undo, what the agent changes in this turn cannot be undone.</p>
      <div class="row dialog-actions">
        <button type="button" class="danger" data-testid="send-without-undo" onClick={onSend}>
          Send without undo
        </button>
        <button type="button" data-testid="cap-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
