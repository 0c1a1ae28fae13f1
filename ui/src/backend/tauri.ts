/**
 * `Backend` over the desktop shell (`src-tauri/`, crate `workroom-app`). Command names and argument
 * shapes are the contract in `ui/BACKEND.md`; keep the two in step. This is the only module that
 * imports `@tauri-apps/*`.
 *
 * Argument keys are camelCase here: Tauri maps them to the Rust parameters' snake_case names.
 */
import { Channel, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { open as openDialog } from '@tauri-apps/plugin-dialog';
import { openUrl } from '@tauri-apps/plugin-opener';
import {
  isPermissionGranted,
  requestPermission,
  sendNotification,
} from '@tauri-apps/plugin-notification';

import type { Backend, SessionSubscription, Unsubscribe } from './backend';
import { toBackendError } from './errors';
import type {
  AppSettings,
  FilePreview,
  FrameRecord,
  ImageProgress,
  ImageStatus,
  NewSessionOptions,
  OnConflict,
  PermissionAnswer,
  PermissionMode,
  ProviderSetup,
  ProviderStatus,
  SendOptions,
  SessionEvent,
  SessionRecord,
  SessionSnapshot,
  StorageInfo,
  TurnChanges,
  UndoResult,
  UserlandStatus,
} from './types';

/** App-wide event carrying folders a second launch of the app was given (payload: `string[]`). */
export const OPEN_FOLDERS_EVENT = 'open-folders';

/** `invoke`, with every rejection turned into a `BackendError`. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toBackendError(reason);
  }
}

export class TauriBackend implements Backend {
  listSessions(): Promise<SessionRecord[]> {
    return call('list_sessions');
  }

  createSession(folders: string[], options: NewSessionOptions = {}): Promise<SessionRecord> {
    return call('create_session', { folders, options });
  }

  async openSession(
    id: string,
    onEvent: (event: SessionEvent) => void,
  ): Promise<SessionSubscription> {
    // The channel is ordered and belongs to this call; the shell replaces any earlier channel of
    // this window for the same session (after a reload the old one is dead).
    let live = true;
    // Events come in batches (the shell coalesces a fast stream into one message per few ms).
    const channel = new Channel<SessionEvent[]>((batch) => {
      for (const event of batch) {
        if (live) onEvent(event);
      }
    });
    const snapshot = await call<SessionSnapshot>('open_session', { id, onEvent: channel });
    return {
      snapshot,
      unsubscribe: () => {
        live = false;
        void call('detach_session', { id }).catch(() => undefined);
      },
    };
  }

  send(id: string, text: string, options: SendOptions = {}): Promise<void> {
    return call('send_message', { id, text, withoutUndo: options.withoutUndo ?? false });
  }

  interrupt(id: string): Promise<void> {
    return call('interrupt', { id });
  }

  answer(id: string, requestId: string, answer: PermissionAnswer): Promise<void> {
    return call('answer_permission', { id, requestId, answer });
  }

  setMode(id: string, mode: PermissionMode): Promise<void> {
    return call('set_permission_mode', { id, mode });
  }

  addFolder(id: string, folder: string): Promise<SessionRecord> {
    return call('add_folder', { id, folder });
  }

  stopVm(id: string): Promise<void> {
    return call('stop_vm', { id });
  }

  renameSession(id: string, title: string): Promise<void> {
    return call('rename_session', { id, title });
  }

  deleteSession(id: string): Promise<void> {
    return call('delete_session', { id });
  }

  transcript(id: string): Promise<FrameRecord[]> {
    return call('transcript', { id });
  }

  consoleLog(id: string): Promise<string> {
    return call('console_log', { id });
  }

  turnChanges(id: string): Promise<TurnChanges[]> {
    return call('turn_changes', { id });
  }

  changeDiff(id: string, turn: number, folder: string, path: string): Promise<string | null> {
    return call('change_diff', { id, turn, folder, path });
  }

  undoTurn(id: string, turn: number | null, onConflict: OnConflict): Promise<UndoResult> {
    return call('undo_turn', { id, turn, onConflict });
  }

  redoTurn(id: string, onConflict: OnConflict): Promise<UndoResult> {
    return call('redo_turn', { id, onConflict });
  }

  previewFile(id: string, path: string): Promise<FilePreview> {
    return call('preview_file', { id, path });
  }

  openFile(id: string, path: string): Promise<void> {
    return call('open_file', { id, path });
  }

  async pickFolder(): Promise<string | null> {
    try {
      const picked = await openDialog({ directory: true, multiple: false, title: 'Choose a folder to share' });
      return typeof picked === 'string' ? picked : null;
    } catch (reason) {
      throw toBackendError(reason);
    }
  }

  onFoldersToOpen(handler: (paths: string[]) => void): Unsubscribe {
    const stops: (() => void)[] = [];
    let stopped = false;
    const keep = (unlisten: () => void) => {
      if (stopped) unlisten();
      else stops.push(unlisten);
    };
    void getCurrentWebview()
      .onDragDropEvent((event) => {
        if (event.payload.type === 'drop' && event.payload.paths.length > 0) handler(event.payload.paths);
      })
      .then(keep);
    // A second launch (`workroom-app FOLDER`) hands its folders to this instance.
    void listen<string[]>(OPEN_FOLDERS_EVENT, (event) => {
      if (event.payload.length > 0) handler(event.payload);
    }).then(keep);
    return () => {
      stopped = true;
      for (const stop of stops.splice(0)) stop();
    };
  }

  takeLaunchFolders(): Promise<string[]> {
    return call('take_launch_folders');
  }

  providerStatus(): Promise<ProviderStatus> {
    return call('provider_status');
  }

  setProvider(setup: ProviderSetup): Promise<ProviderStatus> {
    return call('set_provider', { setup });
  }

  imageStatus(): Promise<ImageStatus> {
    return call('image_status');
  }

  prepareImage(onProgress: (progress: ImageProgress) => void): Promise<ImageStatus> {
    const channel = new Channel<ImageProgress>(onProgress);
    return call('prepare_image', { onProgress: channel });
  }

  userlandStatus(): Promise<UserlandStatus> {
    return call('userland_status');
  }

  prepareUserland(onProgress: (progress: ImageProgress) => void, office = false): Promise<UserlandStatus> {
    const channel = new Channel<ImageProgress>(onProgress);
    return call('prepare_userland', { onProgress: channel, office });
  }

  getSettings(): Promise<AppSettings> {
    return call('get_settings');
  }

  setSettings(changes: Partial<AppSettings>): Promise<AppSettings> {
    return call('set_settings', { changes });
  }

  storageInfo(): Promise<StorageInfo> {
    return call('storage_info');
  }

  pageReady(): Promise<void> {
    return call('page_ready');
  }

  async openLink(url: string): Promise<void> {
    try {
      await openUrl(url);
    } catch (reason) {
      throw toBackendError(reason);
    }
  }

  async notify(title: string, body: string): Promise<void> {
    try {
      let granted = await isPermissionGranted();
      if (!granted) granted = (await requestPermission()) === 'granted';
      if (granted) sendNotification({ title, body });
    } catch (reason) {
      throw toBackendError(reason);
    }
  }
}
