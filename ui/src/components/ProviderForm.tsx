import { useState } from 'preact/hooks';

import { toBackendError } from '../backend/errors';
import type { ProviderKind, ProviderSetup, ProviderStatus } from '../backend/types';
import { useBackend } from './context';

const DEFAULT_OPENAI_URL = 'http://127.0.0.1:11434/v1';

interface Props {
  current: ProviderStatus | null;
  submitLabel: string;
  onSaved: (status: ProviderStatus) => void;
}

/** Choosing the model service: an Anthropic key, or an OpenAI-compatible server such as Ollama. */
export function ProviderForm({ current, submitLabel, onSaved }: Props) {
  const backend = useBackend();
  const [kind, setKind] = useState<ProviderKind>(current?.kind ?? 'anthropic');
  const [apiKey, setApiKey] = useState('');
  const [url, setUrl] = useState(current?.kind === 'openai' ? (current.base_url ?? DEFAULT_OPENAI_URL) : DEFAULT_OPENAI_URL);
  const [model, setModel] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const haveKey = current?.kind === kind && current.key_source !== null;

  const validate = (): string | null => {
    if (kind === 'anthropic' && apiKey.trim() === '' && !haveKey) return 'Paste your Anthropic API key.';
    if (kind === 'openai' && !/^https?:\/\/\S+$/i.test(url.trim())) return 'The server address starts with http:// or https://.';
    return null;
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = validate();
    if (problem) {
      setError(problem);
      return;
    }
    const setup: ProviderSetup =
      kind === 'anthropic'
        ? { kind, api_key: apiKey.trim() }
        : { kind, base_url: url.trim(), ...(apiKey.trim() ? { api_key: apiKey.trim() } : {}), ...(model.trim() ? { model: model.trim() } : {}) };
    setSaving(true);
    setError(null);
    try {
      const status = await backend.setProvider(setup);
      setApiKey('');
      onSaved(status);
    } catch (reason) {
      setError(toBackendError(reason).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form class="provider-form" onSubmit={(event) => void submit(event)}>
      <fieldset>
        <legend>Which model service should the agent use?</legend>
        <label class="choice">
          <input type="radio" name="provider" checked={kind === 'anthropic'} onChange={() => setKind('anthropic')} />
          <span>
            <strong>Anthropic (Claude)</strong>
            <span class="muted block">Needs an API key from the Anthropic console.</span>
          </span>
        </label>
        <label class="choice">
          <input type="radio" name="provider" checked={kind === 'openai'} onChange={() => setKind('openai')} />
          <span>
            <strong>A local or OpenAI-compatible server</strong>
            <span class="muted block">Ollama, llama.cpp, LM Studio, vLLM… on this computer or your network.</span>
          </span>
        </label>
      </fieldset>
      {kind === 'anthropic' ? (
        <label class="field">
          API key
          <input
            type="password"
            autoComplete="off"
            value={apiKey}
            placeholder={haveKey ? 'A key is saved; paste a new one to replace it' : 'sk-ant-…'}
            onInput={(event) => setApiKey((event.target as HTMLInputElement).value)}
          />
          <span class="muted">Kept in your system keychain, never in Workroom's files or the virtual machine.</span>
        </label>
      ) : (
        <>
          <label class="field">
            Server address
            <input type="url" value={url} onInput={(event) => setUrl((event.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            Model name
            <input
              value={model}
              placeholder="for example qwen2.5-coder:14b"
              onInput={(event) => setModel((event.target as HTMLInputElement).value)}
            />
          </label>
          <label class="field">
            API key (if the server needs one)
            <input type="password" autoComplete="off" value={apiKey} onInput={(event) => setApiKey((event.target as HTMLInputElement).value)} />
          </label>
        </>
      )}
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={saving}>
        {saving ? 'Saving…' : submitLabel}
      </button>
    </form>
  );
}
