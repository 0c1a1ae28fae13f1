import { useEffect, useState } from 'preact/hooks';

import { pagesText, type PdfDocument, type PdfKit } from '../model/pdf';
import { loadPdfKit } from '../model/pdfLoader';

type Drawing = { state: 'loading' } | { state: 'drawing'; doc: PdfDocument; kit: PdfKit } | { state: 'failed' };

interface Props {
  /** The file as a `data:application/pdf;base64,` URL. */
  dataUrl: string;
  /** The text of the first pages, shown when the pages cannot be drawn. */
  pages: string[];
  /** How many pages the host counted (0 when it could not read the text). */
  pageCount: number;
  /** The line that says there is more in the file's app. */
  moreInApp: string;
}

/**
 * A PDF's first pages drawn by pdf.js, which loads (in chunks of its own) when the dialog opens.
 * If anything fails, the pages' text is shown instead, as for a PDF too large to send.
 */
export function PdfPreview({ dataUrl, pages, pageCount, moreInApp }: Props) {
  const [drawing, setDrawing] = useState<Drawing>({ state: 'loading' });
  const fail = (error: unknown) => {
    console.warn('The PDF could not be drawn:', error);
    setDrawing({ state: 'failed' });
  };

  // Loads pdf.js and opens the file; the document goes when the dialog does.
  useEffect(() => {
    let live = true;
    let opened: PdfDocument | null = null;
    loadPdfKit().then(
      (kit) =>
        kit.openPdf(dataUrl).then((doc) => {
          if (!live) return doc.destroy();
          opened = doc;
          setDrawing({ state: 'drawing', doc, kit });
        }),
    ).catch((error: unknown) => live && fail(error));
    return () => {
      live = false;
      opened?.destroy();
    };
  }, [dataUrl]);

  if (drawing.state === 'drawing') {
    const { kit, doc } = drawing;
    return <kit.PdfPages doc={doc} moreInApp={moreInApp} onFail={fail} />;
  }
  if (drawing.state === 'loading') {
    return (
      <p class="muted" role="status">
        <span class="spinner" aria-hidden="true" /> Drawing the pages…
      </p>
    );
  }
  return (
    <div class="preview-pdf-text" data-pdf="text">
      <p class="muted" role="note">
        The pages could not be drawn here; this is their text.
      </p>
      <pre class="preview-text">{pagesText(pages)}</pre>
      {pageCount > pages.length && <p class="muted">The file is longer than shown here. {moreInApp}</p>}
    </div>
  );
}
