//! `workroom-agent`: Workroom's agent runtime.
//!
//! Speaks Claude Code's stream-json protocol on stdin/stdout, so the Claude Agent SDKs can drive it with
//! `cli_path`. Logs go to stderr; stdout carries only NDJSON frames.

use std::process::ExitCode;
use std::sync::Arc;

use workroom_agent::cli::Options;
use workroom_agent::session::{self, config::Config, Session};

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("workroom-agent: {e}");
            return ExitCode::from(2);
        }
    };
    if options.version {
        println!(
            "{} (Claude Code)",
            workroom_protocol::CLAUDE_CODE_COMPAT_VERSION
        );
        return ExitCode::SUCCESS;
    }
    if options.help {
        println!("{}", workroom_agent::HELP);
        return ExitCode::SUCCESS;
    }
    #[cfg(target_os = "linux")]
    if options.vm || std::process::id() == 1 {
        workroom_agent::vm::run_init();
    }
    init_tracing();
    for flag in &options.unknown {
        tracing::warn!(flag = %flag, "ignoring unknown flag");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("workroom-agent: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(options))
}

async fn run(options: Options) -> ExitCode {
    let config = match Config::from_options(&options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("workroom-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let (session, history) = match Session::new(config, &options, tokio::io::stdout()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("workroom-agent: {e}");
            return ExitCode::from(1);
        }
    };
    let session = Arc::new(session);
    let failed = if options.input_format.as_deref() == Some("text") {
        // One-shot: the prompt comes from the arguments (or stdin), as one user message.
        let prompt = if options.positional.is_empty() {
            let mut text = String::new();
            let _ =
                tokio::io::AsyncReadExt::read_to_string(&mut tokio::io::stdin(), &mut text).await;
            text
        } else {
            options.positional.join(" ")
        };
        let line =
            serde_json::json!({"type": "user", "message": {"role": "user", "content": prompt}});
        let input = format!("{line}\n").into_bytes();
        session::run(session, history, std::io::Cursor::new(input)).await
    } else {
        session::run(session, history, tokio::io::stdin()).await
    };
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WORKROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
