/** Numbers, durations and paths as a person reads them (same words as the CLI's `render.rs`). */

/** `850 ms`, `3.2 s`, `2 min 5 s`. */
export function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
}

/** `1,234,567`. */
export function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `$0.0123`: four decimals, because single turns often cost less than a cent. */
export function dollars(amount: number): string {
  return `$${amount.toFixed(amount >= 10 ? 2 : 4)}`;
}

/** `12 KB`, `3.4 GB`. */
export function bytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value >= 10 ? 0 : 1)} ${units[unit]}`;
}

/** At most `width` characters, with an ellipsis when cut. */
export function clip(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length <= width ? text : `${chars.slice(0, width - 1).join('')}…`;
}

const GUEST_MOUNT = /\/sessions\/[^/\s]+\/mnt\//g;

/** A guest path as the person knows it: `/sessions/<id>/mnt/Taxes 2026/a.txt` → `Taxes 2026/a.txt`. */
export function displayPath(path: string): string {
  const match = /^\/sessions\/[^/\s]+\/mnt\/(.*)$/.exec(path);
  return match?.[1] ?? path;
}

/** Every guest path in `text` as the person knows it (see `displayPath`). */
export function friendlyPaths(text: string): string {
  return text.replace(GUEST_MOUNT, '');
}

/** The last part of a host path: `/home/ann/Taxes 2026` → `Taxes 2026`. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[/\\]+$/, '');
  const parts = trimmed.split(/[/\\]/);
  return parts[parts.length - 1] || trimmed || path;
}

/** The first line, with ` …` when there are more. */
export function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline < 0 ? text : `${text.slice(0, newline)} …`;
}

/** "just now", "5 min ago", "yesterday", "3 Mar". */
export function relativeTime(unixSeconds: number, nowMs: number = Date.now()): string {
  const diff = Math.max(0, nowMs / 1000 - unixSeconds);
  if (diff < 60) return 'just now';
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86_400) return `${Math.floor(diff / 3600)} h ago`;
  if (diff < 2 * 86_400) return 'yesterday';
  return new Date(unixSeconds * 1000).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}
