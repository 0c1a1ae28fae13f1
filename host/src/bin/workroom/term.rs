//! What the terminal is (a person at a terminal, or a script), and the few styles the output uses.
//!
//! Colours, spinners and single-key answers are only for a person: when stdin or stdout is not a
//! terminal the output is plain text that scripts can read, and answers are read as lines.

use std::io::IsTerminal;
use std::sync::OnceLock;

use console::Style;

#[derive(Debug, Clone, Copy)]
struct Facts {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

static FACTS: OnceLock<Facts> = OnceLock::new();

fn facts() -> Facts {
    *FACTS.get_or_init(|| Facts {
        stdin: std::io::stdin().is_terminal(),
        stdout: std::io::stdout().is_terminal(),
        stderr: std::io::stderr().is_terminal(),
    })
}

/// Looks at the terminal once, saves its mode (restored by [`restore`]) and sets up colours.
pub fn init() {
    let f = facts();
    console::set_colors_enabled(f.stdout && console::colors_enabled());
    console::set_colors_enabled_stderr(f.stderr && console::colors_enabled_stderr());
    if f.stdin {
        crate::input::save_terminal_mode();
    }
}

/// Puts the terminal back into the mode [`init`] found it in.
pub fn restore() {
    crate::input::restore_terminal_mode();
}

/// A person is typing: stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    facts().stdin
}

/// Output goes to a person: stdout and stderr are terminals (spinners draw on stderr).
pub fn fancy_output() -> bool {
    let f = facts();
    f.stdout && f.stderr
}

pub fn dim() -> Style {
    Style::new().dim()
}

pub fn bold() -> Style {
    Style::new().bold()
}

pub fn red() -> Style {
    Style::new().red()
}

pub fn green() -> Style {
    Style::new().green()
}

pub fn yellow() -> Style {
    Style::new().yellow()
}

pub fn cyan() -> Style {
    Style::new().cyan()
}

/// `error: …` on stderr.
pub fn error(message: &str) {
    eprintln!("{} {message}", red().bold().for_stderr().apply_to("error:"));
}

/// `warning: …` on stderr.
pub fn warning(message: &str) {
    eprintln!(
        "{} {message}",
        yellow().bold().for_stderr().apply_to("warning:")
    );
}

/// Where the readable view writes: stdout for the conversation, a spinner on stderr for waits.
///
/// It remembers whether the cursor is at the start of a line, so streamed text, one-line notes and the
/// spinner never end up on the same line.
pub struct Screen {
    fancy: bool,
    at_line_start: bool,
    spinner: Option<indicatif::ProgressBar>,
}

impl Screen {
    /// A screen for the terminal this process runs in.
    pub fn new() -> Self {
        Screen::with_spinner(fancy_output())
    }

    /// A screen that never draws a spinner (for transcripts and scripts).
    pub fn plain() -> Self {
        Screen::with_spinner(false)
    }

    fn with_spinner(fancy: bool) -> Self {
        Screen {
            fancy,
            at_line_start: true,
            spinner: None,
        }
    }

    /// Whether spinners and single-key questions make sense here.
    pub fn is_fancy(&self) -> bool {
        self.fancy
    }

    /// Streamed text, as it comes.
    pub fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.stop_spin();
        write_out(text);
        self.at_line_start = text.ends_with('\n');
    }

    /// A whole line (after ending a line in progress).
    pub fn line(&mut self, line: impl std::fmt::Display) {
        self.stop_spin();
        self.end_line();
        write_out(&format!("{line}\n"));
    }

    /// Text that stays on the current line (a question waiting for its key).
    pub fn ask(&mut self, text: impl std::fmt::Display) {
        self.stop_spin();
        self.end_line();
        write_out(&text.to_string());
        self.at_line_start = false;
    }

    /// The answer typed after [`Screen::ask`] was echoed by the terminal (a line ends with it).
    pub fn answered(&mut self) {
        self.at_line_start = true;
    }

    /// Ends a line in progress.
    pub fn end_line(&mut self) {
        if !self.at_line_start {
            write_out("\n");
            self.at_line_start = true;
        }
    }

    /// Shows (or updates) the spinner with the time spent so far; on a plain screen, nothing.
    pub fn spin(&mut self, message: impl Into<String>) {
        if !self.fancy {
            return;
        }
        let message = message.into();
        if let Some(bar) = &self.spinner {
            bar.set_message(message);
            return;
        }
        self.end_line();
        let bar = indicatif::ProgressBar::new_spinner();
        let style = indicatif::ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        self.spinner = Some(bar);
    }

    /// Whether a spinner is showing.
    pub fn spinning(&self) -> bool {
        self.spinner.is_some()
    }

    /// Removes the spinner.
    pub fn stop_spin(&mut self) {
        if let Some(bar) = self.spinner.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.stop_spin();
    }
}

fn write_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed stdout (a pipe whose reader went away) is not worth a panic; the session goes on.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
