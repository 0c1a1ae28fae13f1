import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { MockBackend } from '../src/backend/mock';
import * as f from '../src/backend/mockFrames';
import { SAMPLE_PDF, SAMPLE_PNG } from '../src/backend/mockPreviews';
import type { Change, FilePreview, FrameRecord } from '../src/backend/types';
import { ChatView } from '../src/components/ChatView';
import { BackendContext } from '../src/components/context';
import { SessionController } from '../src/model/controller';
import { groupListItems, hostPath } from '../src/model/files';
import { PdfPages } from '../src/components/PdfPages';
import { pagesText, type PdfDocument, type PdfKit } from '../src/model/pdf';
import { pdfBytes } from '../src/model/pdfData';
import { loadPdfKit } from '../src/model/pdfLoader';
import { immediately } from '../src/model/store';

// jsdom cannot run pdf.js: the tests hand the dialog a renderer of their own, with the real canvases.
vi.mock('../src/model/pdfLoader', () => ({ loadPdfKit: vi.fn() }));
const loadKit = vi.mocked(loadPdfKit);

const REPORTS = '/home/ann/Documents/Reports';
const GUEST = (file: string) => `/sessions/s1/mnt/Reports/${file}`;
const RUNNING = { state: 'running', accel: 'kvm', boot_ms: 900 } as const;

type Stored = [FrameRecord['direction'], Record<string, unknown>];

/** A stored session over the reports folder with these frames. */
function session(backend: MockBackend, bodies: Stored[]) {
  const transcript = bodies.map(([direction, body], index) => ({ seq: index + 1, direction, body, at_ms: 0 }));
  const { id } = backend.addSession([REPORTS], { title: 'Reports' }, transcript);
  backend.setLive(id, { vm: RUNNING });
  return id;
}

/** A finished turn that changed these files. */
function turnChanging(changes: Change[]): Stored[] {
  return [
    ['in', f.userMessage('make the report')],
    ['out', f.assistant('m1', f.textBlock('Done.'))],
    ['out', f.result()],
    ['host', f.changesRecord([f.folderChanges(REPORTS, changes)])],
  ];
}

/** A turn whose tool call wrote `file` (the agent names it by its guest path). */
function turnWriting(toolId: string, name: string, file: string, options: { isError?: boolean } = {}): Stored[] {
  return [
    ['in', f.userMessage(`write ${file}`)],
    ['out', f.assistant(`m-${toolId}`, f.toolUseBlock(toolId, name, { file_path: GUEST(file), content: 'x' }))],
    ['out', f.toolResult(toolId, options.isError ? `${file} already exists` : `created at: ${GUEST(file)}`, { ...options, structured: { type: 'create', filePath: GUEST(file), bytes: 6412 } })],
    ['out', f.result()],
  ];
}

async function openChat(backend: MockBackend, id: string) {
  const controller = new SessionController(id, backend, {}, immediately);
  await controller.open();
  render(
    <BackendContext.Provider value={backend}>
      <ChatView controller={controller} />
    </BackendContext.Provider>,
  );
}

function rowOf(path: string): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[data-testid="change-row"][data-path="${path}"]`);
  if (!row) throw new Error(`no row for ${path}`);
  return row;
}

/** Opens the preview of a changed file and waits for it to load. */
async function previewOf(backend: MockBackend, file: string, preview?: FilePreview): Promise<HTMLElement> {
  if (preview) backend.previews.set(`${REPORTS}/${file}`, preview);
  const id = session(backend, turnChanging([f.added(file)]));
  await openChat(backend, id);
  const button = within(rowOf(file)).getByTestId('preview-button');
  // A click focuses the button in a browser, not in jsdom.
  button.focus();
  fireEvent.click(button);
  const dialog = await screen.findByTestId('file-preview');
  await waitFor(() => expect(dialog.dataset.kind).not.toBe('loading'));
  return dialog;
}

const cells = (table: HTMLElement, tag: 'th' | 'td') => [...table.querySelectorAll(tag)].map((cell) => cell.textContent);

describe('previews of files the agent made', () => {
  it('shows an image fitted to the dialog, with its name, size and an Open button', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'chart.png', { kind: 'image', name: 'chart.png', data_url: SAMPLE_PNG, bytes: 2048 });
    expect(dialog.dataset.kind).toBe('image');
    expect(backend.calls.find((c) => c.method === 'previewFile')?.args.slice(1)).toEqual([`${REPORTS}/chart.png`]);
    expect(screen.getByRole('dialog', { name: 'chart.png' })).toBe(dialog);
    const image = within(dialog).getByTestId('preview-image') as HTMLImageElement;
    expect([image.getAttribute('src'), image.alt]).toEqual([SAMPLE_PNG, 'chart.png']);
    expect(within(dialog).getByText('2.0 KB')).toBeTruthy();
    fireEvent.click(within(dialog).getByTestId('open-button'));
    await waitFor(() => expect(backend.openedFiles).toEqual([`${REPORTS}/chart.png`]));
  });

  it('does not put anything but an image into <img>', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'x.png', { kind: 'image', name: 'x.png', data_url: 'https://tracker.example/x.png', bytes: 1 });
    expect(within(dialog).queryByTestId('preview-image')).toBeNull();
    expect(within(dialog).getByText('This image cannot be shown here.')).toBeTruthy();
  });

  it('shows a spreadsheet sheet by sheet, the first row as header, and says when it is cut', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'expenses.xlsx', {
      kind: 'table',
      name: 'expenses.xlsx',
      bytes: 6412,
      sheets: [
        { name: 'Expenses', rows: [['Shop', 'Amount'], ['Lind', '112.40'], ['Eck']], truncated: true },
        { name: 'Totals', rows: [['Total'], ['170.50']], truncated: false },
      ],
    });
    expect(dialog.dataset.kind).toBe('table');
    const table = within(dialog).getByTestId('preview-table');
    expect(cells(table, 'th')).toEqual(['Shop', 'Amount']);
    // A short row is padded, so the grid stays whole.
    expect(cells(table, 'td')).toEqual(['Lind', '112.40', 'Eck', '']);
    expect(within(dialog).getByText(/Only the first rows and columns are shown/)).toBeTruthy();

    const tab = within(dialog).getByRole('button', { name: 'Totals' });
    expect(within(dialog).getByRole('button', { name: 'Expenses' }).getAttribute('aria-pressed')).toBe('true');
    fireEvent.click(tab);
    expect(tab.getAttribute('aria-pressed')).toBe('true');
    expect(cells(within(dialog).getByTestId('preview-table'), 'td')).toEqual(['170.50']);
    expect(within(dialog).queryByText(/Only the first rows/)).toBeNull();
  });

  it('shows no sheet tabs for a single sheet', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'receipts.csv');
    expect(within(dialog).queryByRole('group', { name: 'Sheets' })).toBeNull();
    expect(cells(within(dialog).getByTestId('preview-table'), 'th')).toEqual(['Date', 'Shop', 'Category', 'Amount']);
  });

  it('shows a document: headings by level, paragraphs, lists and tables', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'report.docx', {
      kind: 'document',
      name: 'report.docx',
      bytes: 9870,
      blocks: [
        { type: 'heading', level: 1, text: 'Expenses' },
        { type: 'paragraph', text: 'Four receipts.' },
        { type: 'heading', level: 2, text: 'Notes' },
        { type: 'list_item', text: 'Optician' },
        { type: 'list_item', text: 'Hardware' },
        { type: 'heading', level: 3, text: 'Table' },
        { type: 'table', rows: [['Category', 'Amount'], ['Health', '352.40']] },
        { type: 'list_item', text: 'Last' },
      ],
    });
    expect(dialog.dataset.kind).toBe('document');
    const body = dialog.querySelector('.preview-document') as HTMLElement;
    expect([...body.children].map((child) => `${child.tagName} ${child.textContent}`)).toEqual([
      'H2 Expenses',
      'P Four receipts.',
      'H3 Notes',
      'UL OpticianHardware',
      'H4 Table',
      'DIV CategoryAmountHealth352.40',
      'UL Last',
    ]);
    expect(cells(within(dialog).getByTestId('preview-table'), 'th')).toEqual(['Category', 'Amount']);
  });

  it('shows text as it is, and says when it is cut', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'build.log', { kind: 'text', name: 'build.log', text: '# not a heading\nline 2', truncated: true, bytes: 3_400_000 });
    expect(dialog.dataset.kind).toBe('text');
    expect(dialog.querySelector('pre.preview-text')?.textContent).toBe('# not a heading\nline 2');
    expect(within(dialog).getByText(/The file is longer than shown here/)).toBeTruthy();
    expect(within(dialog).getByText('3.2 MB')).toBeTruthy();
  });

  it('renders Markdown files as Markdown', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'notes.md', { kind: 'text', name: 'notes.md', text: '# Total\n\n**1,843.20** EUR', truncated: false, bytes: 30 });
    expect(dialog.querySelector('pre.preview-text')).toBeNull();
    expect(dialog.querySelector('.markdown h1')?.textContent).toBe('Total');
    expect(dialog.querySelector('.markdown strong')?.textContent).toBe('1,843.20');
    expect(within(dialog).queryByText(/longer than shown/)).toBeNull();
  });

  it('says why there is no preview and offers the file in its app', async () => {
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'backup.zip');
    expect(dialog.dataset.kind).toBe('unsupported');
    expect(within(dialog).getByText('Workroom cannot show this kind of file.')).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Open in its app' }));
    await waitFor(() => expect(backend.openedFiles).toEqual([`${REPORTS}/backup.zip`]));
  });

  it('shows why a preview failed, and Escape closes the dialog and gives focus back', async () => {
    const backend = new MockBackend();
    backend.failNext('previewFile', { code: 'folder_not_shareable', message: 'That file is outside the shared folders.' });
    const dialog = await previewOf(backend, 'gone.xlsx');
    expect(dialog.dataset.kind).toBe('failed');
    expect(within(dialog).getByRole('alert').textContent).toBe('No preview: That file is outside the shared folders.');
    await waitFor(() => expect(document.activeElement).toBe(dialog));
    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByTestId('file-preview')).toBeNull();
    expect(document.activeElement).toBe(within(rowOf('gone.xlsx')).getByTestId('preview-button'));
  });
});

/** pdf.js as a fake that draws nothing but records what it was asked; `failOn` makes one step throw. */
function fakeKit(pageCount: number, failOn?: 'open' | number) {
  const calls = { opened: [] as string[], drawn: [] as [number, HTMLCanvasElement, number, number][], destroyed: 0 };
  const doc: PdfDocument = {
    pageCount,
    aspect: 595 / 842,
    async drawPage(page, canvas, width, ratio) {
      if (failOn === page) throw new Error(`page ${page} is broken`);
      calls.drawn.push([page, canvas, width, ratio]);
    },
    destroy: () => {
      calls.destroyed += 1;
    },
  };
  const kit: PdfKit = {
    async openPdf(dataUrl) {
      calls.opened.push(dataUrl);
      if (failOn === 'open') throw new Error('Invalid PDF structure.');
      return doc;
    },
    PdfPages,
  };
  return { kit, calls };
}

const PAGES = ['Expenses\nFour receipts.', 'By category\nHealth 352.40'];
const pdfPreview = (pageCount = 2): FilePreview => ({ kind: 'pdf', name: 'report.pdf', data_url: SAMPLE_PDF, pages: PAGES, page_count: pageCount, bytes: 48_211 });
const canvases = (dialog: HTMLElement) => within(dialog).queryAllByRole('img', { name: /^Page \d+$/ }) as HTMLCanvasElement[];

describe('PDF previews', () => {
  let warn: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    loadKit.mockReset();
    warn.mockRestore();
  });

  it('draws the pages into canvases, one after another, once pdf.js has loaded', async () => {
    const { kit, calls } = fakeKit(2);
    let loaded: (kit: PdfKit) => void = () => undefined;
    loadKit.mockReturnValue(new Promise((resolve) => (loaded = resolve)));
    const backend = new MockBackend();
    const dialog = await previewOf(backend, 'report.pdf');
    expect(dialog.dataset.kind).toBe('pdf');
    expect(within(dialog).getByText('47 KB')).toBeTruthy();
    // The dialog is there at once; pdf.js loads behind it.
    expect(within(dialog).getByRole('status').textContent).toContain('Drawing the pages…');
    expect(canvases(dialog)).toEqual([]);

    loaded(kit);
    await waitFor(() => expect(canvases(dialog).map((canvas) => canvas.dataset.drawn)).toEqual(['true', 'true']));
    expect(within(dialog).queryByRole('status')).toBeNull();
    const pages = canvases(dialog);
    expect(pages.map((canvas) => [canvas.tagName, canvas.dataset.page, canvas.getAttribute('aria-label')])).toEqual([
      ['CANVAS', '1', 'Page 1'],
      ['CANVAS', '2', 'Page 2'],
    ]);
    // In order, into its own canvas, at the dialog's width (jsdom lays nothing out) and pixel ratio.
    expect(calls.drawn).toEqual([
      [1, pages[0], 800, 1],
      [2, pages[1], 800, 1],
    ]);
    expect(within(dialog).getByTestId('pdf-page-line').textContent).toBe('Page 1 of 2');
    expect(within(dialog).queryByText(/could not be drawn/)).toBeNull();
    expect(within(dialog).queryByText(/Only the first/)).toBeNull();
    expect(calls.opened).toEqual([SAMPLE_PDF]);

    // Closing the dialog lets go of the document (and pdf.js's worker).
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(screen.queryByTestId('file-preview')).toBeNull();
    expect(calls.destroyed).toBe(1);
  });

  it('draws at most the first 20 pages and says there are more', async () => {
    const { kit, calls } = fakeKit(45);
    loadKit.mockResolvedValue(kit);
    const dialog = await previewOf(new MockBackend(), 'long.pdf', { ...pdfPreview(45), name: 'long.pdf' });
    await waitFor(() => expect(calls.drawn).toHaveLength(20));
    expect(canvases(dialog).map((canvas) => canvas.dataset.page)).toEqual(Array.from({ length: 20 }, (_, i) => `${i + 1}`));
    expect(within(dialog).getByTestId('pdf-page-line').textContent).toBe('Page 1 of 45');
    expect(within(dialog).getByText(/Only the first 20 pages are shown/).textContent).toBe('Only the first 20 pages are shown. Open the file to see all of it.');
  });

  it('shows the pages’ text, with a note, when pdf.js cannot be loaded', async () => {
    loadKit.mockRejectedValue(new TypeError('Importing a module script failed.'));
    const dialog = await previewOf(new MockBackend(), 'report.pdf', pdfPreview(2));
    const text = await waitFor(() => {
      const pre = dialog.querySelector('pre.preview-text');
      expect(pre).not.toBeNull();
      return pre as HTMLElement;
    });
    expect(text.textContent).toBe('— Page 1 —\nExpenses\nFour receipts.\n\n— Page 2 —\nBy category\nHealth 352.40');
    expect(within(dialog).getByRole('note').textContent).toBe('The pages could not be drawn here; this is their text.');
    expect(canvases(dialog)).toEqual([]);
    expect(within(dialog).queryByText(/longer than shown/)).toBeNull();
    expect(warn).toHaveBeenCalled();
  });

  it('shows the text when the file cannot be opened, and says when there are more pages', async () => {
    const { kit } = fakeKit(2, 'open');
    loadKit.mockResolvedValue(kit);
    const dialog = await previewOf(new MockBackend(), 'report.pdf', pdfPreview(31));
    await within(dialog).findByRole('note');
    expect(dialog.querySelector('pre.preview-text')?.textContent).toBe(pagesText(PAGES));
    expect(within(dialog).getByText(/The file is longer than shown here/)).toBeTruthy();
  });

  it('shows the text when a page fails to draw, and lets go of the document', async () => {
    const { kit, calls } = fakeKit(3, 2);
    loadKit.mockResolvedValue(kit);
    const dialog = await previewOf(new MockBackend(), 'report.pdf', pdfPreview(3));
    await within(dialog).findByRole('note');
    expect(calls.drawn.map(([page]) => page)).toEqual([1]);
    expect(canvases(dialog)).toEqual([]);
    expect(dialog.querySelector('pre.preview-text')?.textContent).toBe(pagesText(PAGES));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(calls.destroyed).toBe(1);
  });

  it('takes the bytes only from a PDF data: URL', () => {
    expect(new TextDecoder().decode(pdfBytes(SAMPLE_PDF).slice(0, 8))).toBe('%PDF-1.4');
    expect([...pdfBytes('data:application/pdf;base64,JVBERi0=')]).toEqual([...new TextEncoder().encode('%PDF-')]);
    expect(() => pdfBytes('data:text/html;base64,PGI+')).toThrow();
    expect(() => pdfBytes('https://example.com/report.pdf')).toThrow();
  });
});

describe('the Preview and Open buttons', () => {
  it('are on added and modified files, not on folders, deleted, renamed or undone ones', async () => {
    const backend = new MockBackend();
    const id = session(backend, [
      ...turnChanging([f.added('out', 'dir'), f.added('out/expenses.xlsx'), f.modified('notes.md'), f.deleted('draft.txt'), f.renamed('a.md', 'b.md'), f.metadata('run.sh')]),
      ...turnChanging([f.added('later.docx')]),
      ['host', { type: 'workroom_undo', turn: 2, folders: [{ folder: REPORTS, redo_point: 'r', after: 'a' }] }],
    ]);
    await openChat(backend, id);
    const withButtons = screen.getAllByTestId('change-row').map((row) => [row.dataset.path, within(row).queryByTestId('preview-button') !== null, within(row).queryByTestId('open-button') !== null]);
    expect(withButtons).toEqual([
      ['out', false, false],
      ['out/expenses.xlsx', true, true],
      ['notes.md', true, true],
      ['draft.txt', false, false],
      ['b.md', false, false],
      ['run.sh', false, false],
      ['later.docx', false, false],
    ]);
  });

  it('open the file in its app, and show why not next to the file', async () => {
    const backend = new MockBackend();
    const id = session(backend, turnChanging([f.added('expenses.xlsx'), f.modified('notes.md')]));
    await openChat(backend, id);
    fireEvent.click(within(rowOf('notes.md')).getByTestId('open-button'));
    await waitFor(() => expect(backend.openedFiles).toEqual([`${REPORTS}/notes.md`]));
    expect(backend.calls.find((c) => c.method === 'openFile')?.args).toEqual([id, `${REPORTS}/notes.md`]);

    backend.failNext('openFile', { code: 'unknown', message: 'No app opens .xlsx files.' });
    fireEvent.click(within(rowOf('expenses.xlsx')).getByTestId('open-button'));
    const alert = await within(rowOf('expenses.xlsx')).findByRole('alert');
    expect(alert.textContent).toBe('Could not open expenses.xlsx: No app opens .xlsx files.');
    expect(within(rowOf('notes.md')).queryByRole('alert')).toBeNull();
    // Tried again, it works and the error goes.
    fireEvent.click(within(rowOf('expenses.xlsx')).getByTestId('open-button'));
    await waitFor(() => expect(within(rowOf('expenses.xlsx')).queryByRole('alert')).toBeNull());
  });

  it('are on the cards of tools that wrote a file, which they find on the host', async () => {
    const backend = new MockBackend();
    const id = session(backend, [
      ...turnWriting('s1', 'CreateSpreadsheet', 'expenses.xlsx'),
      ...turnWriting('w1', 'Write', 'notes.md'),
      ...turnWriting('s2', 'CreateSpreadsheet', 'taken.xlsx', { isError: true }),
    ]);
    await openChat(backend, id);
    const spreadsheet = screen.getByRole('article', { name: 'CreateSpreadsheet: Done' });
    expect(spreadsheet.querySelector('.tool-title')?.textContent).toBe('Create the spreadsheet Reports/expenses.xlsx');
    expect(within(spreadsheet).getByText('6.3 KB')).toBeTruthy();
    const write = screen.getByRole('article', { name: 'Write: Done' });
    expect(within(write).getByTestId('open-button')).toBeTruthy();
    expect(within(screen.getByRole('article', { name: 'CreateSpreadsheet: Failed' })).queryByTestId('preview-button')).toBeNull();

    fireEvent.click(within(spreadsheet).getByTestId('preview-button'));
    const dialog = await screen.findByTestId('file-preview');
    await waitFor(() => expect(dialog.dataset.kind).toBe('table'));
    expect(backend.calls.find((c) => c.method === 'previewFile')?.args).toEqual([id, `${REPORTS}/expenses.xlsx`]);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(screen.queryByTestId('file-preview')).toBeNull();

    fireEvent.click(within(write).getByTestId('open-button'));
    await waitFor(() => expect(backend.openedFiles).toEqual([`${REPORTS}/notes.md`]));
  });
});

describe('file paths and document parts', () => {
  it('maps the agent’s paths to the host’s folders, named as the host names them', () => {
    const folders = ['/home/ann/Notes', '/work/Notes', '/'];
    expect(hostPath('/sessions/s1/mnt/Notes/a/b.txt', folders)).toBe('/home/ann/Notes/a/b.txt');
    expect(hostPath('/sessions/s1/mnt/Notes-2/b.txt', folders)).toBe('/work/Notes/b.txt');
    expect(hostPath('/sessions/s1/mnt/folder/c.txt', folders)).toBe('/c.txt');
    // Not one of the session's folders, or not a guest path: as given (the host checks it).
    expect(hostPath('/sessions/s1/mnt/Other/b.txt', folders)).toBe('/sessions/s1/mnt/Other/b.txt');
    expect(hostPath('/home/ann/Notes/x.md', folders)).toBe('/home/ann/Notes/x.md');
    expect(hostPath('x.md', folders)).toBe('x.md');
  });

  it('groups consecutive list items into one list', () => {
    expect(
      groupListItems([
        { type: 'list_item', text: 'a' },
        { type: 'list_item', text: 'b' },
        { type: 'paragraph', text: 'p' },
        { type: 'list_item', text: 'c' },
      ]),
    ).toEqual([{ type: 'list', items: ['a', 'b'] }, { type: 'paragraph', text: 'p' }, { type: 'list', items: ['c'] }]);
  });
});
