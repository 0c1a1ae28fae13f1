/**
 * A host sentence with `backticks` shown as code, without any HTML parsing: "Run `rm -rf build/`
 * in Taxes 2026".
 */
export function InlineCode({ text }: { text: string }) {
  const parts = text.split('`');
  // An odd number of parts means the backticks pair up; otherwise show the sentence as it is.
  if (parts.length % 2 === 0) return <>{text}</>;
  return <>{parts.map((part, index) => (index % 2 === 1 ? <code key={index}>{part}</code> : part))}</>;
}
