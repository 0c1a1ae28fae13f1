import { useState } from 'preact/hooks';

import type { VmState } from '../backend/types';
import { seconds } from '../model/format';

interface Props {
  vm: VmState | null;
  /** Sends the message that did not get through again; `null` when there is none. */
  onRetry: (() => void) | null;
  /** Fetches the guest console log when the failure did not carry it. */
  loadConsoleLog: () => Promise<string>;
  onStopVm: () => void;
}

/** How the session's virtual machine is doing, in a line (or, when it failed, a box that says why). */
export function VmStatus({ vm, onRetry, loadConsoleLog, onStopVm }: Props) {
  const [log, setLog] = useState<string | null>(null);
  const [logError, setLogError] = useState<string | null>(null);

  if (vm === null) {
    return <p class="vm-status vm-idle">Not running. The virtual machine starts when you send a message.</p>;
  }
  switch (vm.state) {
    case 'booting':
      return (
        <p class="vm-status vm-booting" role="status">
          <span class="spinner" aria-hidden="true" /> Starting: {vm.step}…
        </p>
      );
    case 'running':
      return (
        <p class="vm-status vm-running">
          <span class="dot dot-ok" aria-hidden="true" /> Running ({vm.accel === 'kvm' || vm.accel === 'hvf' ? 'hardware accelerated' : vm.accel}, started in{' '}
          {seconds(vm.boot_ms)}
          {vm.userland === 'full' ? ', full toolset' : ''})
          <button type="button" class="link-button" onClick={onStopVm}>
            Stop the virtual machine
          </button>
          {vm.userland_error && (
            <span class="error-text block" role="alert">
              The full toolset did not start ({vm.userland_error}); commands use the minimal one.
            </span>
          )}
        </p>
      );
    case 'stopped':
      return (
        <p class="vm-status vm-stopped">
          <span class="dot" aria-hidden="true" /> Not running: it starts again when you send a message.
          {!vm.reason.includes('next message') && <span>({vm.reason})</span>}
        </p>
      );
    case 'failed': {
      const showLog = async () => {
        if (log !== null) {
          setLog(null);
          return;
        }
        if (vm.console_tail) {
          setLog(vm.console_tail);
          return;
        }
        try {
          setLog(await loadConsoleLog());
          setLogError(null);
        } catch {
          setLogError('The console log could not be read.');
        }
      };
      return (
        <div class="vm-status vm-failed" role="alert">
          <p class="vm-failed-title">The virtual machine is not working</p>
          <p>{vm.reason}</p>
          <p class="muted">Your conversation is saved. {onRetry ? '' : 'Send a message to start it again.'}</p>
          <div class="row">
            {onRetry && (
              <button type="button" class="primary" onClick={onRetry}>
                Retry
              </button>
            )}
            <button type="button" onClick={() => void showLog()} aria-expanded={log !== null}>
              {log !== null ? 'Hide console log' : 'Show console log'}
            </button>
          </div>
          {logError && <p class="error-text">{logError}</p>}
          {log !== null && (
            <pre class="console-log" aria-label="Guest console log">
              {log || 'The console log is empty.'}
            </pre>
          )}
        </div>
      );
    }
  }
}
