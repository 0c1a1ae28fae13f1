//! `workroom changes` and `workroom undo`: what each turn changed in the shared folders, and
//! putting them back (checkpoints taken by the host before a turn's first change).

use std::process::ExitCode;

use anyhow::bail;
use workroom_host::checkpoint::Change;
use workroom_host::session::undo::{OnConflict, UndoOutcome};
use workroom_host::store::SessionRecord;

use crate::sessions::resolve;
use crate::setup::App;
use crate::term::{bold, dim, yellow};

/// The named session, or the most recently used one.
fn session(app: &App, id: Option<&str>) -> anyhow::Result<SessionRecord> {
    let store = app.store()?;
    match id {
        Some(id) => resolve(&store, id),
        None => match store.sessions()?.into_iter().next() {
            Some(record) => Ok(record),
            None => bail!("there are no sessions yet"),
        },
    }
}

fn describe(change: &Change) -> String {
    match change {
        Change::Added { after } => format!("+ {}", shown(&after.path)),
        Change::Deleted { before } => format!("- {}", shown(&before.path)),
        Change::Modified { after, .. } => format!("~ {}", shown(&after.path)),
        Change::Metadata { after, .. } => {
            format!("~ {} (mode or time only)", shown(&after.path))
        }
        Change::Renamed { before, after } => {
            format!("→ {} (was {})", shown(&after.path), shown(&before.path))
        }
    }
}

/// `workroom changes [SESSION] [--turn N]`.
pub fn changes(
    app: &App,
    id: Option<&str>,
    turn: Option<usize>,
    diff: bool,
) -> anyhow::Result<ExitCode> {
    let record = session(app, id)?;
    let host = app.host_without_vms()?;
    let turns = host.turn_changes(&record.id)?;
    if turns.is_empty() {
        println!("No turn of “{}” has changed files.", record.title);
        return Ok(ExitCode::SUCCESS);
    }
    for t in turns.iter().filter(|t| turn.is_none_or(|n| n == t.turn)) {
        println!("{}", bold().apply_to(format!("Turn {}", t.turn)));
        for folder in &t.folders {
            println!("  {}", dim().apply_to(folder.folder.display()));
            if folder.changes.is_empty() {
                println!("    (no changes)");
            }
            for change in &folder.changes {
                println!("    {}", describe(change));
                if diff && matches!(change, Change::Modified { .. } | Change::Added { .. }) {
                    if let Some(text) = host.text_diff(change)? {
                        for line in text.lines() {
                            println!("      {line}");
                        }
                    }
                }
            }
        }
    }
    if let Ok(bytes) = host.checkpoint_disk_use() {
        println!(
            "{}",
            dim().apply_to(format!(
                "Checkpoints take {:.1} MB (kept: `workroom config get checkpoint_keep_turns`).",
                bytes as f64 / 1e6
            ))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `workroom undo [SESSION] [--turn N] [--redo] [--overwrite | --keep-mine]`.
pub fn undo(
    app: &App,
    id: Option<&str>,
    turn: Option<usize>,
    redo: bool,
    on_conflict: OnConflict,
) -> anyhow::Result<ExitCode> {
    let record = session(app, id)?;
    let host = app.host_without_vms()?;
    let outcome = if redo {
        host.redo(&record.id, on_conflict)?
    } else {
        host.undo(&record.id, turn, on_conflict)?
    };
    match outcome {
        UndoOutcome::Conflicts(conflicts) => {
            println!(
                "{}",
                yellow()
                    .apply_to("You changed these files after the agent did; nothing was undone:")
            );
            for (folder, list) in conflicts {
                for conflict in list {
                    println!(
                        "  {}",
                        folder.join(shown(&conflict.path).as_ref()).display()
                    );
                }
            }
            println!("Run again with --keep-mine to keep your versions and undo the rest, or --overwrite to undo them too.");
            Ok(ExitCode::from(1))
        }
        UndoOutcome::Applied { folders, .. } => {
            for (folder, applied, kept) in folders {
                println!("{}: {applied} entries put back", folder.display());
                for path in kept {
                    println!("  kept your version of {}", shown(&path));
                }
            }
            println!(
                "{}",
                dim().apply_to(if redo {
                    "Redone. `workroom undo` undoes it again."
                } else {
                    "Undone. `workroom undo --redo` brings the changes back."
                })
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A path as stored in a checkpoint, for the terminal (bytes that are not UTF-8 as `\xe9`).
fn shown(path: &str) -> std::borrow::Cow<'_, str> {
    workroom_host::checkpoint::display_name(path)
}
