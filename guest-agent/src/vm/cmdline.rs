//! What the host asked for on the kernel command line.

use workroom_protocol::vm::{cmdline, decode_cmdline_value, Mount, GUEST_MODEL_PORT};

/// Settings read from `/proc/cmdline`.
#[derive(Debug, Clone, PartialEq)]
pub struct BootSettings {
    /// Shares to mount at boot.
    pub shares: Vec<Mount>,
    /// Log filter for the console.
    pub log: Option<String>,
    /// Guest-local port of the model proxy.
    pub model_port: u16,
    /// Where the full userland's share is mounted, when the host asked for it.
    pub userland: Option<String>,
}

impl BootSettings {
    /// Parses a kernel command line; malformed entries are skipped with a warning.
    pub fn parse(line: &str) -> Self {
        let mut settings = BootSettings {
            shares: Vec::new(),
            log: None,
            model_port: GUEST_MODEL_PORT,
            userland: None,
        };
        for word in line.split_whitespace() {
            let Some((key, value)) = word.split_once('=') else {
                continue;
            };
            match key {
                k if k == cmdline::SHARE => {
                    let parsed = value.split_once(':').and_then(|(tag, path)| {
                        Some((tag.to_string(), decode_cmdline_value(path)?))
                    });
                    match parsed {
                        Some((tag, path)) if !tag.is_empty() && path.starts_with('/') => {
                            settings.shares.push(Mount { tag, path })
                        }
                        _ => eprintln!("workroom: ignoring malformed {word}"),
                    }
                }
                k if k == cmdline::LOG => settings.log = Some(value.to_string()),
                k if k == cmdline::USERLAND => match decode_cmdline_value(value) {
                    Some(path) if path.starts_with('/') => settings.userland = Some(path),
                    _ => eprintln!("workroom: ignoring malformed {word}"),
                },
                k if k == cmdline::MODEL_PORT => {
                    if let Ok(port) = value.parse() {
                        settings.model_port = port;
                    }
                }
                _ => {}
            }
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shares_log_and_port() {
        let s = BootSettings::parse(
            "console=ttyS0 quiet workroom.share=s0:/sessions/a/mnt/Taxes%202026 workroom.share=bad workroom.log=debug workroom.model_port=9000 workroom.userland=/run/workroom/userland",
        );
        assert_eq!(
            s.shares,
            vec![Mount {
                tag: "s0".into(),
                path: "/sessions/a/mnt/Taxes 2026".into()
            }]
        );
        assert_eq!(s.log.as_deref(), Some("debug"));
        assert_eq!(s.model_port, 9000);
        assert_eq!(s.userland.as_deref(), Some("/run/workroom/userland"));
        // A directory of a device that holds several shares (Apple's Virtualization framework).
        let s =
            BootSettings::parse("console=hvc0 workroom.share=workroom/f0:/sessions/a/mnt/Taxes");
        assert_eq!(
            s.shares,
            vec![Mount {
                tag: "workroom/f0".into(),
                path: "/sessions/a/mnt/Taxes".into()
            }]
        );
    }
}
