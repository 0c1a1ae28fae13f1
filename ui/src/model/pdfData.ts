/** A PDF's bytes from the `data:` URL the host sends (only `pdfRender.ts` needs them, lazily). */

const PDF_DATA_URL = 'data:application/pdf;base64,';

/**
 * The bytes of a `data:application/pdf;base64,` URL; throws for anything else. Decoded here, as
 * the page may not fetch `data:` URLs (the CSP's `connect-src`).
 */
export function pdfBytes(dataUrl: string): Uint8Array {
  if (!dataUrl.startsWith(PDF_DATA_URL)) throw new Error('not a PDF data URL');
  const binary = atob(dataUrl.slice(PDF_DATA_URL.length));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
