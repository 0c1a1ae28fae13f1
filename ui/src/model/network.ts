/**
 * The agent's tools on the network: the host's `workroom_network` records read safely and said in
 * words, and the host lists of the network settings.
 */
import type { NetworkDecider, NetworkRequest } from '../backend/types';
import { field, num, obj, str } from './json';

const DECIDERS: readonly NetworkDecider[] = ['rule', 'session', 'you', 'provider', 'error'];

/** A `workroom_network` record, or `null` when it names no host. */
export function readNetworkRequest(value: unknown): NetworkRequest | null {
  const r = obj(value);
  const host = str(r.host);
  if (!host) return null;
  // A decider this page does not know yet still reads as the person's decision ("by you").
  const by = DECIDERS.find((d) => d === r.by) ?? 'you';
  return {
    host,
    port: num(r.port) ?? 0,
    method: field(r, 'method') || 'CONNECT',
    target: field(r, 'target') || host,
    allowed: r.allowed === true,
    by,
  };
}

/** Why a request went out or not: "allowed by your network settings", "refused by you". */
export function networkReason(request: NetworkRequest): string {
  if (request.by === 'error') return 'allowed, but the server could not be reached';
  if (request.allowed) {
    if (request.by === 'rule') return 'allowed by your network settings';
    if (request.by === 'session') return 'allowed for this session';
    return 'allowed by you';
  }
  if (request.by === 'provider') return 'refused: only the model proxy may reach the model provider';
  if (request.by === 'rule') return 'refused by your network settings';
  return 'refused by you';
}

/** Whether the request got through: refused, or allowed but unreachable, count as not. */
export function reachedServer(request: NetworkRequest): boolean {
  return request.allowed && request.by !== 'error';
}

/** The mark before a request: out (↗) or not (✗). */
export function networkMark(request: NetworkRequest): string {
  return reachedServer(request) ? '↗' : '✗';
}

/** "GET http://example.com/page — allowed by your network settings". */
export function networkText(request: NetworkRequest): string {
  return `${request.method} ${request.target} — ${networkReason(request)}`;
}

/** The line over several requests in a row: "3 network requests, 1 refused". */
export function networkGroupText(requests: NetworkRequest[]): string {
  const failed = requests.filter((r) => !reachedServer(r)).length;
  const refused = requests.filter((r) => !r.allowed).length;
  const unreachable = failed - refused;
  const notes = [refused > 0 ? `${refused} refused` : '', unreachable > 0 ? `${unreachable} unreachable` : ''].filter(Boolean);
  return `${requests.length} network requests${notes.length > 0 ? `, ${notes.join(', ')}` : ''}`;
}

/** The hosts of a settings field: one per line, or separated by commas or spaces; blanks left out. */
export function parseHosts(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((host) => host.trim())
    .filter((host) => host !== '');
}

/** A host list as the settings field shows it: one per line. */
export function hostsText(hosts: readonly string[]): string {
  return hosts.join('\n');
}
