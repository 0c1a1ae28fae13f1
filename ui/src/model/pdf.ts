/**
 * PDF previews: what a drawn PDF offers the dialog, and the pages' text for when drawing fails.
 * The drawing itself (pdf.js, its own chunk and worker, and the canvases) loads on first use
 * through `pdfLoader.ts`: the page's main chunk holds only the loading and the text.
 */
import type { ComponentType } from 'preact';

/** The dialog draws at most this many pages (the host sends the text of as many). */
export const MAX_DRAWN_PAGES = 20;

/** An opened PDF that can draw its pages. */
export interface PdfDocument {
  /** How many pages the file has. */
  pageCount: number;
  /** Page 1's width / height (pages not drawn yet are shown at that shape). */
  aspect: number;
  /**
   * Draws page `page` (from 1) into `canvas`, `cssWidth` CSS pixels wide at `pixelRatio` device
   * pixels per CSS pixel (fewer for a page too large to hold in memory); sets its shape.
   */
  drawPage(page: number, canvas: HTMLCanvasElement, cssWidth: number, pixelRatio: number): Promise<void>;
  /** Lets go of the file and its worker. */
  destroy(): void;
}

/** What the canvases of an opened PDF are drawn by (`PdfPages.tsx`, loaded with pdf.js). */
export interface PdfPagesProps {
  doc: PdfDocument;
  /** The line that says there is more in the file's app. */
  moreInApp: string;
  /** A page could not be drawn: the dialog shows the pages' text instead. */
  onFail: (error: unknown) => void;
}

/** What loads on first use, in chunks of its own (`pdfLoader.ts`): pdf.js and the canvases. */
export interface PdfKit {
  /** Opens a PDF from its `data:application/pdf;base64,` URL. */
  openPdf(dataUrl: string): Promise<PdfDocument>;
  PdfPages: ComponentType<PdfPagesProps>;
}

/** The pages' text as the host shows a PDF it does not send whole: each after "— Page N —". */
export function pagesText(pages: readonly string[]): string {
  return pages.map((text, index) => `— Page ${index + 1} —\n${text}`).join('\n\n');
}
