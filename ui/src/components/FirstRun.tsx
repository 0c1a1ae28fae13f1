import { useState } from 'preact/hooks';

import type { ProviderStatus } from '../backend/types';
import { ImageSetup } from './ImageSetup';
import { ProviderForm } from './ProviderForm';

/** The first run: choose a model service, then wait for the workspace image; no terminal needed. */
export function FirstRun({ provider, onDone }: { provider: ProviderStatus | null; onDone: () => void }) {
  const [step, setStep] = useState<'provider' | 'image'>(provider?.configured ? 'image' : 'provider');
  return (
    <main class="first-run" aria-labelledby="first-run-title">
      <h1 id="first-run-title">Welcome to Workroom</h1>
      <ol class="steps" aria-label="Setup steps">
        <li aria-current={step === 'provider' ? 'step' : undefined}>Model service</li>
        <li aria-current={step === 'image' ? 'step' : undefined}>Workspace</li>
      </ol>
      {step === 'provider' ? (
        <ProviderForm current={provider} submitLabel="Continue" onSaved={() => setStep('image')} />
      ) : (
        <ImageSetup onReady={onDone} />
      )}
    </main>
  );
}
