//! Host settings (stored in the database, overridable by the environment) and model credentials.

use crate::credentials::{self, Secret};
use crate::guest::model_proxy::Upstream;
use crate::store::{Store, StoreError};

/// Which kind of model service sessions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The Anthropic API (or anything speaking it).
    Anthropic,
    /// An OpenAI-compatible server (Ollama, llama.cpp, vLLM, LM Studio).
    OpenAi,
}

impl ProviderKind {
    /// Parses `anthropic` / `openai`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anthropic" => Some(Self::Anthropic),
            "openai" | "ollama" => Some(Self::OpenAi),
            _ => None,
        }
    }

    /// Name in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::OpenAi => "openai",
        }
    }
}

/// Settings that shape sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Model service.
    pub provider: ProviderKind,
    /// Its base URL (`None`: the provider's default).
    pub base_url: Option<String>,
    /// Default model (`None`: the agent's default).
    pub model: Option<String>,
    /// Memory of each VM.
    pub vm_memory_mib: u32,
    /// Virtual CPUs of each VM.
    pub vm_cpus: u32,
    /// Cap on the memory of all running VMs together.
    pub max_total_memory_mib: u32,
    /// Idle seconds before a session's VM is shut down (it boots again on the next message).
    pub idle_seconds: u32,
    /// Seconds a VM may take to boot before it is declared failed.
    pub boot_timeout_secs: u32,
    /// Turns per folder whose checkpoints are kept for undo.
    pub checkpoint_keep_turns: u32,
    /// Days checkpoints are kept for undo.
    pub checkpoint_max_days: u32,
    /// Most MiB one checkpoint may copy before the person is asked whether to go on without undo
    /// (0: no cap).
    pub checkpoint_max_mb: u32,
    /// Leave `.git` directories out of checkpoints (by default undo protects them too).
    pub checkpoint_skip_git: bool,
    /// Hosts the agent's tools may reach without asking (and their subdomains); `*` for all.
    pub network_allow: Vec<String>,
    /// Hosts the agent's tools may never reach.
    pub network_deny: Vec<String>,
    /// MCP servers the host runs for the agent: a `.mcp.json`-style file, or the JSON itself
    /// (`None`: `<data>/mcp.json` if it exists).
    pub mcp_config: Option<String>,
    /// Shell commands run in the full Debian userland (bash, git, Python with the document
    /// libraries, …) instead of the minimal image's busybox.
    pub full_userland: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            provider: ProviderKind::Anthropic,
            base_url: None,
            model: None,
            vm_memory_mib: 512,
            vm_cpus: 1,
            max_total_memory_mib: 2048,
            idle_seconds: 600,
            boot_timeout_secs: 60,
            checkpoint_keep_turns: 50,
            checkpoint_max_days: 30,
            checkpoint_max_mb: 1024,
            checkpoint_skip_git: false,
            network_allow: Vec::new(),
            network_deny: Vec::new(),
            mcp_config: None,
            full_userland: false,
        }
    }
}

/// Setting keys in the database.
pub mod keys {
    /// `anthropic` or `openai`.
    pub const PROVIDER: &str = "provider";
    /// Base URL of the provider.
    pub const BASE_URL: &str = "base_url";
    /// Default model.
    pub const MODEL: &str = "model";
    /// MiB per VM.
    pub const VM_MEMORY_MIB: &str = "vm_memory_mib";
    /// Virtual CPUs per VM.
    pub const VM_CPUS: &str = "vm_cpus";
    /// MiB for all VMs.
    pub const MAX_TOTAL_MEMORY_MIB: &str = "max_total_memory_mib";
    /// Idle seconds.
    pub const IDLE_SECONDS: &str = "idle_seconds";
    /// Boot timeout in seconds.
    pub const BOOT_TIMEOUT_SECS: &str = "boot_timeout_secs";
    /// Turns kept for undo.
    pub const CHECKPOINT_KEEP_TURNS: &str = "checkpoint_keep_turns";
    /// Days kept for undo.
    pub const CHECKPOINT_MAX_DAYS: &str = "checkpoint_max_days";
    /// MiB one checkpoint may copy.
    pub const CHECKPOINT_MAX_MB: &str = "checkpoint_max_mb";
    /// `true` to leave `.git` out of checkpoints.
    pub const CHECKPOINT_SKIP_GIT: &str = "checkpoint_skip_git";
    /// Hosts tools may reach without asking (comma-separated).
    pub const NETWORK_ALLOW: &str = "network_allow";
    /// Hosts tools may never reach (comma-separated).
    pub const NETWORK_DENY: &str = "network_deny";
    /// MCP servers (file path or JSON).
    pub const MCP_CONFIG: &str = "mcp_config";
    /// `minimal` or `full`: the guest userland shell commands run in.
    pub const USERLAND: &str = "userland";
}

impl Settings {
    /// Stored settings, then `WORKROOM_*` environment overrides.
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut s = Settings::default();
        let get = |key: &str| -> Result<Option<String>, StoreError> {
            let env_key = format!("WORKROOM_{}", key.to_ascii_uppercase());
            match std::env::var(&env_key).ok().filter(|v| !v.is_empty()) {
                Some(v) => Ok(Some(v)),
                None => store.setting(key),
            }
        };
        if let Some(p) = get(keys::PROVIDER)?.and_then(|v| ProviderKind::parse(&v)) {
            s.provider = p;
        }
        // An empty value means the default, as `workroom config set model ""` promises.
        s.base_url = get(keys::BASE_URL)?.filter(|v| !v.trim().is_empty());
        s.model = get(keys::MODEL)?.filter(|v| !v.trim().is_empty());
        let number =
            |v: Option<String>, default: u32| v.and_then(|v| v.parse().ok()).unwrap_or(default);
        s.vm_memory_mib = number(get(keys::VM_MEMORY_MIB)?, s.vm_memory_mib);
        s.vm_cpus = number(get(keys::VM_CPUS)?, s.vm_cpus).max(1);
        s.max_total_memory_mib = number(get(keys::MAX_TOTAL_MEMORY_MIB)?, s.max_total_memory_mib);
        s.idle_seconds = number(get(keys::IDLE_SECONDS)?, s.idle_seconds);
        s.boot_timeout_secs = number(get(keys::BOOT_TIMEOUT_SECS)?, s.boot_timeout_secs);
        s.checkpoint_keep_turns =
            number(get(keys::CHECKPOINT_KEEP_TURNS)?, s.checkpoint_keep_turns);
        s.checkpoint_max_days = number(get(keys::CHECKPOINT_MAX_DAYS)?, s.checkpoint_max_days);
        s.checkpoint_max_mb = number(get(keys::CHECKPOINT_MAX_MB)?, s.checkpoint_max_mb);
        if let Some(v) = get(keys::NETWORK_ALLOW)? {
            s.network_allow = crate::guest::egress::parse_hosts(&v);
        }
        if let Some(v) = get(keys::NETWORK_DENY)? {
            s.network_deny = crate::guest::egress::parse_hosts(&v);
        }
        s.mcp_config = get(keys::MCP_CONFIG)?.filter(|v| !v.trim().is_empty());
        if let Some(v) = get(keys::USERLAND)? {
            s.full_userland = v.trim() == "full";
        }
        if let Some(v) = get(keys::CHECKPOINT_SKIP_GIT)? {
            s.checkpoint_skip_git = matches!(v.trim(), "true" | "1" | "yes" | "on");
        }
        Ok(s)
    }

    /// How the session's checkpoints are taken: the cap applies to the estimate before a turn and
    /// again to the checkpoint itself.
    pub fn snapshot_options(&self) -> crate::checkpoint::SnapshotOptions {
        crate::checkpoint::SnapshotOptions {
            max_new_bytes: (self.checkpoint_max_mb > 0)
                .then(|| u64::from(self.checkpoint_max_mb) * 1024 * 1024),
            skip_git: self.checkpoint_skip_git,
        }
    }

    /// Where model requests go: the setting, else the provider's environment variable, else its
    /// default.
    fn provider_base_url(&self) -> String {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (var, default) = match self.provider {
            ProviderKind::Anthropic => ("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            ProviderKind::OpenAi => ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        };
        self.base_url
            .clone()
            .or_else(|| env(var))
            .unwrap_or_else(|| default.into())
    }

    /// The model proxy's upstream, with credentials from the keychain or the environment (they stay
    /// on the host).
    pub fn upstream(&self) -> Upstream {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let secret = |s: Secret| credentials::load(s).map(|(value, _)| value);
        match self.provider {
            ProviderKind::Anthropic => Upstream::Anthropic {
                base_url: self.provider_base_url(),
                api_key: secret(Secret::AnthropicApiKey),
                auth_token: env("ANTHROPIC_AUTH_TOKEN"),
            },
            ProviderKind::OpenAi => Upstream::OpenAi {
                base_url: self.provider_base_url(),
                api_key: secret(Secret::OpenAiApiKey),
            },
        }
    }

    /// The model provider's host: the model proxy's only destination, and never one for tools.
    pub fn provider_host(&self) -> Option<String> {
        reqwest::Url::parse(&self.provider_base_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
    }

    /// The `--model` the agent gets (`openai:<name>` selects its OpenAI client).
    pub fn agent_model(&self, model: Option<&str>) -> Option<String> {
        let model = model.map(str::to_string).or_else(|| self.model.clone());
        match self.provider {
            ProviderKind::Anthropic => model,
            ProviderKind::OpenAi => Some(format!(
                "openai:{}",
                model.unwrap_or_else(|| "qwen3".into())
            )),
        }
    }

    /// Whether credentials are configured (for `doctor`); never returns the key itself.
    pub fn has_credentials(&self) -> bool {
        match self.upstream() {
            Upstream::Anthropic {
                api_key,
                auth_token,
                ..
            } => api_key.is_some() || auth_token.is_some(),
            Upstream::OpenAi { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_settings_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(Settings::load(&store).unwrap().vm_memory_mib, 512);
        store.set_setting(keys::PROVIDER, "openai").unwrap();
        store.set_setting(keys::IDLE_SECONDS, "3").unwrap();
        let s = Settings::load(&store).unwrap();
        assert_eq!(s.provider, ProviderKind::OpenAi);
        assert_eq!(s.idle_seconds, 3);
        assert_eq!(
            s.agent_model(Some("llama3")).as_deref(),
            Some("openai:llama3")
        );
    }
}
