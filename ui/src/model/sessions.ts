/** The session list as the sidebar shows it: grouped by working folder, filtered by a search. */
import type { SessionRecord } from '../backend/types';
import { baseName } from './format';

export interface SessionGroup {
  /** The working folder (first folder) of the sessions in it. */
  folder: string;
  /** Its name; the full path when two groups would otherwise read the same. */
  label: string;
  sessions: SessionRecord[];
}

/** Whether every word of `query` appears in the session's title or one of its folders. */
export function matchesSearch(session: SessionRecord, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [session.title, ...session.folders].join('\n').toLowerCase();
  return words.every((word) => haystack.includes(word));
}

/** Sessions grouped by working folder; newest session first, groups by their newest session. */
export function groupSessions(sessions: SessionRecord[], query = ''): SessionGroup[] {
  const byFolder = new Map<string, SessionRecord[]>();
  const newestFirst = sessions
    .filter((session) => matchesSearch(session, query))
    .sort((a, b) => b.updated_at - a.updated_at);
  for (const session of newestFirst) {
    const folder = session.folders[0] ?? '';
    const group = byFolder.get(folder);
    if (group) group.push(session);
    else byFolder.set(folder, [session]);
  }
  const names = [...byFolder.keys()].map(baseName);
  return [...byFolder.entries()].map(([folder, list]) => {
    const name = folder ? baseName(folder) : 'No folder';
    const ambiguous = names.filter((n) => n === baseName(folder)).length > 1;
    return { folder, label: ambiguous ? folder : name, sessions: list };
  });
}

/** Folders of recent sessions, newest first, each once. */
export function recentFolders(sessions: SessionRecord[], limit = 5): string[] {
  const seen: string[] = [];
  for (const session of [...sessions].sort((a, b) => b.updated_at - a.updated_at)) {
    for (const folder of session.folders) {
      if (!seen.includes(folder)) seen.push(folder);
    }
  }
  return seen.slice(0, limit);
}
