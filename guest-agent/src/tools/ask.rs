//! Tools that talk to the user rather than to the folders: `ExitPlanMode` (the plan, for approval)
//! and `AskUserQuestion` (multiple choice). Both always go through the permission prompt: the
//! client shows the plan or the questions, and its answer is the result. Approving a plan leaves
//! plan mode; the answers come back in `updatedInput.answers`, as in Claude Code.

use serde_json::{json, Value};

use super::context::ToolOutput;

pub const EXIT_PLAN_NAME: &str = "ExitPlanMode";
pub const QUESTION_NAME: &str = "AskUserQuestion";

/// What the model reads after the user approved its plan.
const PLAN_APPROVED: &str = "User has approved your plan. You can now start coding. Start with updating your todo list if applicable";

pub fn exit_plan_description() -> &'static str {
    "Use this tool when you are in plan mode and have finished planning: it presents your plan to the user for approval. Only use it when the task needs writing code or changing files; for research (reading files, searching, answering questions) do not use it.

Put the whole plan in `plan`, in Markdown: what you will change, in which files, in what order, and how you will check it. Keep it concise. If the user approves, plan mode ends and you may start; if not, their feedback comes back as the result: revise the plan and present it again."
}

pub fn exit_plan_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "plan": {"type": "string", "description": "The plan to run by the user for approval, in Markdown."}
        },
        "required": ["plan"]
    })
}

pub fn question_description() -> &'static str {
    "Ask the user one to four multiple-choice questions when you need a decision you cannot make from the files: a preference, a choice between approaches, missing information. Each question has a short header (at most 12 characters), 2 to 4 options with a label and a description, and multiSelect when several answers make sense. The user can always answer in their own words instead. Do not ask what you can find out yourself."
}

pub fn question_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "questions": {
                "type": "array", "minItems": 1, "maxItems": 4,
                "items": {
                    "type": "object",
                    "properties": {
                        "question": {"type": "string", "description": "The full question, ending with a question mark."},
                        "header": {"type": "string", "description": "A very short label (max 12 characters)."},
                        "options": {
                            "type": "array", "minItems": 2, "maxItems": 4,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "label": {"type": "string"},
                                    "description": {"type": "string"}
                                },
                                "required": ["label", "description"]
                            }
                        },
                        "multiSelect": {"type": "boolean"}
                    },
                    "required": ["question", "header", "options", "multiSelect"]
                }
            },
            "answers": {
                "type": "object",
                "description": "Filled in by the permission component with the user's answers.",
                "additionalProperties": {"type": "string"}
            }
        },
        "required": ["questions"]
    })
}

/// Runs after the user approved the plan (the prompt is where they decided).
pub fn exit_plan(input: &Value) -> ToolOutput {
    let plan = input.get("plan").and_then(Value::as_str);
    ToolOutput::ok(PLAN_APPROVED, json!({"plan": plan, "isAgent": false}))
}

/// Runs with the answers the client put into the input.
pub fn question(input: &Value) -> ToolOutput {
    let Some(questions) = input.get("questions").and_then(Value::as_array) else {
        return ToolOutput::error("AskUserQuestion needs `questions`: a list of 1 to 4 questions.");
    };
    let answers = input.get("answers").and_then(Value::as_object);
    let pairs: Vec<String> = questions
        .iter()
        .filter_map(|q| q.get("question").and_then(Value::as_str))
        .filter_map(|q| {
            let answer = answers?.get(q)?;
            let answer = match answer {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(format!("\"{q}\"=\"{answer}\""))
        })
        .collect();
    if pairs.is_empty() {
        return ToolOutput::error(
            "The user did not answer the questions. Go on with what you know, or ask in plain text.",
        );
    }
    ToolOutput::ok(
        format!(
            "User has answered your questions: {}. You can now continue with the user's answers in mind.",
            pairs.join(", ")
        ),
        json!({"questions": questions, "answers": answers}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_the_result_and_no_answer_is_an_error() {
        let input = json!({"questions": [
            {"question": "Which format?", "header": "Format", "multiSelect": false,
             "options": [{"label": "CSV", "description": "plain"}, {"label": "XLSX", "description": "Excel"}]}
        ]});
        assert!(question(&input).is_error);
        let mut answered = input.clone();
        answered["answers"] = json!({"Which format?": "XLSX"});
        let out = question(&answered);
        assert!(!out.is_error);
        assert_eq!(out.structured["answers"]["Which format?"], "XLSX");
        match out.content {
            super::super::ToolContent::Text(t) => assert!(t.contains("\"Which format?\"=\"XLSX\"")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_approved_plan_is_echoed_in_the_structured_result() {
        let out = exit_plan(&json!({"plan": "1. Read\n2. Write"}));
        assert!(!out.is_error);
        assert_eq!(out.structured["plan"], "1. Read\n2. Write");
    }
}
