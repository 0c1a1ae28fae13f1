/** What a tool call is about, in a few words: the card headers and compact summaries. */
import { diffFromPatch, diffNewFile, diffStrings, type DiffLine } from './diff';
import { clip, displayPath, firstLine, friendlyPaths } from './format';
import { arr, field, num, obj, str } from './json';
import { readQuestions } from './prompts';
import type { ToolItem } from './view';

const SUMMARY_WIDTH = 110;

/** The card's title: a verb and its object ("Edit notes/todo.txt", "Search for “TODO” in src"). */
export function toolTitle(name: string, input: unknown): string {
  const f = (key: string) => field(input, key);
  const where = () => {
    const path = str(obj(input).path);
    return path ? ` in ${displayPath(path)}` : '';
  };
  switch (name) {
    case 'Bash':
      return clip(firstLine(f('command')), SUMMARY_WIDTH);
    case 'Read':
      return `Read ${displayPath(f('file_path'))}`;
    case 'Write':
      return `Write ${displayPath(f('file_path'))}`;
    case 'Edit':
    case 'MultiEdit':
      return `Edit ${displayPath(f('file_path'))}`;
    case 'CreateSpreadsheet':
      return `Create the spreadsheet ${displayPath(f('file_path'))}`;
    case 'CreateDocument':
      return `Create the document ${displayPath(f('file_path'))}`;
    case 'CreatePdf':
      return `Create the PDF ${displayPath(f('file_path'))}`;
    case 'CreatePresentation':
      return `Create the presentation ${displayPath(f('file_path'))}`;
    case 'ReadDocument':
      return `Read ${displayPath(f('file_path'))}`;
    case 'NotebookEdit':
      return `Edit notebook ${displayPath(f('notebook_path'))}`;
    case 'Grep':
      return `Search for “${f('pattern')}”${where()}`;
    case 'Glob':
      return `Find files matching ${f('pattern')}${where()}`;
    case 'TodoWrite':
      return 'Update the plan';
    case 'AskUserQuestion': {
      const count = arr(obj(input).questions).length;
      return count > 1 ? `Ask you ${count} questions` : 'Ask you a question';
    }
    case 'ExitPlanMode':
      return 'Propose a plan';
    case 'WebFetch':
      return `Fetch ${f('url')}`;
    case 'WebSearch':
      return `Search the web for “${f('query')}”`;
    case 'Task':
    case 'Agent':
      return `Sub-agent: ${subagentName(input)}`;
    default:
      return name.startsWith('mcp__') ? `Use ${name.split('__').slice(1).join(' › ')}` : `Use ${name}`;
  }
}

/** A sub-agent by its task: "Count receipts", and its type unless it is the general one ("(counter)"). */
export function subagentName(input: unknown): string {
  const description = field(input, 'description') || 'a sub-task';
  const type = field(input, 'subagent_type');
  return type && type !== 'general-purpose' ? `${description} (${type})` : description;
}

/** Which card draws a tool. */
export type ToolCardKind = 'command' | 'file_change' | 'document' | 'lookup' | 'plan' | 'questions' | 'proposal' | 'other';

export function toolCardKind(name: string): ToolCardKind {
  switch (name) {
    case 'Bash':
      return 'command';
    case 'Write':
    case 'Edit':
    case 'MultiEdit':
      return 'file_change';
    case 'CreateSpreadsheet':
    case 'CreateDocument':
    case 'CreatePdf':
    case 'CreatePresentation':
      return 'document';
    case 'Read':
    case 'ReadDocument':
    case 'Grep':
    case 'Glob':
    case 'WebFetch':
    case 'WebSearch':
      return 'lookup';
    case 'TodoWrite':
      return 'plan';
    case 'AskUserQuestion':
      return 'questions';
    case 'ExitPlanMode':
      return 'proposal';
    default:
      return 'other';
  }
}

/** A command's output: stdout and stderr when the agent gave them apart, else the result text. */
export function commandOutput(tool: ToolItem): { stdout: string; stderr: string } {
  const structured = obj(tool.result?.structured);
  const stdout = str(structured.stdout);
  const stderr = str(structured.stderr);
  if (stdout !== undefined || stderr !== undefined) {
    return { stdout: friendlyPaths(stdout ?? ''), stderr: friendlyPaths(stderr ?? '') };
  }
  return { stdout: friendlyPaths(tool.result?.text ?? ''), stderr: '' };
}

/**
 * A file change as lines: the tool's own patch once it ran (it has context lines), else what the
 * call asks for.
 */
export function fileChangeLines(tool: ToolItem): DiffLine[] {
  const structured = obj(tool.result?.structured);
  const patch = diffFromPatch(structured.structuredPatch);
  if (patch && patch.length > 0) return patch;
  const input = obj(tool.input);
  if (tool.name === 'Write') return diffNewFile(str(input.content) ?? '');
  if (tool.name === 'MultiEdit') {
    return arr(input.edits).flatMap((edit) => diffStrings(field(edit, 'old_string'), field(edit, 'new_string')));
  }
  return diffStrings(str(input.old_string) ?? '', str(input.new_string) ?? '');
}

/**
 * The agent's questions with the person's answers, once given: the agent reports them in its
 * structured result (`tool_use_result.answers`), keyed by question text.
 */
export function questionAnswers(tool: ToolItem): { question: string; answer: string | null }[] {
  const answers = obj(obj(tool.result?.structured).answers);
  return readQuestions(tool.input).map(({ question }) => ({ question, answer: str(answers[question]) ?? null }));
}

/** One line saying what a lookup found: "120 lines", "5 files", "no matches". */
export function lookupOutcome(tool: ToolItem): string {
  if (!tool.result) return '';
  if (tool.result.isError) return 'failed';
  const structured = obj(tool.result.structured);
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  switch (tool.name) {
    case 'Read': {
      const file = obj(structured.file);
      const lines = num(file.numLines) ?? lineCount(tool.result.text);
      return plural(lines, 'line', 'lines');
    }
    case 'Glob':
    case 'Grep': {
      const files = num(structured.numFiles) ?? arr(structured.filenames).length;
      if (tool.name === 'Grep' && structured.mode === 'content') {
        const matches = num(structured.numLines) ?? lineCount(tool.result.text);
        return matches === 0 ? 'no matches' : plural(matches, 'matching line', 'matching lines');
      }
      return files === 0 ? 'nothing found' : plural(files, 'file', 'files');
    }
    default:
      return '';
  }
}

/** What a lookup returned, to show when expanded: the file list, or the text. */
export function lookupDetail(tool: ToolItem): string {
  if (!tool.result) return '';
  const structured = obj(tool.result.structured);
  const filenames = arr(structured.filenames).filter((f): f is string => typeof f === 'string');
  if ((tool.name === 'Glob' || tool.name === 'Grep') && structured.mode !== 'content' && filenames.length > 0) {
    return filenames.map(displayPath).join('\n');
  }
  const file = obj(structured.file);
  const content = str(file.content);
  return friendlyPaths(content ?? tool.result.text);
}

function lineCount(text: string): number {
  return text === '' ? 0 : text.replace(/\n$/, '').split('\n').length;
}

/** The input as it streams in: just the file path or command once they are readable. */
export function partialInputHint(tool: ToolItem): string {
  const match = /"(?:command|file_path|pattern|url|query)"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(tool.partialInput);
  if (!match?.[1]) return '';
  try {
    return displayPath(JSON.parse(`"${match[1]}"`) as string);
  } catch {
    return '';
  }
}
