//! Permission questions on the terminal: what the agent wants to do in one sentence, exactly what
//! (the command, or the diff), and single-key answers.

use workroom_host::session::{PermissionAnswer, PermissionPrompt};

use crate::render::clip;
use crate::term::{bold, dim, green, red, yellow, Screen};

/// Lines of a command or diff shown in a question; the rest is summarised.
const DETAIL_LINES: usize = 24;

/// The keys and what they do, in the order shown.
pub const KEYS: &str =
    "y allow once · s allow for this session · a always allow · n deny · m deny and say why";

/// The keys of a plan to approve.
const PLAN_KEYS: &str =
    "y approve and let it edit · d approve, ask before changes · m keep planning (say what to change) · n reject";

/// The keys of a network question (nobody would read a message).
const NETWORK_KEYS: &str = "y allow once · s allow for this session · a always allow · n deny";

/// The keys for a question about `tool`.
pub fn keys_for(tool: &str) -> &'static str {
    match tool {
        "ExitPlanMode" => PLAN_KEYS,
        "Network" => NETWORK_KEYS,
        _ => KEYS,
    }
}

/// One multiple-choice question of an `AskUserQuestion`.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub header: String,
    /// (label, description).
    pub options: Vec<(String, String)>,
    pub multi: bool,
}

/// The questions of an `AskUserQuestion` input (malformed ones are left out).
pub fn questions(input: &serde_json::Value) -> Vec<Question> {
    input["questions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| {
            Some(Question {
                text: q["question"].as_str()?.to_string(),
                header: q["header"].as_str().unwrap_or_default().to_string(),
                options: q["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| {
                        Some((
                            o["label"].as_str()?.to_string(),
                            o["description"].as_str().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect(),
                multi: q["multiSelect"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// Shows question `index` of `total` and waits for a line.
pub fn ask_question(screen: &mut Screen, question: &Question, index: usize, total: usize) {
    screen.line("");
    let counter = if total > 1 {
        format!("({}/{total}) ", index + 1)
    } else {
        String::new()
    };
    screen.line(format!(
        "{} {}{}",
        yellow().bold().apply_to("?"),
        dim().apply_to(counter),
        bold().apply_to(&question.text)
    ));
    for (i, (label, description)) in question.options.iter().enumerate() {
        screen.line(format!(
            "    {} {label}  {}",
            yellow().apply_to(format!("{}.", i + 1)),
            dim().apply_to(clip(description, 90))
        ));
    }
    let how = if question.multi {
        "numbers separated by commas, or your own answer; Enter alone skips all questions"
    } else {
        "a number, or your own answer; Enter alone skips all questions"
    };
    screen.ask(format!(
        "  {} {} ",
        dim().apply_to(how),
        yellow().apply_to("›")
    ));
}

/// The answer a typed line gives to `question`: option numbers become their labels, anything
/// else is the person's own answer. `None` for an empty line.
pub fn answer_of(question: &Question, line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let picked: Option<Vec<&str>> = line
        .split(',')
        .map(|n| {
            let i: usize = n.trim().parse().ok()?;
            question
                .options
                .get(i.checked_sub(1)?)
                .map(|(l, _)| l.as_str())
        })
        .collect();
    match picked {
        Some(labels) if !labels.is_empty() && (question.multi || labels.len() == 1) => {
            Some(labels.join(", "))
        }
        _ => Some(line.to_string()),
    }
}

/// What a key means.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Answer(PermissionAnswer),
    /// Deny, after reading the message for the agent.
    DenyWithMessage,
    /// Not one of the keys.
    Unknown,
}

pub fn choice(tool: &str, key: char) -> Choice {
    let key = key.to_ascii_lowercase();
    match (tool, key) {
        ("ExitPlanMode", 'y') => {
            return Choice::Answer(PermissionAnswer::ApprovePlan("acceptEdits".into()))
        }
        ("ExitPlanMode", 'd') => {
            return Choice::Answer(PermissionAnswer::ApprovePlan("default".into()))
        }
        ("ExitPlanMode", 's' | 'a') | ("Network", 'm') => return Choice::Unknown,
        _ => {}
    }
    match key {
        'y' => Choice::Answer(PermissionAnswer::AllowOnce),
        's' => Choice::Answer(PermissionAnswer::AllowForSession),
        'a' => Choice::Answer(PermissionAnswer::AlwaysAllow),
        'n' => Choice::Answer(PermissionAnswer::Deny),
        'm' => Choice::DenyWithMessage,
        _ => Choice::Unknown,
    }
}

/// Prints the question and leaves the cursor after the key list.
pub fn ask(screen: &mut Screen, prompt: &PermissionPrompt) {
    screen.line("");
    screen.line(format!(
        "{} {}",
        yellow().bold().apply_to("?"),
        bold().apply_to(&prompt.summary)
    ));
    // A one-line command already quoted in the summary need not be shown twice.
    let detail = prompt.detail.as_deref().filter(|d| {
        let quoted = d.lines().count() == 1 && prompt.summary.contains(d.trim());
        !d.trim().is_empty() && !quoted
    });
    if let Some(detail) = detail {
        let lines: Vec<&str> = detail.lines().collect();
        for line in lines.iter().take(DETAIL_LINES) {
            let line = clip(line, 110);
            let styled = if line.starts_with("+ ") {
                green().apply_to(line).to_string()
            } else if line.starts_with("- ") {
                red().apply_to(line).to_string()
            } else {
                dim().apply_to(line).to_string()
            };
            screen.line(format!("    {styled}"));
        }
        if lines.len() > DETAIL_LINES {
            screen.line(format!(
                "    {}",
                dim().apply_to(format!("… {} more lines", lines.len() - DETAIL_LINES))
            ));
        }
    }
    screen.ask(format!(
        "  {} {} ",
        dim().apply_to(keys_for(&prompt.tool_name)),
        yellow().apply_to("›")
    ));
}

/// Repeats the keys after a key that is not one of them.
pub fn ask_again(screen: &mut Screen, tool: &str) {
    screen.ask(format!(
        "  {} {} ",
        dim().apply_to(format!("Press one of: {}", keys_for(tool))),
        yellow().apply_to("›")
    ));
}

/// Asks for the message that goes with a denial.
pub fn ask_message(screen: &mut Screen) {
    screen.ask(format!(
        "  {} ",
        yellow().apply_to("Tell the agent why (Enter sends):")
    ));
}

/// The answer, echoed after the key.
pub fn echo(screen: &mut Screen, answer: &PermissionAnswer) {
    let text = match answer {
        PermissionAnswer::AllowOnce => green().apply_to("✓ allowed once"),
        PermissionAnswer::AllowForSession => green().apply_to("✓ allowed for this session"),
        PermissionAnswer::AlwaysAllow => green().apply_to("✓ always allowed (rule saved)"),
        PermissionAnswer::Deny => red().apply_to("✗ denied"),
        PermissionAnswer::DenyWithMessage(_) => red().apply_to("✗ denied, with your message"),
        PermissionAnswer::Answers(_) => green().apply_to("✓ answered"),
        PermissionAnswer::ApprovePlan(mode) if mode == "acceptEdits" => {
            green().apply_to("✓ plan approved; edits go ahead")
        }
        PermissionAnswer::ApprovePlan(_) => green().apply_to("✓ plan approved; changes still ask"),
    };
    screen.text(&format!("{text}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_in_the_list_means_something() {
        for key in ['y', 's', 'a', 'n', 'm', 'Y', 'N'] {
            assert_ne!(choice("Bash", key), Choice::Unknown, "{key}");
        }
        assert_eq!(choice("Bash", 'x'), Choice::Unknown);
        assert_eq!(choice("Bash", 'n'), Choice::Answer(PermissionAnswer::Deny));
        assert_eq!(
            choice("ExitPlanMode", 'd'),
            Choice::Answer(PermissionAnswer::ApprovePlan("default".into()))
        );
        assert_eq!(choice("ExitPlanMode", 's'), Choice::Unknown);
        assert_eq!(choice("Network", 'm'), Choice::Unknown);
    }

    #[test]
    fn typed_answers_pick_options_by_number_or_are_taken_as_words() {
        let q = |multi| Question {
            text: "Which?".into(),
            header: String::new(),
            options: vec![
                ("CSV".into(), String::new()),
                ("XLSX".into(), String::new()),
            ],
            multi,
        };
        assert_eq!(answer_of(&q(false), " 2 ").as_deref(), Some("XLSX"));
        assert_eq!(answer_of(&q(true), "1, 2").as_deref(), Some("CSV, XLSX"));
        assert_eq!(answer_of(&q(false), "1,2").as_deref(), Some("1,2"));
        assert_eq!(answer_of(&q(false), "7").as_deref(), Some("7"));
        assert_eq!(
            answer_of(&q(false), "both, please").as_deref(),
            Some("both, please")
        );
        assert_eq!(answer_of(&q(false), "  "), None);
    }
}
