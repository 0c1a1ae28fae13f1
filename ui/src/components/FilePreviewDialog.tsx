import { useEffect, useState } from 'preact/hooks';

import { toBackendError } from '../backend/errors';
import type { DocBlock, FilePreview, PreviewSheet } from '../backend/types';
import { groupListItems, headingTag, isImageDataUrl, isMarkdownName, squareRows, type DocPart } from '../model/files';
import { baseName, bytes } from '../model/format';
import { Dialog } from './Dialog';
import { useOpenFile, type FileActions } from './fileActions';
import { Markdown } from './Markdown';
import { PdfPreview } from './PdfPreview';

type Loading = { state: 'loading' } | { state: 'ready'; preview: FilePreview } | { state: 'failed'; message: string };

const MORE_IN_APP = 'Open the file to see all of it.';

/** Rows as a table, the first one as its header (sheets and Word tables alike). */
function PreviewTable({ rows, label }: { rows: string[][]; label: string }) {
  const [head, ...body] = squareRows(rows);
  if (!head) return <p class="muted">{label} is empty.</p>;
  return (
    // Focusable, so a table wider or longer than the dialog scrolls from the keyboard too.
    <div class="preview-table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table class="preview-table" data-testid="preview-table">
        <thead>
          <tr>
            {head.map((cell, index) => (
              <th key={index} scope="col">
                {cell}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {body.map((row, r) => (
            <tr key={r}>
              {row.map((cell, c) => (
                <td key={c}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TablePreview({ sheets }: { sheets: PreviewSheet[] }) {
  const [index, setIndex] = useState(0);
  const sheet: PreviewSheet | undefined = sheets[index] ?? sheets[0];
  if (!sheet) return <p class="muted">This file has no sheets.</p>;
  return (
    <>
      {sheets.length > 1 && (
        <div class="sheet-tabs" role="group" aria-label="Sheets">
          {sheets.map((s, i) => (
            <button key={i} type="button" class="sheet-tab" aria-pressed={s === sheet} onClick={() => setIndex(i)}>
              {s.name}
            </button>
          ))}
        </div>
      )}
      <PreviewTable key={index} rows={sheet.rows} label={sheet.name ? `Sheet ${sheet.name}` : 'The sheet'} />
      {sheet.truncated && <p class="muted">Only the first rows and columns are shown. {MORE_IN_APP}</p>}
    </>
  );
}

function DocumentPart({ part }: { part: DocPart }) {
  switch (part.type) {
    case 'heading': {
      const Heading = headingTag(part.level);
      return <Heading>{part.text}</Heading>;
    }
    case 'paragraph':
      return <p>{part.text}</p>;
    case 'list':
      return (
        <ul>
          {part.items.map((item, index) => (
            <li key={index}>{item}</li>
          ))}
        </ul>
      );
    case 'table':
      return <PreviewTable rows={part.rows} label="A table" />;
  }
}

function DocumentPreview({ blocks }: { blocks: DocBlock[] }) {
  const parts = groupListItems(blocks);
  if (parts.length === 0) return <p class="muted">This document is empty.</p>;
  return (
    <div class="preview-document">
      {parts.map((part, index) => (
        <DocumentPart key={index} part={part} />
      ))}
    </div>
  );
}

function PreviewBody({ preview, onOpen }: { preview: FilePreview; onOpen: () => void }) {
  switch (preview.kind) {
    case 'image':
      return isImageDataUrl(preview.data_url) ? (
        <img class="preview-image" data-testid="preview-image" src={preview.data_url} alt={preview.name} />
      ) : (
        <p class="error-text">This image cannot be shown here.</p>
      );
    case 'table':
      return <TablePreview sheets={preview.sheets} />;
    case 'document':
      return <DocumentPreview blocks={preview.blocks} />;
    case 'pdf':
      return <PdfPreview dataUrl={preview.data_url} pages={preview.pages} pageCount={preview.page_count} moreInApp={MORE_IN_APP} />;
    case 'text':
      return (
        <>
          {isMarkdownName(preview.name) ? (
            <div class="preview-text">
              <Markdown text={preview.text} />
            </div>
          ) : (
            <pre class="preview-text">{preview.text}</pre>
          )}
          {preview.truncated && <p class="muted">The file is longer than shown here. {MORE_IN_APP}</p>}
        </>
      );
    case 'unsupported':
      return (
        <div class="preview-unsupported">
          <p>{preview.reason}</p>
          <button type="button" class="primary" data-testid="open-in-app" onClick={onOpen}>
            Open in its app
          </button>
        </div>
      );
  }
}

/**
 * A file the agent made, as the host reads it: an image, a spreadsheet's sheets, a document's
 * text, a PDF's pages, or why there is no preview. Its app is one click away in every state.
 */
export function FilePreviewDialog({ path, actions, onClose }: { path: string; actions: FileActions; onClose: () => void }) {
  const [loading, setLoading] = useState<Loading>({ state: 'loading' });
  const open = useOpenFile(actions, path);

  useEffect(() => {
    let live = true;
    actions.preview(path).then(
      (preview) => live && setLoading({ state: 'ready', preview }),
      (reason: unknown) => live && setLoading({ state: 'failed', message: toBackendError(reason).message }),
    );
    return () => {
      live = false;
    };
  }, [actions, path]);

  const preview = loading.state === 'ready' ? loading.preview : null;
  return (
    <Dialog
      title={preview?.name ?? baseName(path)}
      onCancel={onClose}
      testId="file-preview"
      className="preview-dialog"
      dataKind={preview?.kind ?? loading.state}
    >
      <div class="row preview-meta">
        {preview && <span class="muted">{bytes(preview.bytes)}</span>}
        <span class="preview-actions">
          <button type="button" data-testid="open-button" disabled={open.opening} onClick={open.open}>
            Open
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </span>
      </div>
      {open.error && (
        <p class="error-text" role="alert">
          {open.error}
        </p>
      )}
      {loading.state === 'loading' && (
        <p class="muted" role="status">
          <span class="spinner" aria-hidden="true" /> Loading the preview…
        </p>
      )}
      {loading.state === 'failed' && (
        <p class="error-text" role="alert">
          No preview: {loading.message}
        </p>
      )}
      {preview && <PreviewBody preview={preview} onOpen={open.open} />}
    </Dialog>
  );
}
