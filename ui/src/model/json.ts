/**
 * Reading untrusted JSON (agent frames, tool inputs) without `any`: every accessor checks the type
 * and falls back to a neutral value, so a frame of an unexpected shape renders as little, never
 * crashes the page.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function obj(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `value.key` as a string, or `''`. */
export function field(value: unknown, key: string): string {
  return str(obj(value)[key]) ?? '';
}
