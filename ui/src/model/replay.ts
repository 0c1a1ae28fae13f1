import type { SessionSnapshot } from '../backend/types';
import { reduce } from './reducer';
import { emptyView, type SessionView } from './view';

/**
 * The view of a session as it is when the window opens it: its stored transcript replayed, then
 * the host's pending questions and VM state. A window reload lands here too, which is how pending
 * questions survive it.
 */
export function viewFromSnapshot(snapshot: SessionSnapshot): SessionView {
  let view: SessionView = { ...emptyView(), permissionMode: snapshot.record.permission_mode, model: snapshot.record.model };
  for (const record of snapshot.transcript) {
    view = reduce(view, { type: 'stored', record });
  }
  return reduce(view, { type: 'snapshot', pending: snapshot.pending, vm: snapshot.vm });
}
