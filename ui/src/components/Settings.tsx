import { useEffect, useRef, useState } from 'preact/hooks';

import { toBackendError } from '../backend/errors';
import type { AppSettings, ImageProgress, PermissionMode, ProviderStatus, StorageInfo, Userland, UserlandStatus } from '../backend/types';
import { bytes } from '../model/format';
import { hostsText, parseHosts } from '../model/network';
import { MODE_LABELS } from './ChatView';
import { useBackend } from './context';
import { Progress } from './ImageSetup';
import { ProviderForm } from './ProviderForm';

const PROVIDER_NAMES = { anthropic: 'Anthropic (Claude)', openai: 'OpenAI-compatible server' } as const;
const KEY_WORDS = { keychain: 'key in the system keychain', environment: 'key from the environment' } as const;

function NumberField(props: { label: string; value: number; min: number; max: number; step: number; onChange: (v: number) => void; hint?: string }) {
  return (
    <label class="field">
      {props.label}
      <input
        type="number"
        min={props.min}
        max={props.max}
        step={props.step}
        value={props.value}
        onInput={(event) => {
          const value = Number((event.target as HTMLInputElement).value);
          if (Number.isFinite(value)) props.onChange(value);
        }}
      />
      {props.hint && <span class="muted">{props.hint}</span>}
    </label>
  );
}

/** The network fields as typed: kept as text while editing, so commas and new lines stay put. */
interface HostLists {
  allow: string;
  deny: string;
}

const hostLists = (settings: AppSettings): HostLists => ({
  allow: hostsText(settings.network_allow),
  deny: hostsText(settings.network_deny),
});

function HostsField(props: { label: string; value: string; onChange: (v: string) => void; placeholder: string }) {
  return (
    <label class="field">
      {props.label}
      <textarea
        rows={3}
        class="hosts"
        spellcheck={false}
        value={props.value}
        placeholder={props.placeholder}
        onInput={(event) => props.onChange((event.target as HTMLTextAreaElement).value)}
      />
    </label>
  );
}

/** A backend error's message as a sentence. */
const sentence = (reason: unknown) => {
  const text = toBackendError(reason).message;
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/**
 * What the agent's shell commands run in. Saved at once, not with the form: "full" only once it is
 * prepared (the shell refuses it before), so picking it first offers to prepare it.
 */
function Toolset({ saved, onSaved }: { saved: Userland; onSaved: (value: Userland) => void }) {
  const backend = useBackend();
  const [status, setStatus] = useState<UserlandStatus | null>(null);
  /** "Full" is picked but not prepared yet: the setting stays as saved meanwhile. */
  const [wantFull, setWantFull] = useState(false);
  const [progress, setProgress] = useState<ImageProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** LibreOffice wanted in the full toolset (starts as prepared). */
  const [office, setOffice] = useState(false);

  useEffect(() => {
    backend
      .userlandStatus()
      .then((found) => {
        setStatus(found);
        if (found.state === 'ready') setOffice(found.office);
      })
      .catch((reason: unknown) => setError(sentence(reason)));
  }, [backend]);

  const choose = async (value: Userland) => {
    setError(null);
    // Until the status is known, "full" is treated as not prepared: it is offered, not saved.
    const notReady = value === 'full' && status?.state !== 'ready';
    setWantFull(notReady);
    if (notReady) return;
    try {
      onSaved((await backend.setSettings({ userland: value })).userland);
    } catch (reason) {
      setError(sentence(reason));
    }
  };

  const prepare = async () => {
    setError(null);
    setProgress({ step: 'Starting', fraction: 0 });
    try {
      setStatus(await backend.prepareUserland(setProgress, office));
      onSaved((await backend.setSettings({ userland: 'full' })).userland);
    } catch (reason) {
      setError(sentence(reason));
    }
    setProgress(null);
    setWantFull(false);
  };

  const picked = wantFull ? 'full' : saved;
  const stale = status?.state !== 'ready' || !status.current || status.office !== office;
  const prepareLabel =
    status?.state !== 'ready'
      ? `Prepare the full toolset (about ${office ? 205 : 90} MB download)`
      : status.office !== office
        ? office
          ? 'Add LibreOffice (about 115 MB download)'
          : 'Remove LibreOffice'
        : 'Update the full toolset';
  return (
    <section aria-labelledby="settings-toolset">
      <h2 id="settings-toolset">Toolset</h2>
      <label class="choice">
        <input type="radio" name="userland" checked={picked === 'minimal'} disabled={!!progress} onChange={() => void choose('minimal')} />
        <span>
          <strong>Minimal</strong>
          <span class="muted block">Busybox only. Nothing to download; document tools still work.</span>
        </span>
      </label>
      <label class="choice">
        <input type="radio" name="userland" checked={picked === 'full'} disabled={!!progress} onChange={() => void choose('full')} />
        <span>
          <strong>Full</strong>
          <span class="muted block">
            Debian 12 with bash, git, curl, jq, zip, PDF tools, and Python 3 with pip and libraries for Excel, Word,
            PowerPoint, PDF and images.
          </span>
        </span>
      </label>
      {picked === 'full' && (
        <label class="choice">
          <input type="checkbox" checked={office} disabled={!!progress} onChange={(event) => setOffice((event.target as HTMLInputElement).checked)} />
          <span>
            <strong>Include LibreOffice</strong>
            <span class="muted block">Converts Word, PowerPoint and Excel files to PDF and recalculates spreadsheets. About 340 MB more on disk.</span>
          </span>
        </label>
      )}
      {status?.state === 'ready' && (
        <p class="muted">
          Prepared{status.office ? ' with LibreOffice' : ''} · {bytes(status.size_bytes)}
          {status.current ? '' : ' · an update is available'}
        </p>
      )}
      {progress ? (
        <Progress progress={progress} label="Preparing the full toolset" />
      ) : (
        picked === 'full' &&
        stale && (
          <div class="row">
            <button type="button" class="primary" onClick={() => void prepare()}>
              {prepareLabel}
            </button>
          </div>
        )
      )}
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      <p class="muted">Applies to sessions whose virtual machine starts after this.</p>
    </section>
  );
}

/** Provider, model, default permission mode, VM size, toolset, undo, the network, and where the data lives. */
export function Settings({ onClose }: { onClose: () => void }) {
  const backend = useBackend();
  const dialog = useRef<HTMLDivElement>(null);
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const [hosts, setHosts] = useState<HostLists>({ allow: '', deny: '' });
  const [provider, setProvider] = useState<ProviderStatus | null>(null);
  const [storage, setStorage] = useState<StorageInfo | null>(null);
  const [changingProvider, setChangingProvider] = useState(false);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);

  useEffect(() => {
    dialog.current?.focus();
    Promise.all([backend.getSettings(), backend.providerStatus(), backend.storageInfo()])
      .then(([s, p, d]) => {
        setSettings(s);
        setHosts(hostLists(s));
        setProvider(p);
        setStorage(d);
      })
      .catch((reason: unknown) => setMessage({ text: toBackendError(reason).message, error: true }));
  }, [backend]);

  const change = <K extends keyof AppSettings>(key: K, value: AppSettings[K]) =>
    setSettings((current) => (current ? { ...current, [key]: value } : current));

  const save = async (event: Event) => {
    event.preventDefault();
    if (!settings) return;
    // The toolset saves itself (see `Toolset`).
    const { userland: _userland, ...fields } = settings;
    try {
      const saved = await backend.setSettings({
        ...fields,
        network_allow: parseHosts(hosts.allow),
        network_deny: parseHosts(hosts.deny),
        mcp_config: settings.mcp_config?.trim() ? settings.mcp_config.trim() : null,
      });
      setSettings(saved);
      setHosts(hostLists(saved));
      setMessage({ text: 'Saved. New settings apply when a virtual machine next starts.', error: false });
    } catch (reason) {
      setMessage({ text: toBackendError(reason).message, error: true });
    }
  };

  return (
    <div class="modal-backdrop" onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div
        ref={dialog}
        class="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby="settings-title"
        tabIndex={-1}
        onKeyDown={(event) => event.key === 'Escape' && onClose()}
      >
        <header class="modal-header">
          <h1 id="settings-title">Settings</h1>
          <button type="button" class="icon-button" aria-label="Close settings" onClick={onClose}>
            ✕
          </button>
        </header>
        <section aria-labelledby="settings-provider">
          <h2 id="settings-provider">Model service</h2>
          {provider && !changingProvider && (
            <p>
              {PROVIDER_NAMES[provider.kind]}
              {provider.base_url ? ` at ${provider.base_url}` : ''}
              {provider.key_source ? `, ${KEY_WORDS[provider.key_source]}` : ', no key'}.{' '}
              <button type="button" class="link-button" onClick={() => setChangingProvider(true)}>
                Change
              </button>
            </p>
          )}
          {changingProvider && (
            <ProviderForm
              current={provider}
              submitLabel="Save model service"
              onSaved={(status) => {
                setProvider(status);
                setChangingProvider(false);
              }}
            />
          )}
        </section>
        {settings && (
          <form onSubmit={(event) => void save(event)}>
            <section aria-labelledby="settings-agent">
              <h2 id="settings-agent">Agent</h2>
              <label class="field">
                Model
                <input
                  value={settings.model ?? ''}
                  placeholder="The service's default"
                  onInput={(event) => change('model', (event.target as HTMLInputElement).value.trim() || null)}
                />
              </label>
              <label class="field">
                Permissions for new sessions
                <select
                  value={settings.default_permission_mode}
                  onChange={(event) => change('default_permission_mode', (event.target as HTMLSelectElement).value as PermissionMode)}
                >
                  {(Object.keys(MODE_LABELS) as PermissionMode[]).map((mode) => (
                    <option key={mode} value={mode}>
                      {MODE_LABELS[mode]}
                    </option>
                  ))}
                </select>
              </label>
            </section>
            <section aria-labelledby="settings-vm">
              <h2 id="settings-vm">Virtual machine</h2>
              <NumberField label="Memory (MiB)" value={settings.vm_memory_mib} min={256} max={65536} step={256} onChange={(v) => change('vm_memory_mib', v)} />
              <NumberField label="Processors" value={settings.vm_cpus} min={1} max={64} step={1} onChange={(v) => change('vm_cpus', v)} />
              <NumberField
                label="Stop when idle for (minutes)"
                value={settings.idle_minutes}
                min={1}
                max={1440}
                step={1}
                onChange={(v) => change('idle_minutes', v)}
                hint="It starts again with the next message."
              />
            </section>
            <Toolset saved={settings.userland} onSaved={(value) => change('userland', value)} />
            <section aria-labelledby="settings-undo">
              <h2 id="settings-undo">Undo</h2>
              <NumberField
                label="Turns kept for undo, per session"
                value={settings.checkpoint_keep_turns}
                min={1}
                max={10000}
                step={1}
                onChange={(v) => change('checkpoint_keep_turns', v)}
              />
              <NumberField
                label="Days kept for undo"
                value={settings.checkpoint_max_days}
                min={1}
                max={3650}
                step={1}
                onChange={(v) => change('checkpoint_max_days', v)}
              />
              <NumberField
                label="Largest checkpoint (MB)"
                value={settings.checkpoint_max_mb}
                min={0}
                max={1048576}
                step={64}
                onChange={(v) => change('checkpoint_max_mb', v)}
                hint="Before a turn that would copy more, Workroom asks whether to go on without undo. 0: no limit."
              />
              <label class="check">
                <input
                  type="checkbox"
                  checked={settings.checkpoint_skip_git}
                  onChange={(event) => change('checkpoint_skip_git', (event.target as HTMLInputElement).checked)}
                />
                Leave .git folders out of checkpoints
              </label>
            </section>
            <section aria-labelledby="settings-network">
              <h2 id="settings-network">Network</h2>
              <p class="muted">
                The agent's tools ask before they reach any other host. The model provider is never reachable by tools. Write one
                host per line, or separate them with commas; a host covers its subdomains, and * covers every host.
              </p>
              <HostsField
                label="Reachable without asking"
                value={hosts.allow}
                placeholder="pypi.org"
                onChange={(allow) => setHosts((current) => ({ ...current, allow }))}
              />
              <HostsField
                label="Never reachable"
                value={hosts.deny}
                placeholder="tracker.example.com"
                onChange={(deny) => setHosts((current) => ({ ...current, deny }))}
              />
            </section>
            <section aria-labelledby="settings-connectors">
              <h2 id="settings-connectors">Connectors</h2>
              <p class="muted">
                MCP servers in a file of Claude Code's .mcp.json format run on this computer, outside the virtual machine; their
                tools ask like any other. Empty: the mcp.json file in the data folder, if there is one.
              </p>
              <label class="field">
                Configuration file
                <input
                  type="text"
                  spellcheck={false}
                  value={settings.mcp_config ?? ''}
                  placeholder="/home/me/.mcp.json"
                  onInput={(event) => change('mcp_config', (event.target as HTMLInputElement).value)}
                />
              </label>
            </section>
            <section aria-labelledby="settings-data">
              <h2 id="settings-data">Data</h2>
              {storage ? (
                <p>
                  <code>{storage.data_dir}</code> uses {bytes(storage.used_bytes)}
                  {storage.checkpoint_bytes > 0 ? `, of which undo checkpoints take ${bytes(storage.checkpoint_bytes)}` : ''}.
                </p>
              ) : (
                <p class="muted">Measuring…</p>
              )}
            </section>
            <div class="row">
              <button type="submit" class="primary">
                Save settings
              </button>
              <button type="button" onClick={onClose}>
                Close
              </button>
            </div>
          </form>
        )}
        {message && (
          <p class={message.error ? 'error-text' : 'muted'} role={message.error ? 'alert' : 'status'}>
            {message.text}
          </p>
        )}
      </div>
    </div>
  );
}
