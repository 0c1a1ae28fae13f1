import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import type { Backend } from '../backend/backend';
import { toBackendError } from '../backend/errors';
import type { PermissionPrompt, ProviderStatus, SessionRecord } from '../backend/types';
import { SessionController } from '../model/controller';
import { PROMPT_KICKERS, promptKind } from '../model/prompts';
import type { Schedule } from '../model/store';
import { recentFolders } from '../model/sessions';
import { isBusy } from '../model/view';
import { ChatView } from './ChatView';
import { BackendContext, useBackend } from './context';
import { FirstRun } from './FirstRun';
import { Home } from './Home';
import { Sidebar, type SessionActivity } from './Sidebar';

type Phase = 'loading' | 'first_run' | 'ready' | 'broken';

/** Links in model output never navigate the app's window: they open in the browser, if at all. */
function useExternalLinks(backend: Backend) {
  useEffect(() => {
    const onClick = (event: MouseEvent) => {
      const anchor = (event.target as Element | null)?.closest?.('a[href]');
      if (!anchor) return;
      const href = anchor.getAttribute('href') ?? '';
      if (href.startsWith('#')) return;
      event.preventDefault();
      if (/^(https?:|mailto:)/i.test(href)) void backend.openLink(href).catch(() => undefined);
    };
    document.addEventListener('click', onClick);
    return () => document.removeEventListener('click', onClick);
  }, [backend]);
}

/** Sessions opened in this window, each with its store; they keep listening while another is shown. */
function useSessionControllers(backend: Backend, schedule: Schedule | undefined, onActivity: (id: string) => void) {
  const controllers = useRef(new Map<string, { controller: SessionController; opening: Promise<void>; stop: () => void }>());
  const [activity, setActivity] = useState<Record<string, SessionActivity>>({});

  const onPermission = useCallback(
    (_id: string, prompt: PermissionPrompt) => {
      if (!document.hasFocus()) {
        void backend.notify(PROMPT_KICKERS[promptKind(prompt)], prompt.summary.replace(/`/g, '')).catch(() => undefined);
      }
    },
    [backend],
  );

  const get = (id: string) => {
    const known = controllers.current.get(id);
    if (known) return known;
    const controller = new SessionController(id, backend, { onPermission, onActivity }, schedule);
    const stop = controller.store.subscribe(() => {
      const view = controller.store.get();
      const next: SessionActivity = { waitingForYou: view.pending.length > 0, working: isBusy(view) };
      setActivity((current) => {
        const previous = current[id];
        if (previous?.waitingForYou === next.waitingForYou && previous.working === next.working) return current;
        return { ...current, [id]: next };
      });
    });
    const entry = { controller, opening: controller.open(), stop };
    controllers.current.set(id, entry);
    return entry;
  };

  const forget = (id: string) => {
    const entry = controllers.current.get(id);
    entry?.stop();
    entry?.controller.close();
    controllers.current.delete(id);
  };

  useEffect(
    () => () => {
      for (const id of [...controllers.current.keys()]) forget(id);
    },
    // Closing on unmount only.
    [],
  );

  return { get, forget, activity };
}

function Workspace({ schedule }: { schedule: Schedule | undefined }) {
  const backend = useBackend();
  const [sessions, setSessions] = useState<SessionRecord[]>([]);
  const [active, setActive] = useState<SessionController | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  /** The settings screen, loaded the first time it opens: the first screen starts without it. */
  const [SettingsScreen, setSettingsScreen] = useState<typeof import('./Settings').Settings | null>(null);
  const openSettings = () => {
    setSettingsOpen(true);
    if (!SettingsScreen) void import('./Settings').then((module) => setSettingsScreen(() => module.Settings));
  };
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setSessions(await backend.listSessions());
    } catch (reason) {
      setError(`The sessions could not be listed: ${toBackendError(reason).message}`);
    }
  }, [backend]);

  const controllers = useSessionControllers(backend, schedule, () => void refresh());

  const open = async (id: string) => {
    const entry = controllers.get(id);
    setActive(entry.controller);
    setError(null);
    try {
      await entry.opening;
      setActive(entry.controller);
    } catch (reason) {
      controllers.forget(id);
      setActive(null);
      setError(`The session could not be opened: ${toBackendError(reason).message}`);
      void refresh();
    }
  };

  const start = async (folders: string[]) => {
    if (folders.length === 0) return;
    setStarting(true);
    setError(null);
    try {
      const record = await backend.createSession(folders);
      await refresh();
      await open(record.id);
    } catch (reason) {
      setError(toBackendError(reason).message);
    } finally {
      setStarting(false);
    }
  };

  const choose = async () => {
    try {
      const folder = await backend.pickFolder();
      if (folder) await start([folder]);
    } catch (reason) {
      setError(toBackendError(reason).message);
    }
  };

  const rename = async (id: string, title: string) => {
    try {
      await backend.renameSession(id, title);
      if (active?.id === id && active.record) active.record = { ...active.record, title };
    } catch (reason) {
      setError(`The session could not be renamed: ${toBackendError(reason).message}`);
    }
    await refresh();
  };

  const remove = async (id: string) => {
    try {
      controllers.forget(id);
      await backend.deleteSession(id);
      if (active?.id === id) setActive(null);
    } catch (reason) {
      setError(`The session could not be deleted: ${toBackendError(reason).message}`);
    }
    await refresh();
  };

  useEffect(() => {
    // Interactive once the session list is drawn: the frame after it arrives.
    void refresh().then(() => requestAnimationFrame(() => void backend.pageReady().catch(() => undefined)));
    // Folders given on the command line open without the dialog (the e2e tests start the app so).
    void backend
      .takeLaunchFolders()
      .then((folders) => start(folders))
      .catch(() => undefined);
    return backend.onFoldersToOpen((paths) => void start(paths));
    // Once per backend.
  }, [backend]);

  return (
    <div class="app">
      <Sidebar
        sessions={sessions}
        activeId={active?.id ?? null}
        activity={controllers.activity}
        onOpen={(id) => void open(id)}
        onNew={() => setActive(null)}
        onRename={(id, title) => void rename(id, title)}
        onDelete={(id) => void remove(id)}
        onSettings={openSettings}
      />
      <main class="main">
        {error && active && (
          <p class="error-banner" role="alert">
            {error}
          </p>
        )}
        {active ? (
          <ChatView key={active.id} controller={active} />
        ) : (
          <Home recent={recentFolders(sessions)} busy={starting} error={error} onChoose={() => void choose()} onStart={(folder) => void start([folder])} />
        )}
      </main>
      {settingsOpen && SettingsScreen && <SettingsScreen onClose={() => setSettingsOpen(false)} />}
    </div>
  );
}

function Shell({ schedule }: { schedule: Schedule | undefined }) {
  const backend = useBackend();
  const [phase, setPhase] = useState<Phase>('loading');
  const [provider, setProvider] = useState<ProviderStatus | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useExternalLinks(backend);

  useEffect(() => {
    Promise.all([backend.providerStatus(), backend.imageStatus()])
      .then(([status, image]) => {
        setProvider(status);
        setPhase(status.configured && image.state === 'ready' ? 'ready' : 'first_run');
      })
      .catch((reason: unknown) => {
        setProblem(toBackendError(reason).message);
        setPhase('broken');
      });
  }, [backend]);

  switch (phase) {
    case 'loading':
      return (
        <p class="loading" role="status">
          Opening Workroom…
        </p>
      );
    case 'broken':
      return (
        <main class="first-run">
          <h1>Workroom cannot start</h1>
          <p class="error-text" role="alert">
            {problem}
          </p>
        </main>
      );
    case 'first_run':
      return <FirstRun provider={provider} onDone={() => setPhase('ready')} />;
    case 'ready':
      return <Workspace schedule={schedule} />;
  }
}

/** The whole page. `schedule` lets tests render synchronously. */
export function App({ backend, schedule }: { backend: Backend; schedule?: Schedule }) {
  return (
    <BackendContext.Provider value={backend}>
      <Shell schedule={schedule} />
    </BackendContext.Provider>
  );
}
