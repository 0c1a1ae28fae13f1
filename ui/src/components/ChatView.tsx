import { useCallback, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

import type { PermissionMode } from '../backend/types';
import type { SessionController } from '../model/controller';
import { baseName } from '../model/format';
import { callsIn, subagentOf } from '../model/subagents';
import { subagentName } from '../model/tools';
import { laterChangedTurns } from '../model/undo';
import { isBusy, type ChatItem, type SessionView } from '../model/view';
import { PureChangesCard } from './ChangesCard';
import { PureChatItem, UserMessage } from './ChatItemView';
import { Composer } from './Composer';
import { useBackend, useSessionView } from './context';
import { FileActionsContext, sessionFileActions } from './fileActions';
import { FilePreviewDialog } from './FilePreviewDialog';
import { PermissionCard } from './PermissionCard';
import { TodoPanel } from './TodoPanel';
import { ConflictDialog, OverCapDialog, useUndo } from './Undo';
import { VmStatus } from './VmStatus';

export const MODE_LABELS: Record<PermissionMode, string> = {
  default: 'Ask before changes',
  acceptEdits: 'Allow file edits, ask for the rest',
  plan: 'Plan only, change nothing',
  bypassPermissions: 'Never ask',
};

/** Modes offered in a session; "never ask" stays a deliberate choice in Settings. */
const SESSION_MODES: PermissionMode[] = ['default', 'acceptEdits', 'plan'];

/** The person's last message that never reached the agent, to send again. */
function lastUndelivered(view: SessionView): string | null {
  for (let i = view.items.length - 1; i >= 0; i -= 1) {
    const item = view.items[i];
    if (item?.kind === 'user') return item.undelivered ? item.text : null;
  }
  return null;
}

/** The tool calls in `item` (its sub-agent's included) whose permission question is open. */
function waitingIn(item: ChatItem, open: Set<string | null>): string[] {
  return callsIn(item).flatMap((call) => (open.has(call.toolUseId) ? [call.toolUseId] : []));
}

/** The sub-agent a question comes from, by its task; `null` for the main agent's own. */
function askingSubagent(view: SessionView, toolUseId: string | null): string | null {
  const task = subagentOf(view.items, toolUseId);
  return task ? subagentName(task.input) : null;
}

/** Keeps the newest content in sight while the person has not scrolled up to read. */
function useStickToBottom(dependency: unknown) {
  const scroller = useRef<HTMLDivElement>(null);
  const stuck = useRef(true);
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && stuck.current) element.scrollTop = element.scrollHeight;
  }, [dependency]);
  const onScroll = () => {
    const element = scroller.current;
    if (element) stuck.current = element.scrollHeight - element.scrollTop - element.clientHeight < 48;
  };
  return { scroller, onScroll };
}

export function ChatView({ controller }: { controller: SessionController }) {
  const backend = useBackend();
  const view = useSessionView(controller.store);
  const record = controller.record;
  const { scroller, onScroll } = useStickToBottom(view);
  const retryText = lastUndelivered(view);
  const busy = isBusy(view);
  const openQuestions = new Set(view.pending.map((prompt) => prompt.tool_use_id));
  const mode = (view.permissionMode ?? record?.permission_mode ?? 'default') as PermissionMode;
  const undo = useUndo(controller);
  const later = laterChangedTurns(view);
  const loadDiff = useCallback((turn: number, folder: string, path: string) => controller.changeDiff(turn, folder, path), [controller]);
  const heldBack = view.overCap[0];
  /** A message handed back to the composer (the person cancelled sending it without undo). */
  const [refill, setRefill] = useState<{ text: string } | null>(null);
  /** The file whose preview is open (its path as its Preview button gave it). */
  const [previewing, setPreviewing] = useState<string | null>(null);
  const folders = record?.folders ?? [];
  // One value while the folders stay the same, so cards that keep their own state keep it.
  const fileActions = useMemo(
    () => sessionFileActions(backend, controller.id, folders, setPreviewing),
    [backend, controller.id, folders.join('\n')],
  );

  const addFolder = async () => {
    const folder = await backend.pickFolder().catch(() => null);
    if (folder) await controller.addFolder(folder);
  };

  return (
    <FileActionsContext.Provider value={fileActions}>
      <section class="chat" aria-label={`Conversation: ${record?.title ?? 'session'}`}>
        <header class="chat-header">
          <div class="chat-title">
            <h1>{record?.title ?? 'Session'}</h1>
            <ul class="folder-chips" aria-label="Shared folders">
              {(record?.folders ?? []).map((folder) => (
                <li key={folder} class="chip" title={folder}>
                  {baseName(folder)}
                </li>
              ))}
              <li>
                <button type="button" class="link-button" onClick={() => void addFolder()}>
                  + Add folder
                </button>
              </li>
            </ul>
          </div>
          <label class="mode-select">
            <span class="muted">Permissions</span>
            <select
              value={mode}
              onChange={(event) => void controller.setMode((event.target as HTMLSelectElement).value as PermissionMode)}
            >
              {[...new Set([...SESSION_MODES, mode])].map((option) => (
                <option key={option} value={option}>
                  {MODE_LABELS[option] ?? option}
                </option>
              ))}
            </select>
          </label>
        </header>
        <VmStatus
          vm={view.vm}
          onRetry={retryText ? () => void controller.send(retryText) : null}
          loadConsoleLog={() => controller.consoleLog()}
          onStopVm={() => void controller.stopVm()}
        />
        <div class="chat-scroll" ref={scroller} onScroll={onScroll}>
          <div class="chat-items" role="log" aria-live="polite" aria-relevant="additions">
            {view.items.length === 0 && view.queued.length === 0 && (
              <p class="empty-chat muted">Tell the agent what to do with your folder. It asks before changing anything.</p>
            )}
            {view.items.map((item) =>
              item.kind === 'changes' ? (
                <PureChangesCard
                  key={item.key}
                  item={item}
                  busy={busy}
                  pending={undo.working !== null}
                  working={undo.working === item.turn}
                  redoable={item.undone && view.undo.redo?.turn === item.turn}
                  laterTurns={later.get(item.turn) ?? 0}
                  note={undo.notes[item.turn] ?? null}
                  onUndo={undo.undo}
                  onRedo={undo.redo}
                  loadDiff={loadDiff}
                />
              ) : (
                <PureChatItem key={item.key} item={item} waiting={waitingIn(item, openQuestions)} />
              ),
            )}
            {busy && view.pending.length === 0 && view.vm?.state !== 'booting' && (
              <p class="working muted" role="status">
                <span class="spinner" aria-hidden="true" /> {view.stopping ? 'Stopping…' : 'Working…'}
              </p>
            )}
          </div>
          {view.pending.map((prompt, index) => (
            <PermissionCard
              key={prompt.request_id}
              prompt={prompt}
              from={askingSubagent(view, prompt.tool_use_id)}
              autoFocus={index === 0}
              onAnswer={(answer) => void controller.answer(prompt, answer)}
            />
          ))}
          {view.queued.length > 0 && (
            <div class="chat-items queued-messages">
              {view.queued.map((queued) => (
                <UserMessage key={queued.key} text={queued.text} note={null} queued />
              ))}
            </div>
          )}
        </div>
        <TodoPanel todos={view.todos} />
        <Composer
          busy={busy}
          stopping={view.stopping}
          refill={refill}
          onSend={(text) => void controller.send(text)}
          onStop={() => void controller.interrupt()}
        />
        {undo.asking && <ConflictDialog asking={undo.asking} onResolve={undo.resolve} onCancel={undo.cancel} />}
        {heldBack && !undo.asking && (
          <OverCapDialog
            held={heldBack}
            onSend={() => void controller.sendWithoutUndo()}
            onCancel={() => {
              const text = controller.keepBackOverCap();
              if (text !== null) setRefill({ text });
            }}
          />
        )}
        {previewing !== null && <FilePreviewDialog path={previewing} actions={fileActions} onClose={() => setPreviewing(null)} />}
      </section>
    </FileActionsContext.Provider>
  );
}
