import { render } from 'preact';

import type { Backend } from './backend/backend';
import { App } from './components/App';
import './styles.css';

/** Inside the desktop app the Tauri backend; in a browser during development the scripted demo. */
async function chooseBackend(): Promise<Backend | null> {
  if ('__TAURI_INTERNALS__' in window) {
    const { TauriBackend } = await import('./backend/tauri');
    return new TauriBackend();
  }
  if (import.meta.env.DEV) {
    const { demoBackend } = await import('./backend/demo');
    return demoBackend();
  }
  return null;
}

const root = document.getElementById('app');
if (root) {
  void chooseBackend().then((backend) => {
    if (backend) render(<App backend={backend} />, root);
    else render(<p class="loading">This page is part of the Workroom app; open it there.</p>, root);
  });
}
