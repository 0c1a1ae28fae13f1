/**
 * Draws PDF pages with pdf.js. Only `pdfLoader.ts` imports this, dynamically, so pdf.js is a chunk
 * of its own, loaded when a PDF is first previewed.
 *
 * Within the app's Content-Security-Policy: the worker is a same-origin file (`worker-src
 * 'self'`), pdf.js compiles no fonts with `new Function` (no 'unsafe-eval'), and the file's
 * bytes are handed over, not fetched (`connect-src` has no `data:`).
 */
import { getDocument, GlobalWorkerOptions } from 'pdfjs-dist/legacy/build/pdf.mjs';
import workerUrl from 'pdfjs-dist/legacy/build/pdf.worker.min.mjs?url';

import type { PdfDocument } from './pdf';
import { pdfBytes } from './pdfData';

GlobalWorkerOptions.workerSrc = workerUrl;

/** Most device pixels one page's canvas holds (16 MB of memory): larger pages are drawn coarser. */
const MAX_CANVAS_PIXELS = 4096 * 1024;

/** Opens a PDF from its `data:application/pdf;base64,` URL. */
export async function openPdf(dataUrl: string): Promise<PdfDocument> {
  const task = getDocument({ data: pdfBytes(dataUrl), isEvalSupported: false });
  try {
    const pdf = await task.promise;
    const first = (await pdf.getPage(1)).getViewport({ scale: 1 });
    return {
      pageCount: pdf.numPages,
      aspect: first.width / first.height,
      async drawPage(number, canvas, cssWidth, pixelRatio) {
        const page = await pdf.getPage(number);
        try {
          const natural = page.getViewport({ scale: 1 });
          const fit = cssWidth / natural.width;
          const area = natural.width * natural.height * fit * fit;
          const ratio = Math.max(0.25, Math.min(pixelRatio, Math.sqrt(MAX_CANVAS_PIXELS / area)));
          const viewport = page.getViewport({ scale: fit * ratio });
          canvas.width = Math.floor(viewport.width);
          canvas.height = Math.floor(viewport.height);
          canvas.style.aspectRatio = `${natural.width} / ${natural.height}`;
          const context = canvas.getContext('2d');
          if (!context) throw new Error('no 2D canvas');
          await page.render({ canvasContext: context, viewport }).promise;
        } finally {
          page.cleanup();
        }
      },
      destroy() {
        void task.destroy();
      },
    };
  } catch (error) {
    void task.destroy();
    throw error;
  }
}
