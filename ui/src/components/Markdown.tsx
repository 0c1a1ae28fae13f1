import { renderBlock, splitBlocks } from '../markdown/render';
import type { SanitizedHtml } from '../markdown/sanitize';

/**
 * The one place markup is put into the page. It only takes `SanitizedHtml`, which only the
 * sanitiser produces.
 */
export function SafeHtml({ html, className }: { html: SanitizedHtml; className?: string }) {
  return <div class={className} dangerouslySetInnerHTML={{ __html: html }} />;
}

/** One block; unchanged blocks come from the render cache and leave the DOM alone. */
function Block({ source }: { source: string }) {
  return <SafeHtml className="md-block" html={renderBlock(source)} />;
}

/** Model text as Markdown. Blocks are rendered (and cached) one by one, so streaming stays cheap. */
export function Markdown({ text, streaming = false }: { text: string; streaming?: boolean }) {
  const blocks = splitBlocks(text);
  return (
    <div class="markdown">
      {blocks.map((source, index) => (
        <Block key={index} source={source} />
      ))}
      {streaming && <span class="stream-cursor" aria-hidden="true" />}
    </div>
  );
}
