import { todoProgress } from '../model/todos';
import type { Todo } from '../model/view';

const MARKS: Record<Todo['status'], string> = { completed: '✓', in_progress: '◐', pending: '○' };
const WORDS: Record<Todo['status'], string> = { completed: 'done', in_progress: 'in progress', pending: 'to do' };

/** The agent's plan (its latest `TodoWrite`). */
export function TodoPanel({ todos }: { todos: Todo[] }) {
  if (todos.length === 0) return null;
  return (
    <details class="todo-panel" open>
      <summary>
        Plan <span class="muted">· {todoProgress(todos)}</span>
      </summary>
      <ol>
        {todos.map((todo, index) => (
          <li key={index} class={`todo todo-${todo.status}`}>
            <span class="todo-mark" aria-hidden="true">
              {MARKS[todo.status]}
            </span>
            <span class="sr-only">{WORDS[todo.status]}: </span>
            {todo.status === 'in_progress' ? todo.activeForm : todo.content}
          </li>
        ))}
      </ol>
    </details>
  );
}
