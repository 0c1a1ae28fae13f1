import type { PdfKit } from './pdf';

/**
 * Loads pdf.js and the component that draws its pages on first use, as chunks of their own: the
 * page starts without them. Tests replace this function, as jsdom cannot run pdf.js.
 */
export async function loadPdfKit(): Promise<PdfKit> {
  const [{ openPdf }, { PdfPages }] = await Promise.all([import('./pdfRender'), import('../components/PdfPages')]);
  return { openPdf, PdfPages };
}
