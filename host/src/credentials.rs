//! Model credentials: from the OS keychain where there is one (macOS Keychain, Windows Credential
//! Manager, the Secret Service on Linux desktops), else from the environment. They stay on the host:
//! only the model proxy reads them.

use thiserror::Error;

/// Service name under which Workroom's secrets are filed in the keychain.
const SERVICE: &str = "dev.workroom";

/// Which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The Anthropic API key (`x-api-key`).
    AnthropicApiKey,
    /// A key for an OpenAI-compatible server.
    OpenAiApiKey,
}

impl Secret {
    fn account(self) -> &'static str {
        match self {
            Secret::AnthropicApiKey => "anthropic-api-key",
            Secret::OpenAiApiKey => "openai-api-key",
        }
    }

    /// The environment variable that can hold it.
    pub fn env_var(self) -> &'static str {
        match self {
            Secret::AnthropicApiKey => "ANTHROPIC_API_KEY",
            Secret::OpenAiApiKey => "OPENAI_API_KEY",
        }
    }
}

/// Where a secret came from (for `doctor`; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The OS keychain.
    Keychain,
    /// The environment.
    Environment,
}

/// The keychain could not store the secret.
#[derive(Debug, Error)]
#[error(
    "the key could not be saved in the system keychain ({0}); set {1} in the environment instead"
)]
pub struct StoreError(String, &'static str);

/// The secret and where it came from: the keychain first, then the environment.
pub fn load(secret: Secret) -> Option<(String, Source)> {
    if let Some(value) = from_keychain(secret) {
        return Some((value, Source::Keychain));
    }
    std::env::var(secret.env_var())
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| (v, Source::Environment))
}

/// Saves the secret in the keychain (replacing an earlier one).
pub fn save(secret: Secret, value: &str) -> Result<(), StoreError> {
    keyring::Entry::new(SERVICE, secret.account())
        .and_then(|entry| entry.set_password(value))
        .map_err(|e| StoreError(e.to_string(), secret.env_var()))
}

/// Removes the secret from the keychain (absent is fine).
pub fn forget(secret: Secret) -> Result<(), StoreError> {
    match keyring::Entry::new(SERVICE, secret.account()).and_then(|entry| entry.delete_credential())
    {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(StoreError(e.to_string(), secret.env_var())),
    }
}

fn from_keychain(secret: Secret) -> Option<String> {
    // Headless machines (CI, servers) have no keychain; that is normal, not an error.
    if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return None;
    }
    match keyring::Entry::new(SERVICE, secret.account()).and_then(|entry| entry.get_password()) {
        Ok(value) if !value.is_empty() => Some(value),
        Ok(_) | Err(keyring::Error::NoEntry) => None,
        Err(e) => {
            tracing::debug!(error = %e, "keychain not available");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_keychain_the_environment_is_used() {
        std::env::remove_var("DBUS_SESSION_BUS_ADDRESS");
        std::env::set_var("OPENAI_API_KEY", "sk-from-env");
        assert_eq!(
            load(Secret::OpenAiApiKey),
            Some(("sk-from-env".into(), Source::Environment))
        );
        std::env::remove_var("OPENAI_API_KEY");
        assert_eq!(load(Secret::OpenAiApiKey), None);
    }
}
