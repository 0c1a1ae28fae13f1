/**
 * Questions that are not ordinary tool calls (see `ui/BACKEND.md`, "Questions, plans and the
 * network"): the agent's multiple-choice questions (`AskUserQuestion`), its plan (`ExitPlanMode`)
 * and a host its tools want to reach (`Network`). Their inputs read safely, and the answers built.
 */
import type { PermissionAnswerKind, PermissionPrompt } from '../backend/types';
import { arr, field, obj, str } from './json';
import type { ToolDecision } from './view';

/** Which card asks a prompt. */
export type PromptKind = 'question' | 'plan' | 'network' | 'tool';

export function promptKind(prompt: PermissionPrompt): PromptKind {
  switch (prompt.tool_name) {
    case 'AskUserQuestion':
      return 'question';
    case 'ExitPlanMode':
      return 'plan';
    case 'Network':
      return 'network';
    default:
      return 'tool';
  }
}

/** The line above a card, and the title of the notification while the window is not focused. */
export const PROMPT_KICKERS: Record<PromptKind, string> = {
  question: 'The agent has a question',
  plan: 'The agent has a plan for you to review',
  network: 'The agent wants to go online',
  tool: 'The agent asks for permission',
};

// ── AskUserQuestion ───────────────────────────────────────────────────────────

export interface QuestionOption {
  label: string;
  description: string;
}

/** One of the agent's questions (`input.questions[]`). */
export interface Question {
  question: string;
  /** A short tag ("Layout"), shown as a small label. */
  header: string;
  options: QuestionOption[];
  multiSelect: boolean;
}

/** The questions of an `AskUserQuestion` input; one without text is left out. */
export function readQuestions(input: unknown): Question[] {
  return arr(obj(input).questions).flatMap((raw) => {
    const q = obj(raw);
    const question = str(q.question);
    if (!question) return [];
    const options = arr(q.options).flatMap((option) => {
      const label = field(option, 'label');
      return label ? [{ label, description: field(option, 'description') }] : [];
    });
    return [{ question, header: field(q, 'header'), options, multiSelect: q.multiSelect === true }];
  });
}

/** What the person chose for one question so far. */
export interface Choice {
  /** Labels of the chosen options, in the options' order. */
  labels: string[];
  /** "Other" is chosen; its text is the answer (or part of it, in a multi-select). */
  other: boolean;
  otherText: string;
}

export const NO_CHOICE: Choice = { labels: [], other: false, otherText: '' };

/** The person picked (or, in a multi-select, toggled) an option; `label` `null` is "Other". */
export function choose(question: Question, choice: Choice, label: string | null): Choice {
  if (!question.multiSelect) {
    return label === null ? { ...choice, labels: [], other: true } : { ...choice, labels: [label], other: false };
  }
  if (label === null) return { ...choice, other: !choice.other };
  const chosen = choice.labels.includes(label) ? choice.labels.filter((l) => l !== label) : [...choice.labels, label];
  return { ...choice, labels: question.options.map((o) => o.label).filter((l) => chosen.includes(l)) };
}

/** The person typed in the "Other" field: that chooses "Other" too. */
export function withOtherText(question: Question, choice: Choice, text: string): Choice {
  return { ...(choice.other ? choice : choose(question, choice, null)), otherText: text };
}

/**
 * The answer to one question: its label, a multi-select's labels joined with ", ", or the "Other"
 * text (after the labels in a multi-select); `null` while there is none.
 */
export function answerText(choice: Choice): string | null {
  const other = choice.other ? choice.otherText.trim() : '';
  if (choice.other && other === '') return null;
  const parts = other ? [...choice.labels, other] : choice.labels;
  return parts.length > 0 ? parts.join(', ') : null;
}

/** The `answers` message once every question has an answer; `null` before. */
export function answersMessage(questions: Question[], choices: Choice[]): Record<string, string> | null {
  const message: Record<string, string> = {};
  for (const [index, question] of questions.entries()) {
    const answer = answerText(choices[index] ?? NO_CHOICE);
    if (answer === null) return null;
    message[question.question] = answer;
  }
  return message;
}

// ── ExitPlanMode and Network ──────────────────────────────────────────────────

/** The plan an `ExitPlanMode` call proposes (Markdown). */
export function planText(prompt: PermissionPrompt): string {
  return field(prompt.input, 'plan') || (prompt.detail ?? '');
}

/** The host a `Network` prompt is about. */
export function networkHost(prompt: PermissionPrompt): string {
  return field(prompt.input, 'host') || prompt.summary.replace(/^.* /, '');
}

// ── Decisions, in words ───────────────────────────────────────────────────────

/** Answers as the transcript's `workroom_permission` records name them (`PermissionAnswer::as_str`). */
type DecisionName = Exclude<PermissionAnswerKind, 'allow_for_session'> | 'allow_session';

const DECISION_WORDS: Record<PermissionAnswerKind | DecisionName, ToolDecision> = {
  allow_once: { text: 'Allowed once by you', allowed: true },
  allow_session: { text: 'Allowed for this session by you', allowed: true },
  allow_for_session: { text: 'Allowed for this session by you', allowed: true },
  always_allow: { text: 'Always allowed by you', allowed: true },
  deny: { text: 'Denied by you', allowed: false },
  deny_with_message: { text: 'Denied by you, with a message', allowed: false },
  answers: { text: 'Answered by you', allowed: true },
  approve_plan: { text: 'Plan approved by you', allowed: true },
};

/** What saying no means for the cards that are not tool calls. */
const DENIED_WORDS: Partial<Record<string, ToolDecision>> = {
  AskUserQuestion: { text: 'Skipped by you', allowed: false },
  ExitPlanMode: { text: 'You asked for more planning', allowed: false },
};

/** The badge for an answer (a live answer's kind, or a stored record's decision name). */
export function decisionWords(toolName: string, decision: string): ToolDecision | null {
  const words = (DECISION_WORDS as Record<string, ToolDecision | undefined>)[decision];
  if (!words) return null;
  return (!words.allowed && DENIED_WORDS[toolName]) || words;
}
