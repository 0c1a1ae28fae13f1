import type { BackendError, ErrorCode } from './backend';

const KNOWN_CODES: readonly ErrorCode[] = [
  'no_such_session',
  'folder_not_shareable',
  'image_missing',
  'keychain',
  'disk_full',
  'unsupported',
  'nothing_to_undo',
  'busy',
  'unknown',
];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Whether `value` already is a `BackendError`. */
export function isBackendError(value: unknown): value is BackendError {
  return (
    isRecord(value) &&
    typeof value.message === 'string' &&
    typeof value.code === 'string' &&
    (KNOWN_CODES as readonly string[]).includes(value.code)
  );
}

/**
 * Any rejection (the shell's `{code, message}`, an `Error`, a string) as a `BackendError`, so the
 * page has one shape to show. Codes the page does not know become `unknown`, as GitButler does.
 */
export function toBackendError(reason: unknown): BackendError {
  if (isBackendError(reason)) return reason;
  if (isRecord(reason) && typeof reason.message === 'string') {
    const code = typeof reason.code === 'string' ? reason.code : 'unknown';
    return {
      code: (KNOWN_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'unknown',
      message: reason.message,
    };
  }
  if (typeof reason === 'string') return { code: 'unknown', message: reason };
  return { code: 'unknown', message: 'Something went wrong.' };
}

export function backendError(code: ErrorCode, message: string): BackendError {
  return { code, message };
}
