import { createContext, type RefObject } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';

import type { Backend } from '../backend/backend';
import type { SessionStore } from '../model/store';
import type { SessionView } from '../model/view';

export const BackendContext = createContext<Backend | null>(null);

/** The app's backend; components get it here and never import a concrete one. */
export function useBackend(): Backend {
  const backend = useContext(BackendContext);
  if (!backend) throw new Error('useBackend outside <BackendContext.Provider>');
  return backend;
}

/** The current view of a session store, re-rendering when it changes (once per frame at most). */
export function useSessionView(store: SessionStore): SessionView {
  const [view, setView] = useState(() => store.get());
  useEffect(() => {
    setView(store.get());
    return store.subscribe(() => setView(store.get()));
  }, [store]);
  return view;
}

/** Re-renders every `intervalMs` while `active` (elapsed times of running tools). */
export function useTicker(active: boolean, intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return now;
}

/**
 * Focuses `ref` once shown when `active`, but only when nothing else has focus: a question card
 * that grabbed focus from the composer would take the next keys typed as answers.
 */
export function useFocusWhenShown(ref: RefObject<HTMLElement>, active: boolean): void {
  useEffect(() => {
    const focused = document.activeElement;
    if (active && (focused === null || focused === document.body)) ref.current?.focus();
  }, [active]);
}
