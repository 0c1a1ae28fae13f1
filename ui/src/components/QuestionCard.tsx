import { useMemo, useRef, useState } from 'preact/hooks';

import {
  answersMessage,
  choose,
  NO_CHOICE,
  PROMPT_KICKERS,
  readQuestions,
  withOtherText,
  type Choice,
  type Question,
} from '../model/prompts';
import { useFocusWhenShown } from './context';
import type { PromptCardProps } from './PermissionCard';
import { PromptFrom } from './PromptFrom';

interface FieldProps {
  /** The radio group's name, unique in the page. */
  name: string;
  question: Question;
  choice: Choice;
  onChange: (change: (choice: Choice) => Choice) => void;
}

/** One question: its options (radio buttons, or checkboxes when several may be chosen) and "Other". */
function QuestionField({ name, question, choice, onChange }: FieldProps) {
  const otherBox = useRef<HTMLInputElement>(null);
  const type = question.multiSelect ? 'checkbox' : 'radio';
  return (
    <fieldset class="question">
      <legend>
        {question.header && <span class="question-header">{question.header}</span>}
        <span class="question-text">{question.question}</span>
      </legend>
      {question.multiSelect && <p class="muted question-hint">Choose any that apply.</p>}
      {question.options.map((option) => (
        <label key={option.label} class="choice question-option">
          <input
            type={type}
            name={name}
            checked={choice.labels.includes(option.label)}
            onChange={() => onChange((current) => choose(question, current, option.label))}
            data-testid="question-option"
            data-label={option.label}
          />
          <span>
            <span class="question-label">{option.label}</span>
            {option.description && <span class="muted block">{option.description}</span>}
          </span>
        </label>
      ))}
      <div class="choice question-option question-other">
        <label class="check">
          <input
            type={type}
            name={name}
            checked={choice.other}
            onChange={() => {
              onChange((current) => choose(question, current, null));
              otherBox.current?.focus();
            }}
            data-testid="question-option"
            data-label="Other"
          />
          Other
        </label>
        <input
          ref={otherBox}
          type="text"
          value={choice.otherText}
          placeholder="Your own answer"
          aria-label={`Your own answer to: ${question.question}`}
          data-testid="question-other-text"
          onInput={(event) => {
            const text = (event.target as HTMLInputElement).value;
            onChange((current) => withOtherText(question, current, text));
          }}
        />
      </div>
    </fieldset>
  );
}

/**
 * The agent's multiple-choice questions. "Send answers" waits until each has an answer; "Skip"
 * lets the agent go on without. No single-key shortcuts: the keys belong to the fields.
 */
export function QuestionCard({ prompt, onAnswer, autoFocus = false, from = null }: PromptCardProps) {
  const card = useRef<HTMLElement>(null);
  const questions = useMemo(() => readQuestions(prompt.input), [prompt.input]);
  const [choices, setChoices] = useState<Choice[]>(() => questions.map(() => NO_CHOICE));
  const headingId = `permission-${prompt.request_id}`;
  const message = answersMessage(questions, choices);

  useFocusWhenShown(card, autoFocus);

  const update = (index: number) => (change: (choice: Choice) => Choice) =>
    setChoices((current) => questions.map((_, i) => (i === index ? change(current[i] ?? NO_CHOICE) : (current[i] ?? NO_CHOICE))));

  return (
    <section
      ref={card}
      class="permission-card question-card"
      tabIndex={0}
      aria-labelledby={headingId}
      data-request-id={prompt.request_id}
      data-testid="question-card"
    >
      <h3 id={headingId} class="permission-kicker">
        {PROMPT_KICKERS.question}
      </h3>
      <PromptFrom from={from} />
      <form
        class="questions"
        onSubmit={(event) => {
          event.preventDefault();
          if (message) onAnswer({ kind: 'answers', message });
        }}
      >
        {questions.length === 0 && <p class="question-text">{prompt.detail}</p>}
        {questions.map((question, index) => (
          <QuestionField
            key={index}
            name={`${prompt.request_id}-${index}`}
            question={question}
            choice={choices[index] ?? NO_CHOICE}
            onChange={update(index)}
          />
        ))}
        <div class="permission-actions" role="group" aria-label="Your answer">
          <button
            type="submit"
            class="primary"
            disabled={message === null}
            title={message === null ? 'Answer every question first' : undefined}
            data-testid="answers-send"
          >
            Send answers
          </button>
          <button type="button" onClick={() => onAnswer({ kind: 'deny' })} title="The agent goes on without your answers">
            Skip
          </button>
        </div>
      </form>
    </section>
  );
}
