//! `workroom config get|set`: the settings sessions use, stored in the database. A `WORKROOM_<KEY>`
//! environment variable overrides a stored value, and `get` says when one does.

use std::process::ExitCode;

use anyhow::bail;
use workroom_host::credentials::{self, Secret};
use workroom_host::settings::{keys, ProviderKind, Settings};

use crate::setup::App;
use crate::term::dim;

/// Every key, with what it means.
const KEYS: &[(&str, &str)] = &[
    (keys::PROVIDER, "model service: anthropic or openai"),
    (
        keys::BASE_URL,
        "the provider's base URL (empty: its default)",
    ),
    (keys::MODEL, "default model (empty: the agent's default)"),
    (keys::VM_MEMORY_MIB, "memory of each VM, in MiB"),
    (keys::VM_CPUS, "virtual CPUs of each VM"),
    (
        keys::MAX_TOTAL_MEMORY_MIB,
        "memory of all running VMs together, in MiB",
    ),
    (
        keys::IDLE_SECONDS,
        "seconds without activity before a VM is stopped",
    ),
    (keys::BOOT_TIMEOUT_SECS, "seconds a VM may take to boot"),
    (
        keys::CHECKPOINT_KEEP_TURNS,
        "turns per folder kept for undo",
    ),
    (
        keys::CHECKPOINT_MAX_DAYS,
        "days checkpoints are kept for undo",
    ),
    (
        keys::CHECKPOINT_MAX_MB,
        "MiB one checkpoint may copy before asking to go on without undo (0: no cap)",
    ),
    (
        keys::CHECKPOINT_SKIP_GIT,
        "true to leave .git folders out of checkpoints",
    ),
    (
        keys::NETWORK_ALLOW,
        "hosts the agent's tools may reach without asking (comma-separated; subdomains included; * for all)",
    ),
    (
        keys::NETWORK_DENY,
        "hosts the agent's tools may never reach (comma-separated)",
    ),
    (
        keys::MCP_CONFIG,
        "MCP servers the host runs for the agent: a .mcp.json file (default: <data>/mcp.json)",
    ),
    (
        keys::USERLAND,
        "minimal (busybox) or full (Debian: bash, git, curl, Python with document libraries; prepare it with `workroom image userland`)",
    ),
];

fn known(key: &str) -> anyhow::Result<()> {
    if KEYS.iter().any(|(k, _)| *k == key) {
        return Ok(());
    }
    bail!(
        "there is no setting {key}; the settings are: {}",
        KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
    )
}

/// Checks a value before it is stored, so a typo cannot break later sessions.
fn validate(key: &str, value: &str) -> anyhow::Result<()> {
    match key {
        keys::PROVIDER => {
            if ProviderKind::parse(value).is_none() {
                bail!("provider must be anthropic or openai, not {value:?}");
            }
        }
        keys::BASE_URL => {
            if !(value.is_empty() || value.starts_with("http://") || value.starts_with("https://"))
            {
                bail!("base_url must start with http:// or https:// (got {value:?})");
            }
        }
        keys::MODEL | keys::NETWORK_ALLOW | keys::NETWORK_DENY => {}
        keys::MCP_CONFIG => {
            if !value.is_empty() {
                workroom_host::connectors::load(value)?;
            }
        }
        keys::CHECKPOINT_MAX_MB => {
            if value.parse::<u32>().is_err() {
                bail!("{key} must be a whole number of MiB, 0 for no cap (got {value:?})");
            }
        }
        keys::USERLAND => {
            if !matches!(value, "minimal" | "full") {
                bail!("{key} must be minimal or full (got {value:?})");
            }
        }
        keys::CHECKPOINT_SKIP_GIT => {
            if !matches!(value, "true" | "false") {
                bail!("{key} must be true or false (got {value:?})");
            }
        }
        _ => match value.parse::<u32>() {
            Ok(n) if n > 0 => {}
            _ => bail!("{key} must be a whole number above 0 (got {value:?})"),
        },
    }
    Ok(())
}

pub fn set(app: &App, key: &str, value: &str) -> anyhow::Result<ExitCode> {
    known(key)?;
    let value = value.trim();
    validate(key, value)?;
    let store = app.store()?;
    store.set_setting(key, value)?;
    println!("{key} = {value}");
    if std::env::var(env_name(key)).is_ok_and(|v| !v.is_empty()) {
        println!(
            "{}",
            dim().apply_to(format!(
                "(saved, but {} is set in the environment and wins while it is)",
                env_name(key)
            ))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `workroom config unset KEY`: back to the default.
pub fn unset(app: &App, key: &str) -> anyhow::Result<ExitCode> {
    known(key)?;
    app.store()?.remove_setting(key)?;
    let settings = Settings::load(&app.store()?)?;
    println!("{key} = {} (default)", effective(&settings, key));
    Ok(ExitCode::SUCCESS)
}

pub fn get(app: &App, key: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = app.store()?;
    let settings = Settings::load(&store)?;
    match key {
        Some(key) => {
            known(key)?;
            println!("{}", effective(&settings, key));
        }
        None => {
            for (key, meaning) in KEYS {
                let source = if std::env::var(env_name(key)).is_ok_and(|v| !v.is_empty()) {
                    format!("from {}", env_name(key))
                } else if store.setting(key)?.is_some() {
                    "saved".to_string()
                } else {
                    "default".to_string()
                };
                println!(
                    "{key:<22} {:<28} {}",
                    effective(&settings, key),
                    dim().apply_to(format!("{source}; {meaning}"))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn env_name(key: &str) -> String {
    format!("WORKROOM_{}", key.to_ascii_uppercase())
}

/// The value in force.
fn effective(s: &Settings, key: &str) -> String {
    match key {
        keys::PROVIDER => s.provider.as_str().to_string(),
        keys::BASE_URL => s.base_url.clone().unwrap_or_default(),
        keys::MODEL => s.model.clone().unwrap_or_default(),
        keys::VM_MEMORY_MIB => s.vm_memory_mib.to_string(),
        keys::VM_CPUS => s.vm_cpus.to_string(),
        keys::MAX_TOTAL_MEMORY_MIB => s.max_total_memory_mib.to_string(),
        keys::IDLE_SECONDS => s.idle_seconds.to_string(),
        keys::BOOT_TIMEOUT_SECS => s.boot_timeout_secs.to_string(),
        keys::CHECKPOINT_KEEP_TURNS => s.checkpoint_keep_turns.to_string(),
        keys::CHECKPOINT_MAX_DAYS => s.checkpoint_max_days.to_string(),
        keys::CHECKPOINT_MAX_MB => s.checkpoint_max_mb.to_string(),
        keys::CHECKPOINT_SKIP_GIT => s.checkpoint_skip_git.to_string(),
        keys::NETWORK_ALLOW => s.network_allow.join(","),
        keys::NETWORK_DENY => s.network_deny.join(","),
        keys::MCP_CONFIG => s.mcp_config.clone().unwrap_or_default(),
        keys::USERLAND => if s.full_userland { "full" } else { "minimal" }.to_string(),
        _ => String::new(),
    }
}

fn secret_for(provider: &str) -> anyhow::Result<Secret> {
    match ProviderKind::parse(provider) {
        Some(ProviderKind::Anthropic) => Ok(Secret::AnthropicApiKey),
        Some(ProviderKind::OpenAi) => Ok(Secret::OpenAiApiKey),
        None => bail!("provider must be anthropic or openai, not {provider:?}"),
    }
}

/// `workroom config set-key`: reads the key without echoing it and files it in the keychain.
pub fn set_key(provider: &str) -> anyhow::Result<ExitCode> {
    let secret = secret_for(provider)?;
    let term = console::Term::stderr();
    let key = if term.is_term() {
        term.write_str("API key (input hidden): ")?;
        term.read_secure_line()?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line
    };
    let key = key.trim();
    if key.is_empty() {
        bail!("no key given; nothing was saved");
    }
    credentials::save(secret, key)?;
    println!("Saved in the system keychain; sessions will use it. (It never enters the VM.)");
    Ok(ExitCode::SUCCESS)
}

/// `workroom config forget-key`.
pub fn forget_key(provider: &str) -> anyhow::Result<ExitCode> {
    credentials::forget(secret_for(provider)?)?;
    println!("Removed from the system keychain.");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_before_they_are_saved() {
        assert!(validate("provider", "openai").is_ok());
        assert!(validate("provider", "gpt").is_err());
        assert!(validate("base_url", "http://127.0.0.1:9").is_ok());
        assert!(validate("base_url", "127.0.0.1:9").is_err());
        assert!(validate("idle_seconds", "0").is_err());
        assert!(validate("idle_seconds", "30").is_ok());
        assert!(known("colour").is_err());
    }
}
