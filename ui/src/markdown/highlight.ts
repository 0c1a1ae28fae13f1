/**
 * Code highlighting kept light: highlight.js core with the languages an agent working on folders
 * writes most (CSS and SQL grammars alone would add a third to highlight.js). Unknown languages are shown plain rather than auto-detected (detection runs every
 * grammar and costs more than it is worth while text streams).
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import diff from 'highlight.js/lib/languages/diff';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

import { escapeHtml } from './sanitize';

const LANGUAGES = { bash, diff, javascript, json, python, rust, typescript, xml, yaml };
for (const [name, grammar] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, grammar);
hljs.registerAliases(['sh', 'shell', 'zsh', 'console'], { languageName: 'bash' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });

/** Highlighted HTML for `code` (to be sanitised with the rest), or escaped text. */
export function highlight(code: string, language: string | undefined): string {
  const name = language?.trim().toLowerCase().split(/\s+/)[0];
  if (name && hljs.getLanguage(name)) {
    return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
  }
  return escapeHtml(code);
}
