import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

interface Props {
  /** The question, as the dialog's heading and accessible name. */
  title: string;
  /** Escape, a click outside, or the dialog's own Cancel. */
  onCancel: () => void;
  testId: string;
  /** Extra classes for the dialog box (a wider one for previews). */
  className?: string;
  /** What the dialog shows now, as `data-kind` (tests and styles tell its states apart by it). */
  dataKind?: string;
  children: ComponentChildren;
}

/**
 * A modal question. It takes focus when shown, so the keyboard is in it, and hands focus back to
 * where it was when it goes; Escape and a click outside cancel.
 */
export function Dialog({ title, onCancel, testId, className, dataKind, children }: Props) {
  const dialog = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.current?.focus();
    return () => before?.focus();
  }, []);

  return (
    <div class="modal-backdrop" onClick={(event) => event.target === event.currentTarget && onCancel()}>
      <div
        ref={dialog}
        class={`modal dialog${className ? ` ${className}` : ''}`}
        role="dialog"
        aria-modal="true"
        aria-label={title}
        tabIndex={-1}
        data-testid={testId}
        data-kind={dataKind}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            onCancel();
          }
        }}
      >
        <h1 class="dialog-title">{title}</h1>
        {children}
      </div>
    </div>
  );
}
