import { arr, obj, str } from './json';
import type { Todo } from './view';

const STATUSES: readonly Todo['status'][] = ['pending', 'in_progress', 'completed'];

/** A `TodoWrite` list (its input `todos`, or its output `newTodos`); `null` when it is not one. */
export function readTodos(value: unknown): Todo[] | null {
  if (!Array.isArray(value)) return null;
  return arr(value).flatMap((raw) => {
    const todo = obj(raw);
    const content = str(todo.content);
    const status = STATUSES.find((s) => s === todo.status);
    if (!content || !status) return [];
    return [{ content, status, activeForm: str(todo.activeForm) ?? content }];
  });
}

/** "2 of 5 done". */
export function todoProgress(todos: Todo[]): string {
  const done = todos.filter((todo) => todo.status === 'completed').length;
  return `${done} of ${todos.length} done`;
}
