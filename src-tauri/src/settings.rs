//! The settings and provider shapes the page reads and writes, over `workroom_host::settings` (kept
//! in the database) and `workroom_host::credentials` (the OS keychain).

use serde::{Deserialize, Deserializer, Serialize};
use workroom_host::credentials::{self, Secret, Source};
use workroom_host::settings::{keys, ProviderKind, Settings};
use workroom_host::store::Store;

use crate::error::{CommandError, CommandResult};

/// Claude Code permission modes the window offers.
pub const PERMISSION_MODES: &[&str] = &["default", "acceptEdits", "plan", "bypassPermissions"];

/// Settings only the app uses (the host does not know them yet).
mod app_keys {
    /// Permission mode of new sessions.
    pub const DEFAULT_PERMISSION_MODE: &str = "default_permission_mode";
}

/// Settings a person can change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppSettings {
    /// Default model; `None` for the agent's default.
    pub model: Option<String>,
    /// Permission mode of new sessions.
    pub default_permission_mode: String,
    /// Memory of each VM.
    pub vm_memory_mib: u32,
    /// CPUs of each VM.
    pub vm_cpus: u32,
    /// Minutes of quiet before a VM is stopped.
    pub idle_minutes: u32,
    /// Turns per session kept for undo.
    pub checkpoint_keep_turns: u32,
    /// Days kept for undo.
    pub checkpoint_max_days: u32,
    /// MiB one checkpoint may copy before the person is asked (0: no cap).
    pub checkpoint_max_mb: u32,
    /// Leave `.git` folders out of checkpoints.
    pub checkpoint_skip_git: bool,
    /// Hosts the agent's tools reach without asking (with their subdomains; `*` for all).
    pub network_allow: Vec<String>,
    /// Hosts they never reach.
    pub network_deny: Vec<String>,
    /// MCP servers the host runs for the agent: a `.mcp.json` file (`None`: `<data>/mcp.json`).
    pub mcp_config: Option<String>,
    /// `minimal` (busybox) or `full` (the Debian userland) for shell commands.
    pub userland: String,
}

/// A partial update from the page; absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChanges {
    /// `Some(None)`: back to the agent's default.
    #[serde(default, deserialize_with = "present")]
    model: Option<Option<String>>,
    default_permission_mode: Option<String>,
    vm_memory_mib: Option<u32>,
    vm_cpus: Option<u32>,
    idle_minutes: Option<u32>,
    checkpoint_keep_turns: Option<u32>,
    checkpoint_max_days: Option<u32>,
    checkpoint_max_mb: Option<u32>,
    checkpoint_skip_git: Option<bool>,
    network_allow: Option<Vec<String>>,
    network_deny: Option<Vec<String>>,
    /// `Some(None)` or empty: back to `<data>/mcp.json`.
    #[serde(default, deserialize_with = "present")]
    mcp_config: Option<Option<String>>,
    /// `minimal` or `full`.
    userland: Option<String>,
}

impl SettingsChanges {
    /// Whether this turns the full userland on (which needs it prepared first).
    pub fn wants_full_userland(&self) -> bool {
        self.userland.as_deref() == Some("full")
    }
}

/// A field that is present (possibly `null`) becomes `Some(..)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The permission mode new sessions get, if one was chosen.
pub fn default_permission_mode(store: &Store) -> CommandResult<Option<String>> {
    Ok(store
        .setting(app_keys::DEFAULT_PERMISSION_MODE)?
        .filter(|m| PERMISSION_MODES.contains(&m.as_str())))
}

/// The settings in force.
pub fn read(store: &Store, settings: &Settings) -> CommandResult<AppSettings> {
    Ok(AppSettings {
        model: settings.model.clone().filter(|m| !m.is_empty()),
        default_permission_mode: default_permission_mode(store)?
            .unwrap_or_else(|| "default".into()),
        vm_memory_mib: settings.vm_memory_mib,
        vm_cpus: settings.vm_cpus,
        idle_minutes: settings.idle_seconds.div_ceil(60),
        checkpoint_keep_turns: settings.checkpoint_keep_turns,
        checkpoint_max_days: settings.checkpoint_max_days,
        checkpoint_max_mb: settings.checkpoint_max_mb,
        checkpoint_skip_git: settings.checkpoint_skip_git,
        network_allow: settings.network_allow.clone(),
        network_deny: settings.network_deny.clone(),
        mcp_config: settings.mcp_config.clone(),
        userland: if settings.full_userland {
            "full"
        } else {
            "minimal"
        }
        .into(),
    })
}

fn in_range(what: &str, value: u32, min: u32, max: u32) -> CommandResult<u32> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(CommandError::invalid(format!(
            "{what} must be between {min} and {max}"
        )))
    }
}

/// Checks every change, then stores them (nothing is stored if one is wrong).
pub fn write(store: &Store, changes: SettingsChanges) -> CommandResult<()> {
    let mut writes: Vec<(&str, String)> = Vec::new();
    let mut clears: Vec<&str> = Vec::new();
    match changes.model {
        Some(Some(model)) if !model.trim().is_empty() => {
            writes.push((keys::MODEL, model.trim().to_string()))
        }
        Some(_) => clears.push(keys::MODEL),
        None => {}
    }
    if let Some(mode) = changes.default_permission_mode {
        if !PERMISSION_MODES.contains(&mode.as_str()) {
            return Err(CommandError::invalid(format!(
                "unknown permission mode {mode:?}"
            )));
        }
        writes.push((app_keys::DEFAULT_PERMISSION_MODE, mode));
    }
    if let Some(mib) = changes.vm_memory_mib {
        let mib = in_range("VM memory (MiB)", mib, 256, 65536)?;
        writes.push((keys::VM_MEMORY_MIB, mib.to_string()));
    }
    if let Some(cpus) = changes.vm_cpus {
        let cpus = in_range("VM CPUs", cpus, 1, 64)?;
        writes.push((keys::VM_CPUS, cpus.to_string()));
    }
    if let Some(minutes) = changes.idle_minutes {
        let minutes = in_range("idle minutes", minutes, 1, 24 * 60)?;
        writes.push((keys::IDLE_SECONDS, (minutes * 60).to_string()));
    }
    if let Some(turns) = changes.checkpoint_keep_turns {
        let turns = in_range("turns kept for undo", turns, 1, 10_000)?;
        writes.push((keys::CHECKPOINT_KEEP_TURNS, turns.to_string()));
    }
    if let Some(days) = changes.checkpoint_max_days {
        let days = in_range("days kept for undo", days, 1, 3650)?;
        writes.push((keys::CHECKPOINT_MAX_DAYS, days.to_string()));
    }
    if let Some(mb) = changes.checkpoint_max_mb {
        // 0 is "no limit".
        let mb = in_range("checkpoint size limit (MB)", mb, 0, 16 * 1024 * 1024)?;
        writes.push((keys::CHECKPOINT_MAX_MB, mb.to_string()));
    }
    if let Some(skip) = changes.checkpoint_skip_git {
        writes.push((keys::CHECKPOINT_SKIP_GIT, skip.to_string()));
    }
    for (key, hosts) in [
        (keys::NETWORK_ALLOW, changes.network_allow),
        (keys::NETWORK_DENY, changes.network_deny),
    ] {
        if let Some(hosts) = hosts {
            writes.push((key, host_list(&hosts)?));
        }
    }
    match changes.mcp_config {
        Some(Some(config)) if !config.trim().is_empty() => {
            // Checked now: a broken file would otherwise only show when a VM starts.
            workroom_host::connectors::load(config.trim())
                .map_err(|e| CommandError::invalid(e.to_string()))?;
            writes.push((keys::MCP_CONFIG, config.trim().to_string()));
        }
        Some(_) => clears.push(keys::MCP_CONFIG),
        None => {}
    }
    match changes.userland.as_deref() {
        Some(value @ ("minimal" | "full")) => writes.push((keys::USERLAND, value.to_string())),
        Some(other) => {
            return Err(CommandError::invalid(format!(
                "the toolset must be minimal or full, not {other:?}"
            )))
        }
        None => {}
    }
    for (key, value) in writes {
        store.set_setting(key, &value)?;
    }
    for key in clears {
        store.remove_setting(key)?;
    }
    Ok(())
}

/// Hosts as stored: lowercase, comma-separated; each a name, an address or `*`.
fn host_list(hosts: &[String]) -> CommandResult<String> {
    let mut out = Vec::new();
    for host in hosts {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            continue;
        }
        let valid = host == "*"
            || host
                .trim_start_matches("*.")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid {
            return Err(CommandError::invalid(format!(
                "{host:?} is not a host name (write it like example.com, without http:// or a path)"
            )));
        }
        out.push(host);
    }
    Ok(out.join(","))
}

/// Which kind of model service, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderName {
    /// The Anthropic API.
    Anthropic,
    /// An OpenAI-compatible server.
    Openai,
}

/// Where the model service stands (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderStatus {
    /// The provider.
    pub kind: ProviderName,
    /// `None`: the provider's default.
    pub base_url: Option<String>,
    /// Where the key comes from, if there is one.
    pub key_source: Option<&'static str>,
    /// Whether the first run is over.
    pub configured: bool,
}

/// What the first run (or Settings) saves.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProviderSetup {
    /// The Anthropic API with a key.
    Anthropic {
        /// The key (goes to the keychain).
        api_key: String,
        /// Another Anthropic-compatible endpoint.
        base_url: Option<String>,
    },
    /// An OpenAI-compatible server.
    Openai {
        /// Its URL (`http://127.0.0.1:11434/v1` for Ollama).
        base_url: String,
        /// Its key, if it needs one.
        api_key: Option<String>,
        /// The model to use.
        model: Option<String>,
    },
}

/// The provider as configured.
pub fn provider_status(store: &Store, settings: &Settings) -> CommandResult<ProviderStatus> {
    let (kind, secret) = match settings.provider {
        ProviderKind::Anthropic => (ProviderName::Anthropic, Secret::AnthropicApiKey),
        ProviderKind::OpenAi => (ProviderName::Openai, Secret::OpenAiApiKey),
    };
    let key_source = credentials::load(secret).map(|(_, source)| match source {
        Source::Keychain => "keychain",
        Source::Environment => "environment",
    });
    let chosen = store.setting(keys::PROVIDER)?.is_some()
        || std::env::var_os("WORKROOM_PROVIDER").is_some_and(|v| !v.is_empty());
    let configured = chosen || (kind == ProviderName::Anthropic && key_source.is_some());
    Ok(ProviderStatus {
        kind,
        base_url: settings.base_url.clone().filter(|u| !u.is_empty()),
        key_source,
        configured,
    })
}

fn check_url(url: &str) -> CommandResult<String> {
    let url = url.trim();
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.trim_end_matches('/').to_string())
    } else {
        Err(CommandError::invalid(format!(
            "{url:?} is not a web address (it should start with http:// or https://)"
        )))
    }
}

/// Saves the provider: the key in the keychain first (so a refused key changes nothing), then the
/// settings.
pub fn set_provider(store: &Store, setup: ProviderSetup) -> CommandResult<()> {
    match setup {
        ProviderSetup::Anthropic { api_key, base_url } => {
            let api_key = api_key.trim();
            if api_key.is_empty() {
                return Err(CommandError::invalid("enter your Anthropic API key"));
            }
            let base_url = base_url
                .filter(|u| !u.trim().is_empty())
                .map(|u| check_url(&u))
                .transpose()?;
            credentials::save(Secret::AnthropicApiKey, api_key)?;
            store.set_setting(keys::PROVIDER, ProviderKind::Anthropic.as_str())?;
            match base_url {
                Some(url) => store.set_setting(keys::BASE_URL, &url)?,
                // A stored URL from an earlier provider would still apply: put back the default.
                None if store.setting(keys::BASE_URL)?.is_some() => {
                    store.set_setting(keys::BASE_URL, "https://api.anthropic.com")?
                }
                None => {}
            }
        }
        ProviderSetup::Openai {
            base_url,
            api_key,
            model,
        } => {
            let base_url = check_url(&base_url)?;
            if let Some(key) = api_key.filter(|k| !k.trim().is_empty()) {
                credentials::save(Secret::OpenAiApiKey, key.trim())?;
            }
            store.set_setting(keys::PROVIDER, ProviderKind::OpenAi.as_str())?;
            store.set_setting(keys::BASE_URL, &base_url)?;
            if let Some(model) = model.filter(|m| !m.trim().is_empty()) {
                store.set_setting(keys::MODEL, model.trim())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_validation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let changes: SettingsChanges = serde_json::from_value(serde_json::json!({
            "default_permission_mode": "acceptEdits", "vm_cpus": 2, "idle_minutes": 5, "model": "claude-x",
            "checkpoint_max_mb": 0, "checkpoint_skip_git": true,
            "network_allow": ["PyPI.org", " github.com "], "network_deny": [], "userland": "full"
        }))
        .unwrap();
        write(&store, changes).unwrap();
        let settings = Settings::load(&store).unwrap();
        let read = read(&store, &settings).unwrap();
        assert_eq!(
            read,
            AppSettings {
                model: Some("claude-x".into()),
                default_permission_mode: "acceptEdits".into(),
                vm_memory_mib: 512,
                vm_cpus: 2,
                idle_minutes: 5,
                checkpoint_keep_turns: 50,
                checkpoint_max_days: 30,
                checkpoint_max_mb: 0,
                checkpoint_skip_git: true,
                network_allow: vec!["pypi.org".into(), "github.com".into()],
                network_deny: vec![],
                mcp_config: None,
                userland: "full".into(),
            }
        );
        let odd: SettingsChanges =
            serde_json::from_value(serde_json::json!({"userland": "huge"})).unwrap();
        assert_eq!(
            write(&store, odd).unwrap_err().code,
            crate::error::ErrorCode::InvalidInput
        );
        let url: SettingsChanges =
            serde_json::from_value(serde_json::json!({"network_deny": ["https://evil.example/x"]}))
                .unwrap();
        assert_eq!(
            write(&store, url).unwrap_err().code,
            crate::error::ErrorCode::InvalidInput
        );
        let broken: SettingsChanges = serde_json::from_value(
            serde_json::json!({"mcp_config": r#"{"mcpServers": {"x": {}}}"#}),
        )
        .unwrap();
        let e = write(&store, broken).unwrap_err();
        assert!(e.message.contains("either a command"), "{}", e.message);
        assert_eq!(
            settings.snapshot_options().max_new_bytes,
            None,
            "0 is no cap"
        );
        let bad: SettingsChanges =
            serde_json::from_value(serde_json::json!({"vm_cpus": 3, "vm_memory_mib": 1})).unwrap();
        assert_eq!(
            write(&store, bad).unwrap_err().code,
            crate::error::ErrorCode::InvalidInput
        );
        // Nothing of a rejected update is stored.
        let settings = Settings::load(&store).unwrap();
        assert_eq!(super::read(&store, &settings).unwrap().vm_cpus, 2);
        let clear: SettingsChanges =
            serde_json::from_value(serde_json::json!({"model": null})).unwrap();
        assert_eq!(clear.model, Some(None));
        write(&store, clear).unwrap();
        let settings = Settings::load(&store).unwrap();
        assert_eq!(super::read(&store, &settings).unwrap().model, None);
        assert_eq!(
            settings.vm_cpus, 2,
            "the host starts VMs with the chosen CPUs"
        );
    }

    #[test]
    fn provider_setup_shapes() {
        let setup: ProviderSetup = serde_json::from_value(
            serde_json::json!({"kind": "openai", "base_url": "http://127.0.0.1:11434/v1"}),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        set_provider(&store, setup).unwrap();
        let settings = Settings::load(&store).unwrap();
        let status = provider_status(&store, &settings).unwrap();
        assert_eq!(status.kind, ProviderName::Openai);
        assert!(status.configured);
        let empty: ProviderSetup =
            serde_json::from_value(serde_json::json!({"kind": "anthropic", "api_key": " "}))
                .unwrap();
        assert_eq!(
            set_provider(&store, empty).unwrap_err().code,
            crate::error::ErrorCode::InvalidInput
        );
    }
}
