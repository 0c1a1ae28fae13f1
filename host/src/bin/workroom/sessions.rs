//! `workroom sessions`: list, show, delete. Sessions are named by their id or a unique prefix of it.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;
use workroom_host::store::{Direction, SessionRecord, Store};

use crate::render::{clip, Renderer};
use crate::setup::App;
use crate::term::{bold, dim, yellow};

/// Characters of an id shown in lists (enough to be unique in practice; any unique prefix works).
const SHORT_ID: usize = 8;

/// The session `id` names: itself, or the only session whose id starts with it.
pub fn resolve(store: &Store, id: &str) -> anyhow::Result<SessionRecord> {
    let id = id.trim();
    if id.is_empty() {
        bail!("give a session id (see `workroom sessions`)");
    }
    if let Ok(record) = store.session(id) {
        return Ok(record);
    }
    let matches: Vec<SessionRecord> = store
        .sessions()?
        .into_iter()
        .filter(|s| s.id.starts_with(id))
        .collect();
    match matches.len() {
        0 => bail!("there is no session {id} (see `workroom sessions` for the list)"),
        1 => Ok(matches.into_iter().next().expect("one match")),
        n => bail!(
            "{id} could be any of {n} sessions ({}); give more of the id",
            matches
                .iter()
                .map(|s| s.id.chars().take(SHORT_ID + 4).collect::<String>())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn list(app: &App) -> anyhow::Result<ExitCode> {
    let store = app.store()?;
    let sessions = store.sessions()?;
    if sessions.is_empty() {
        println!("No sessions yet. Start one with: workroom run --folder DIR");
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_secs();
    let rows: Vec<[String; 5]> = sessions
        .iter()
        .map(|s| {
            [
                s.id.chars().take(SHORT_ID).collect(),
                clip(&s.title, 30),
                clip(
                    &s.folders
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    50,
                ),
                ago(now - s.updated_at),
                format!("${:.4}", s.cost_usd),
            ]
        })
        .collect();
    let headers = ["ID", "TITLE", "FOLDERS", "LAST USED", "COST"];
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let format_row = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    println!("{}", bold().apply_to(format_row(&header)));
    for row in &rows {
        println!("{}", format_row(row));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(app: &App, id: &str) -> anyhow::Result<ExitCode> {
    let store = app.store()?;
    let record = resolve(&store, id)?;
    let (frames, damaged) = store.frames(&record.id)?;
    println!(
        "{}",
        bold().apply_to(format!("{} · {}", record.title, record.id))
    );
    let folders = record
        .folders
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    println!("{}", dim().apply_to(format!("folders: {folders}")));
    println!(
        "{}",
        dim().apply_to(format!(
            "model: {} · permission mode: {} · {} in / {} out tokens · ${:.4}",
            record.model.as_deref().unwrap_or("default"),
            record.permission_mode,
            crate::render::thousands(record.input_tokens.max(0) as u64),
            crate::render::thousands(record.output_tokens.max(0) as u64),
            record.cost_usd
        ))
    );
    let mut renderer = Renderer::transcript();
    for frame in &frames {
        // What went to the agent is shown only where it is the person's own message.
        let is_user = frame.body["type"] == "user";
        if frame.direction == Direction::In && !is_user {
            continue;
        }
        // An echo of the person's message by the agent would print it twice.
        if frame.direction == Direction::Out
            && is_user
            && frame.body["message"]["content"].is_string()
        {
            continue;
        }
        renderer.frame(&frame.body);
    }
    renderer.screen.end_line();
    if frames.is_empty() {
        println!("{}", dim().apply_to("(no messages yet)"));
    }
    if damaged > 0 {
        let frames_word = if damaged == 1 { "frame" } else { "frames" };
        println!(
            "{}",
            yellow().apply_to(format!(
                "{damaged} damaged {frames_word} of this transcript could not be read and were skipped"
            ))
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn delete(app: &App, id: &str) -> anyhow::Result<ExitCode> {
    let host = app.host_without_vms()?;
    let record = resolve(host.store(), id)?;
    host.delete_session(&record.id)?;
    println!("Deleted session {} ({}).", record.id, record.title);
    Ok(ExitCode::SUCCESS)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `just now`, `5 min ago`, `3 h ago`, `2 days ago`.
fn ago(secs: i64) -> String {
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s if s < 2 * 86_400 => "yesterday".into(),
        s => format!("{} days ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_resolve_by_unique_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .create_session("abc111", "one", &[], None, "default")
            .unwrap();
        store
            .create_session("abc222", "two", &[], None, "default")
            .unwrap();
        assert_eq!(resolve(&store, "abc2").unwrap().title, "two");
        assert_eq!(resolve(&store, "abc111").unwrap().title, "one");
        let err = resolve(&store, "abc").unwrap_err().to_string();
        assert!(err.contains("could be any of 2"), "{err}");
        let err = resolve(&store, "zz").unwrap_err().to_string();
        assert!(err.contains("no session zz"), "{err}");
    }

    #[test]
    fn ages_read_as_words() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(300), "5 min ago");
        assert_eq!(ago(7200), "2 h ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
    }
}
