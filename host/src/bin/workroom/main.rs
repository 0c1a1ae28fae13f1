//! `workroom`: run Workroom sessions from a terminal.
//!
//! A thin front end over the `workroom-host` library: it parses the command line, opens the data
//! directory and hands each command to its module. Everything that talks to a person in words lives
//! here; the library stays free of terminal concerns (and of `anyhow`).

mod args;
mod config;
mod doctor;
mod image;
mod input;
mod prompt;
mod render;
mod run;
mod sessions;
mod setup;
mod term;
mod undo;

use std::process::ExitCode;

use clap::Parser;

use workroom_host::session::undo::OnConflict;

use crate::args::{Cli, Command, SessionsAction};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    term::init();
    let outcome = dispatch(cli);
    // Whatever happened, leave the terminal as we found it (echo and line editing on).
    term::restore();
    match outcome {
        Ok(code) => code,
        Err(error) => {
            term::error(&format!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Library diagnostics go to stderr, quiet by default so they never mix into the conversation;
/// `WORKROOM_LOG=info` (or `debug`) shows more.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WORKROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let app = setup::App::from_env();
    match cli.command {
        Command::Run(args) => {
            // The host reads its provider from the settings, which honour `WORKROOM_*` variables; a
            // flag is the same override for this process only. Set before any thread exists.
            if let Some(provider) = args.provider {
                std::env::set_var("WORKROOM_PROVIDER", provider.as_str());
            }
            runtime()?.block_on(run::run(&app, args))
        }
        Command::Sessions { action } => match action {
            None => sessions::list(&app),
            Some(SessionsAction::Show { id }) => sessions::show(&app, &id),
            Some(SessionsAction::Delete { id }) => sessions::delete(&app, &id),
            Some(SessionsAction::Resume { id }) => runtime()?.block_on(run::run(
                &app,
                args::RunArgs {
                    resume: Some(id),
                    ..args::RunArgs::default()
                },
            )),
        },
        Command::Doctor => runtime()?.block_on(doctor::doctor(&app)),
        Command::Changes {
            session,
            turn,
            diff,
        } => undo::changes(&app, session.as_deref(), turn, diff),
        Command::Undo {
            session,
            turn,
            redo,
            overwrite,
            keep_mine,
        } => {
            let on_conflict = match (overwrite, keep_mine) {
                (true, _) => OnConflict::Overwrite,
                (_, true) => OnConflict::Keep,
                _ => OnConflict::Ask,
            };
            undo::undo(&app, session.as_deref(), turn, redo, on_conflict)
        }
        Command::Image { action } => match action {
            args::ImageAction::Build { arch } => image::build(&app, arch),
            args::ImageAction::Userland { arch, office } => image::userland(&app, arch, office),
        },
        Command::Config { action } => match action {
            args::ConfigAction::Get { key } => config::get(&app, key.as_deref()),
            args::ConfigAction::Set { key, value } => config::set(&app, &key, &value),
            args::ConfigAction::Unset { key } => config::unset(&app, &key),
            args::ConfigAction::SetKey { provider } => config::set_key(&provider),
            args::ConfigAction::ForgetKey { provider } => config::forget_key(&provider),
        },
    }
}

/// One thread is enough: the work is waiting on a VM, and the machine is shared with the VMs.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
