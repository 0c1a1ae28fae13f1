import { useEffect, useRef, useState } from 'preact/hooks';

interface Props {
  busy: boolean;
  stopping: boolean;
  /** A message handed back to be edited or sent again (a new object each time). */
  refill?: { text: string } | null;
  onSend: (text: string) => void;
  onStop: () => void;
}

const MAX_ROWS = 10;

/** Where the person writes. Enter sends, Shift+Enter starts a new line; Stop interrupts the turn. */
export function Composer({ busy, stopping, refill = null, onSend, onStop }: Props) {
  const [text, setText] = useState('');
  const box = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!refill) return;
    // Whatever was typed since stays, after the message that comes back.
    setText((current) => (current.trim() === '' ? refill.text : `${refill.text}\n\n${current}`));
    box.current?.focus();
  }, [refill]);

  const send = () => {
    const message = text.trim();
    if (!message) return;
    onSend(message);
    setText('');
    box.current?.focus();
  };

  const rows = Math.min(MAX_ROWS, Math.max(2, text.split('\n').length));
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <label for="composer-text" class="sr-only">
        Message to the agent
      </label>
      <textarea
        id="composer-text"
        ref={box}
        rows={rows}
        value={text}
        placeholder={busy ? 'Write a message; it waits until the agent is done' : 'Ask the agent to work on your folder'}
        onInput={(event) => setText((event.target as HTMLTextAreaElement).value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            send();
          }
        }}
      />
      <div class="composer-actions">
        {busy && (
          <button type="button" class="danger" onClick={onStop} disabled={stopping}>
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
        <button type="submit" class="primary" disabled={text.trim() === ''}>
          {busy ? 'Queue' : 'Send'}
        </button>
      </div>
    </form>
  );
}
