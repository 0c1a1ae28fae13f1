import { baseName } from '../model/format';

interface Props {
  recent: string[];
  busy: boolean;
  error: string | null;
  onChoose: () => void;
  onStart: (folder: string) => void;
}

/** The home screen: pick a folder (dialog, drop, or a recent one) to start a session. */
export function Home({ recent, busy, error, onChoose, onStart }: Props) {
  return (
    <section class="home" aria-labelledby="home-title">
      <h1 id="home-title">Start working on a folder</h1>
      <p class="muted">
        The agent works inside a small virtual machine and sees only the folders you share. It asks before it changes
        anything.
      </p>
      <button type="button" class="primary large" onClick={onChoose} disabled={busy}>
        Choose a folder…
      </button>
      <p class="muted drop-hint">or drop a folder onto this window</p>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {recent.length > 0 && (
        <div class="recent">
          <h2>Recent folders</h2>
          <ul>
            {recent.map((folder) => (
              <li key={folder}>
                <button type="button" class="recent-folder" onClick={() => onStart(folder)} disabled={busy}>
                  <span class="recent-name">{baseName(folder)}</span>
                  <span class="muted recent-path">{folder}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
