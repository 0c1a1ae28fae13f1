import { useContext } from 'preact/hooks';

import { baseName } from '../model/format';
import { FileActionsContext, useOpenFile } from './fileActions';

/**
 * "Preview" and "Open" for a file the agent made (`path`: a host path, or the path the agent gave).
 * Nothing outside a session's chat, which provides what they do.
 */
export function FileButtons({ path }: { path: string }) {
  const actions = useContext(FileActionsContext);
  const open = useOpenFile(actions, path);
  if (!actions) return null;
  const name = baseName(path);
  return (
    <span class="file-actions">
      <button type="button" data-testid="preview-button" title={`Preview ${name}`} onClick={() => actions.show(path)}>
        Preview
      </button>
      <button type="button" data-testid="open-button" title={`Open ${name} in its app`} disabled={open.opening} onClick={open.open}>
        Open
      </button>
      {open.error && (
        <span class="error-text" role="alert">
          {open.error}
        </span>
      )}
    </span>
  );
}
