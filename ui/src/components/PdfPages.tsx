/**
 * The canvases of a PDF preview. Loaded on first use with pdf.js (see `pdfLoader.ts`), so the
 * page's main chunk does not carry it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { MAX_DRAWN_PAGES, type PdfPagesProps } from '../model/pdf';

/** Width to draw at when the dialog has not been laid out (yet). */
const FALLBACK_WIDTH = 800;

/** The page that fills the top third of the scrolled box (1 before anything is laid out). */
function pageInView(box: HTMLElement): number {
  const top = box.getBoundingClientRect().top + box.clientHeight / 3;
  for (const canvas of box.querySelectorAll<HTMLCanvasElement>('canvas[data-page]')) {
    if (canvas.getBoundingClientRect().bottom > top) return Number(canvas.dataset.page);
  }
  return 1;
}

/**
 * The first pages of an opened PDF, each drawn once, one after another, when it scrolls near the
 * visible part of the box (all of them in order where there is no IntersectionObserver). A page
 * not drawn yet keeps page 1's shape; each drawn one gets `data-drawn`.
 */
export function PdfPages({ doc, moreInApp, onFail }: PdfPagesProps) {
  const [current, setCurrent] = useState(1);
  const box = useRef<HTMLDivElement>(null);
  const shown = Math.min(doc.pageCount, MAX_DRAWN_PAGES);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let live = true;
    let queue = Promise.resolve();
    const draw = (canvas: HTMLCanvasElement) => {
      queue = queue
        .then(async () => {
          if (!live) return;
          const width = canvas.clientWidth || element.clientWidth || FALLBACK_WIDTH;
          await doc.drawPage(Number(canvas.dataset.page), canvas, width, window.devicePixelRatio || 1);
          canvas.dataset.drawn = 'true';
        })
        .catch((error: unknown) => {
          if (live) onFail(error);
          live = false;
        });
    };
    const canvases = [...element.querySelectorAll<HTMLCanvasElement>('canvas[data-page]')];
    let observer: IntersectionObserver | null = null;
    if (typeof IntersectionObserver === 'function') {
      const near = new IntersectionObserver(
        (entries) => {
          for (const entry of entries) {
            if (!entry.isIntersecting) continue;
            near.unobserve(entry.target);
            draw(entry.target as HTMLCanvasElement);
          }
        },
        { root: element, rootMargin: '100% 0px' },
      );
      canvases.forEach((canvas) => near.observe(canvas));
      observer = near;
    } else {
      canvases.forEach(draw);
    }
    return () => {
      live = false;
      observer?.disconnect();
    };
    // Drawn once per document: a new `onFail` (each render makes one) does not start it again.
  }, [doc]);

  return (
    <>
      <p class="muted preview-pdf-page" data-testid="pdf-page-line">
        Page {Math.min(current, shown)} of {doc.pageCount}
      </p>
      <div
        ref={box}
        class="preview-pdf"
        data-pdf="pages"
        role="region"
        aria-label="Pages"
        tabIndex={0}
        onScroll={(event) => setCurrent(pageInView(event.currentTarget))}
      >
        {Array.from({ length: shown }, (_, index) => (
          <canvas
            key={index}
            class="preview-pdf-canvas"
            data-page={index + 1}
            role="img"
            aria-label={`Page ${index + 1}`}
            style={{ aspectRatio: `${doc.aspect}` }}
          />
        ))}
      </div>
      {doc.pageCount > shown && (
        <p class="muted">
          Only the first {shown} pages are shown. {moreInApp}
        </p>
      )}
    </>
  );
}
