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

/// What a key means.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Answer(PermissionAnswer),
    /// Deny, after reading the message for the agent.
    DenyWithMessage,
    /// Not one of the keys.
    Unknown,
}

pub fn choice(key: char) -> Choice {
    match key.to_ascii_lowercase() {
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
        dim().apply_to(KEYS),
        yellow().apply_to("›")
    ));
}

/// Repeats the keys after a key that is not one of them.
pub fn ask_again(screen: &mut Screen) {
    screen.ask(format!(
        "  {} {} ",
        dim().apply_to(format!("Press one of: {KEYS}")),
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
    };
    screen.text(&format!("{text}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_in_the_list_means_something() {
        for key in ['y', 's', 'a', 'n', 'm', 'Y', 'N'] {
            assert_ne!(choice(key), Choice::Unknown, "{key}");
        }
        assert_eq!(choice('x'), Choice::Unknown);
        assert_eq!(choice('n'), Choice::Answer(PermissionAnswer::Deny));
    }
}
