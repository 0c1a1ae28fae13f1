import { useEffect, useState } from 'preact/hooks';

import { toBackendError } from '../backend/errors';
import type { ImageProgress, ImageStatus } from '../backend/types';
import { useBackend } from './context';

/** A step in words and a bar with its percentage (moving, without one, while the length is unknown). */
export function Progress({ progress, label }: { progress: ImageProgress; label: string }) {
  const percent = progress.fraction === null ? undefined : Math.round(progress.fraction * 100);
  return (
    <div class="progress" role="status">
      <progress max={100} value={percent} aria-valuenow={percent} aria-label={label} />
      <p>
        {progress.step}
        {percent === undefined ? '' : ` (${percent}%)`}
      </p>
    </div>
  );
}

/** Preparing the virtual machine's image, with a progress bar; calls `onReady` when it is there. */
export function ImageSetup({ onReady }: { onReady: () => void }) {
  const backend = useBackend();
  const [status, setStatus] = useState<ImageStatus | null>(null);
  const [progress, setProgress] = useState<ImageProgress | null>(null);
  const [error, setError] = useState<string | null>(null);

  const prepare = async () => {
    setError(null);
    setProgress({ step: 'Starting', fraction: 0 });
    try {
      const result = await backend.prepareImage(setProgress);
      setStatus(result);
      setProgress(null);
      if (result.state === 'ready') onReady();
    } catch (reason) {
      setProgress(null);
      setError(toBackendError(reason).message);
    }
  };

  useEffect(() => {
    backend
      .imageStatus()
      .then((found) => {
        setStatus(found);
        if (found.state === 'ready') onReady();
        else void prepare();
      })
      .catch((reason: unknown) => setError(toBackendError(reason).message));
    // Runs once: preparing starts by itself, retrying is the person's call.
  }, []);

  return (
    <div class="image-setup">
      <h2>Preparing the workspace</h2>
      <p class="muted">
        Workroom sets up the small Linux system the agent works in. This happens once and takes a few minutes.
      </p>
      {progress && <Progress progress={progress} label="Preparing the workspace" />}
      {status?.state === 'damaged' && !progress && <p class="error-text">The prepared system is damaged: {status.reason}</p>}
      {error && (
        <div role="alert">
          <p class="error-text">{error}</p>
          <button type="button" class="primary" onClick={() => void prepare()}>
            Try again
          </button>
        </div>
      )}
    </div>
  );
}
