import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import { backendError } from '../src/backend/errors';
import { MockBackend } from '../src/backend/mock';
import { BackendContext } from '../src/components/context';
import { Settings } from '../src/components/Settings';

async function openToolset(backend: MockBackend) {
  render(
    <BackendContext.Provider value={backend}>
      <Settings onClose={() => undefined} />
    </BackendContext.Provider>,
  );
  const group = await screen.findByRole('region', { name: 'Toolset' });
  await waitFor(() => expect(backend.calls.some((c) => c.method === 'userlandStatus')).toBe(true));
  return group;
}

const settingsCalls = (backend: MockBackend) => backend.calls.filter((c) => c.method === 'setSettings').map((c) => c.args[0]);

describe('toolset settings', () => {
  it('offers to prepare the full toolset when it is picked and missing, and saves nothing yet', async () => {
    const backend = new MockBackend();
    const group = await openToolset(backend);
    const minimal = within(group).getByRole('radio', { name: /Minimal/ }) as HTMLInputElement;
    const full = within(group).getByRole('radio', { name: /Full/ }) as HTMLInputElement;
    expect([minimal.checked, full.checked]).toEqual([true, false]);
    expect(within(group).getByText('Applies to sessions whose virtual machine starts after this.')).toBeTruthy();
    expect(within(group).queryByRole('button')).toBeNull();

    fireEvent.click(full);
    expect(await within(group).findByRole('button', { name: 'Prepare the full toolset (about 90 MB download)' })).toBeTruthy();
    expect(full.checked).toBe(true);
    expect(settingsCalls(backend)).toEqual([]);
    expect(backend.settings.userland).toBe('minimal');
  });

  it('prepares the full toolset with a progress bar, then saves it', async () => {
    const backend = new MockBackend();
    let finish: () => void = () => undefined;
    backend.script.onPrepareUserland = (onProgress) =>
      new Promise<void>((resolve) => {
        onProgress({ step: 'Downloading packages', fraction: 0.4 });
        finish = resolve;
      });
    const group = await openToolset(backend);
    fireEvent.click(within(group).getByRole('radio', { name: /Full/ }));
    fireEvent.click(await within(group).findByRole('button', { name: /Prepare the full toolset/ }));

    expect(await within(group).findByText('Downloading packages (40%)')).toBeTruthy();
    expect(within(group).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('40');
    expect(within(group).queryByRole('button')).toBeNull();
    expect((within(group).getByRole('radio', { name: /Minimal/ }) as HTMLInputElement).disabled).toBe(true);
    expect(settingsCalls(backend)).toEqual([]);

    finish();
    expect(await within(group).findByText('Prepared · 277 MB')).toBeTruthy();
    expect(within(group).queryByRole('progressbar')).toBeNull();
    expect(within(group).queryByRole('button')).toBeNull();
    expect(settingsCalls(backend)).toEqual([{ userland: 'full' }]);
    expect(backend.settings.userland).toBe('full');
    expect((within(group).getByRole('radio', { name: /Full/ }) as HTMLInputElement).checked).toBe(true);
  });

  it('saves minimal at once, and the form does not send the toolset', async () => {
    const backend = new MockBackend();
    backend.userland = { state: 'ready', current: true, size_bytes: 290_000_000, office: false };
    backend.settings = { ...backend.settings, userland: 'full' };
    const group = await openToolset(backend);
    expect(await within(group).findByText('Prepared · 277 MB')).toBeTruthy();
    expect((within(group).getByRole('radio', { name: /Full/ }) as HTMLInputElement).checked).toBe(true);

    fireEvent.click(within(group).getByRole('radio', { name: /Minimal/ }));
    await waitFor(() => expect(backend.settings.userland).toBe('minimal'));
    expect(settingsCalls(backend)).toEqual([{ userland: 'minimal' }]);
    expect(within(group).queryByRole('button')).toBeNull();

    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(settingsCalls(backend)).toHaveLength(2));
    expect(settingsCalls(backend)[1]).not.toHaveProperty('userland');
  });

  it('saves full at once when it is prepared, and offers an update when an older app prepared it', async () => {
    const backend = new MockBackend();
    backend.userland = { state: 'ready', current: false, size_bytes: 290_000_000, office: false };
    const group = await openToolset(backend);
    expect(await within(group).findByText('Prepared · 277 MB · an update is available')).toBeTruthy();

    fireEvent.click(within(group).getByRole('radio', { name: /Full/ }));
    await waitFor(() => expect(backend.settings.userland).toBe('full'));
    fireEvent.click(await within(group).findByRole('button', { name: 'Update the full toolset' }));
    expect(await within(group).findByText('Prepared · 277 MB')).toBeTruthy();
    expect(backend.calls.filter((c) => c.method === 'prepareUserland')).toHaveLength(1);
  });

  it('shows why preparing failed and keeps the minimal toolset', async () => {
    const backend = new MockBackend();
    backend.script.onPrepareUserland = () =>
      Promise.reject(backendError('unknown', 'preparing the full toolset failed: the download was cut off'));
    const group = await openToolset(backend);
    fireEvent.click(within(group).getByRole('radio', { name: /Full/ }));
    fireEvent.click(await within(group).findByRole('button', { name: /Prepare the full toolset/ }));

    expect((await within(group).findByRole('alert')).textContent).toBe('Preparing the full toolset failed: the download was cut off');
    expect(within(group).queryByRole('progressbar')).toBeNull();
    expect((within(group).getByRole('radio', { name: /Minimal/ }) as HTMLInputElement).checked).toBe(true);
    expect(settingsCalls(backend)).toEqual([]);
    expect(backend.settings.userland).toBe('minimal');
    expect(backend.userland.state).toBe('missing');
  });

  it('refuses full in the mock backend until it is prepared, as the shell does', async () => {
    const backend = new MockBackend();
    await expect(backend.setSettings({ userland: 'full' })).rejects.toMatchObject({
      message: 'prepare the full toolset before choosing it',
    });
    await backend.prepareUserland(() => undefined);
    expect((await backend.setSettings({ userland: 'full' })).userland).toBe('full');
  });

  it('prepares LibreOffice with the toolset when asked, and offers to add it later', async () => {
    const backend = new MockBackend();
    const group = await openToolset(backend);
    fireEvent.click(within(group).getByRole('radio', { name: /Full/ }));
    fireEvent.click(await within(group).findByRole('checkbox', { name: /Include LibreOffice/ }));
    fireEvent.click(await within(group).findByRole('button', { name: 'Prepare the full toolset (about 205 MB download)' }));
    await waitFor(() => expect(backend.settings.userland).toBe('full'));
    expect(backend.calls.find((c) => c.method === 'prepareUserland')?.args).toEqual([true]);
    expect(await within(group).findByText(/Prepared with LibreOffice/)).toBeTruthy();
  });

  it('offers to add LibreOffice to a toolset prepared without it', async () => {
    const backend = new MockBackend();
    backend.userland = { state: 'ready', current: true, size_bytes: 290_000_000, office: false };
    backend.settings.userland = 'full';
    const group = await openToolset(backend);
    expect(within(group).queryByRole('button')).toBeNull();
    fireEvent.click(await within(group).findByRole('checkbox', { name: /Include LibreOffice/ }));
    fireEvent.click(await within(group).findByRole('button', { name: 'Add LibreOffice (about 115 MB download)' }));
    await waitFor(() => expect(backend.userland).toMatchObject({ state: 'ready', office: true }));
  });
});
