//! `fake-model --script FILE.json [--port N] [--log FILE.jsonl]`
//!
//! Prints `listening on http://127.0.0.1:PORT` once ready (tests wait for that line), then serves
//! until SIGINT or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use fake_model::{FakeModel, Options, Script};

const USAGE: &str = "usage: fake-model --script FILE.json [--port N] [--log FILE.jsonl]";

struct Args {
    script: PathBuf,
    options: Options,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut script = None;
    let mut options = Options::default();
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--script" => script = Some(PathBuf::from(value("--script")?)),
            "--log" => options.log_path = Some(PathBuf::from(value("--log")?)),
            "--port" => {
                let port = value("--port")?;
                options.port = port
                    .to_string_lossy()
                    .parse()
                    .with_context(|| format!("--port: not a port number: {port:?}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let script = script.with_context(|| format!("--script is required\n{USAGE}"))?;
    Ok(Args { script, options })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let args = parse_args()?;
    let script = Script::from_file(&args.script)?;
    let server = FakeModel::start_with(script, args.options)?;

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.base_url()).context("writing to stdout")?;
    stdout.flush().context("flushing stdout")?;
    drop(stdout);

    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
