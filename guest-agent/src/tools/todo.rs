//! `TodoWrite`: the model's task list for the session.
//!
//! The list lives in a [`TodoList`] owned by the tool loop (one per session), not in
//! `ToolContext`: only this tool uses it.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::context::ToolOutput;

pub const NAME: &str = "TodoWrite";

const SUCCESS_TEXT: &str = "Todos have been modified successfully. Ensure that you continue to use the todo list to track your progress. Please proceed with the current tasks if applicable";

pub fn description() -> &'static str {
    "Use this tool to create and manage a structured task list for your current session. It helps you track progress, organize complex tasks, and show the user how the work is going.

When to use it:
- A task needs 3 or more distinct steps, or careful planning
- The user gives several tasks (a numbered or comma-separated list)
- After receiving new instructions: capture them as todos
- When you start a task: mark it in_progress BEFORE beginning. Keep exactly one task in_progress at a time
- When you finish a task: mark it completed at once, and add any follow-up tasks you found

When not to use it: a single, simple task; something done in fewer than 3 trivial steps; a purely conversational or informational request.

Each call sends the whole list, which replaces the previous one. Each todo has:
- content: what needs doing, in the imperative (e.g. \"Run tests\")
- activeForm: the same in the present continuous, shown while it is being done (e.g. \"Running tests\")
- status: pending, in_progress or completed

Only mark a task completed when it is fully done: not if tests fail, the implementation is partial, or errors are unresolved; then keep it in_progress and add a task for what blocks it. Remove tasks that are no longer relevant."
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "todos": {
                "type": "array",
                "description": "The updated todo list",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string", "minLength": 1},
                        "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                        "activeForm": {"type": "string", "minLength": 1}
                    },
                    "required": ["content", "status", "activeForm"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["todos"],
        "additionalProperties": false
    })
}

/// One task, as Claude Code's `TodoWrite` input and output carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Todo {
    pub content: String,
    pub status: TodoStatus,
    #[serde(rename = "activeForm")]
    pub active_form: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    Pending,
    InProgress,
    Completed,
}

/// The session's current list. `Default` is empty.
#[derive(Debug, Default)]
pub struct TodoList(Mutex<Vec<Todo>>);

impl TodoList {
    /// The current list (e.g. for a client that asks what the agent is doing).
    pub fn snapshot(&self) -> Vec<Todo> {
        self.0.lock().map(|list| list.clone()).unwrap_or_default()
    }

    /// Replaces the list, returning the previous one.
    fn replace(&self, new: Vec<Todo>) -> Vec<Todo> {
        match self.0.lock() {
            Ok(mut list) => std::mem::replace(&mut *list, new),
            // A panic elsewhere while holding the lock must not lose the model's list.
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), new),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    todos: Vec<Todo>,
}

/// Runs `TodoWrite` against `list`. Synchronous: it touches no file.
pub fn run_with(list: &TodoList, input: Value) -> ToolOutput {
    let args: Args = match serde_json::from_value(input) {
        Ok(args) => args,
        Err(e) => return ToolOutput::error(format!("{NAME}: invalid input: {e}")),
    };
    if let Some(problem) = find_problem(&args.todos) {
        return ToolOutput::error(format!("{NAME}: {problem}"));
    }
    // Like Claude Code: once everything is done the list is cleared, so the next list starts fresh.
    let all_done = args.todos.iter().all(|t| t.status == TodoStatus::Completed);
    let kept = if all_done {
        Vec::new()
    } else {
        args.todos.clone()
    };
    let old = list.replace(kept);
    let text = match in_progress_count(&args.todos) {
        // A soft rule: say so, but accept the list.
        n if n > 1 => format!(
            "{SUCCESS_TEXT}\n\nNote: {n} tasks are in_progress; keep exactly one in_progress at a time."
        ),
        _ => SUCCESS_TEXT.to_owned(),
    };
    ToolOutput::ok(text, json!({"oldTodos": old, "newTodos": args.todos}))
}

/// The first hard error in `todos`, in words the model can fix.
fn find_problem(todos: &[Todo]) -> Option<String> {
    todos.iter().enumerate().find_map(|(i, todo)| {
        if todo.content.trim().is_empty() {
            Some(format!("todo {} has an empty content", i + 1))
        } else if todo.active_form.trim().is_empty() {
            Some(format!(
                "todo {} ({:?}) has an empty activeForm",
                i + 1,
                todo.content
            ))
        } else {
            None
        }
    })
}

fn in_progress_count(todos: &[Todo]) -> usize {
    todos
        .iter()
        .filter(|t| t.status == TodoStatus::InProgress)
        .count()
}

#[cfg(test)]
mod tests {
    use super::super::context::ToolContent;
    use super::*;

    fn text(out: &ToolOutput) -> String {
        match &out.content {
            ToolContent::Text(t) => t.clone(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    fn todo(content: &str, status: &str) -> Value {
        json!({"content": content, "status": status, "activeForm": format!("{content}ing")})
    }

    #[test]
    fn replaces_the_list_and_reports_old_and_new() {
        let list = TodoList::default();
        let first = json!([todo("Build", "in_progress"), todo("Test", "pending")]);
        let out = run_with(&list, json!({"todos": first}));
        assert!(!out.is_error, "{out:?}");
        assert_eq!(text(&out), SUCCESS_TEXT);
        assert_eq!(out.structured, json!({"oldTodos": [], "newTodos": first}));

        let second = json!([todo("Build", "completed"), todo("Test", "in_progress")]);
        let out = run_with(&list, json!({"todos": second}));
        assert_eq!(
            out.structured,
            json!({"oldTodos": first, "newTodos": second})
        );
        assert_eq!(list.snapshot()[1].status, TodoStatus::InProgress);
        assert_eq!(list.snapshot()[0].active_form, "Building");
    }

    #[test]
    fn a_fully_completed_list_is_cleared() {
        let list = TodoList::default();
        let done = json!([todo("Build", "completed")]);
        let out = run_with(&list, json!({"todos": done}));
        assert_eq!(out.structured["newTodos"], done);
        assert!(list.snapshot().is_empty());
    }

    #[test]
    fn several_in_progress_is_accepted_with_a_note() {
        let list = TodoList::default();
        let out = run_with(
            &list,
            json!({"todos": [todo("A", "in_progress"), todo("B", "in_progress")]}),
        );
        assert!(!out.is_error);
        assert!(text(&out).contains("2 tasks are in_progress"));
        assert_eq!(list.snapshot().len(), 2);
    }

    #[test]
    fn invalid_todos_are_refused_and_the_list_kept() {
        let list = TodoList::default();
        run_with(&list, json!({"todos": [todo("Keep", "pending")]}));

        let out = run_with(&list, json!({"todos": [todo(" ", "pending")]}));
        assert!(out.is_error);
        assert_eq!(text(&out), "TodoWrite: todo 1 has an empty content");

        let out = run_with(
            &list,
            json!({"todos": [{"content": "A", "status": "pending", "activeForm": ""}]}),
        );
        assert!(out.is_error && text(&out).contains("empty activeForm"));

        let out = run_with(&list, json!({"todos": [todo("A", "done")]}));
        assert!(
            out.is_error && text(&out).contains("unknown variant `done`"),
            "{out:?}"
        );

        let out = run_with(
            &list,
            json!({"todos": [{"content": "A", "status": "pending"}]}),
        );
        assert!(out.is_error && text(&out).contains("activeForm"));

        let out = run_with(&list, json!({}));
        assert!(out.is_error && text(&out).contains("missing field `todos`"));

        assert_eq!(list.snapshot().len(), 1);
        assert_eq!(list.snapshot()[0].content, "Keep");
    }
}
