/**
 * What the Preview and Open buttons of a file the agent made can do. A session's chat provides it
 * (the backend calls need the session, guest paths its folders, and it draws the one preview
 * dialog, at its root: inside a card, a dimmed or scrolled ancestor would dim or clip it); outside
 * a chat there are no buttons.
 */
import { createContext } from 'preact';
import { useState } from 'preact/hooks';

import type { Backend } from '../backend/backend';
import { toBackendError } from '../backend/errors';
import type { FilePreview } from '../backend/types';
import { hostPath } from '../model/files';
import { baseName } from '../model/format';

export interface FileActions {
  /** `path`: a host path, or one the agent gave (a guest path), mapped to the host's. */
  preview(path: string): Promise<FilePreview>;
  open(path: string): Promise<void>;
  /** Shows the preview dialog for `path`. */
  show(path: string): void;
}

export const FileActionsContext = createContext<FileActions | null>(null);

export function sessionFileActions(backend: Backend, id: string, folders: readonly string[], show: (path: string) => void): FileActions {
  return {
    show,
    preview: (path) => backend.previewFile(id, hostPath(path, folders)),
    open: (path) => backend.openFile(id, hostPath(path, folders)),
  };
}

export interface OpenFile {
  opening: boolean;
  /** Why the last attempt failed, in words; `null` when it did not. */
  error: string | null;
  open: () => void;
}

/** Opens `path` in its app, keeping why it could not next to the button that tried. */
export function useOpenFile(actions: FileActions | null, path: string): OpenFile {
  const [opening, setOpening] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const open = () => {
    if (!actions || opening) return;
    setOpening(true);
    setError(null);
    actions.open(path).then(
      () => setOpening(false),
      (reason: unknown) => {
        setOpening(false);
        setError(`Could not open ${baseName(path)}: ${toBackendError(reason).message}`);
      },
    );
  };
  return { opening, error, open };
}
