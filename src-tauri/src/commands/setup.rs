//! First run and Settings: the provider, the guest image, settings, disk use, system checks.

use std::path::Path;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::path::BaseDirectory;
use tauri::{Manager, State};
use workroom_host::image::{self, ImageError};
use workroom_host::vm::Arch;

use crate::error::{CommandError, CommandResult};
use crate::settings::{self, AppSettings, ProviderSetup, ProviderStatus, SettingsChanges};
use crate::state::AppState;

/// The guest agent's file name among an installed app's resources.
const BUNDLED_AGENT: &str = "workroom-agent";

/// Whether the guest image is there.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ImageStatus {
    /// Sessions can boot.
    Ready {
        /// Architecture.
        arch: String,
    },
    /// Not built yet.
    Missing {
        /// Architecture.
        arch: String,
    },
    /// There, but unreadable.
    Damaged {
        /// Architecture.
        arch: String,
        /// Why.
        reason: String,
    },
}

/// Progress of preparing the guest image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageProgress {
    /// What is happening, in words.
    pub step: String,
    /// 0..1, or `None` when the step's length is unknown.
    pub fraction: Option<f64>,
}

/// The data directory and how much disk it takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageInfo {
    /// The data directory.
    pub data_dir: String,
    /// Bytes under it.
    pub used_bytes: u64,
    /// The part of them taken by undo checkpoints.
    pub checkpoint_bytes: u64,
}

/// One thing a session needs, checked (the `workroom doctor` of the first-run screen).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemCheck {
    /// What was checked.
    pub what: String,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
    /// How to fix it, when it is not fine.
    pub fix: Option<String>,
}

/// A builder's progress, sent to the page over `channel`.
fn progress_to(channel: Channel<ImageProgress>) -> workroom_image::progress::ProgressSink {
    workroom_image::progress::ProgressSink::new(move |p| {
        // A closed page stops listening; the build goes on and the next window finds the result.
        let _ = channel.send(ImageProgress {
            step: p.step,
            fraction: Some(p.fraction),
        });
    })
}

fn image_status_of(images: &Path) -> ImageStatus {
    let arch = Arch::default();
    match image::locate(images, arch) {
        Ok(_) => ImageStatus::Ready {
            arch: arch.to_string(),
        },
        Err(ImageError::Missing { .. }) => ImageStatus::Missing {
            arch: arch.to_string(),
        },
        Err(e @ ImageError::BadManifest { .. }) => ImageStatus::Damaged {
            arch: arch.to_string(),
            reason: e.to_string(),
        },
    }
}

/// Where the model service stands.
#[tauri::command]
pub async fn provider_status(state: State<'_, AppState>) -> CommandResult<ProviderStatus> {
    let host = state.host();
    settings::provider_status(host.store(), host.settings())
}

/// Saves the provider (the key goes to the OS keychain).
#[tauri::command]
pub async fn set_provider(
    state: State<'_, AppState>,
    setup: ProviderSetup,
) -> CommandResult<ProviderStatus> {
    settings::set_provider(state.host().store(), setup)?;
    let host = state.reload_host()?;
    settings::provider_status(host.store(), host.settings())
}

/// Whether the guest image is there.
#[tauri::command]
pub async fn image_status(state: State<'_, AppState>) -> CommandResult<ImageStatus> {
    Ok(image_status_of(state.images()))
}

/// Builds the guest image into the images directory, reporting progress over `on_progress`.
///
/// An installed app carries the guest agent as a resource (see `scripts/bundle.sh`), so only the
/// Debian kernel and busybox are downloaded; a development build cross-builds the agent from the
/// source tree it was built from.
#[tauri::command]
pub async fn prepare_image<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    on_progress: Channel<ImageProgress>,
) -> CommandResult<ImageStatus> {
    let progress = progress_to(on_progress);
    // A second window waits for the first build, then finds the image ready.
    let _building = state.image_build.lock().await;
    if let status @ ImageStatus::Ready { .. } = image_status_of(state.images()) {
        progress.report("The guest image is ready", 1.0);
        return Ok(status);
    }
    let arch = Arch::default().into();
    let bundled_agent = app
        .path()
        .resolve(BUNDLED_AGENT, BaseDirectory::Resource)
        .ok()
        .filter(|p| p.is_file());
    let options = workroom_image::build::BuildOptions {
        arch,
        out_dir: state.images().to_path_buf(),
        cache_dir: workroom_image::default_cache_dir(workroom_image::process_env)
            .map_err(|e| CommandError::unknown(e.to_string()))?,
        agent_version: bundled_agent
            .as_ref()
            .map(|_| env!("CARGO_PKG_VERSION").to_string()),
        agent_bin: bundled_agent,
        workspace: workroom_image::agent::workspace_root(),
        progress,
    };
    // The builder is synchronous; it runs on a blocking thread owned by this command, which
    // waits for it.
    let built =
        tauri::async_runtime::spawn_blocking(move || workroom_image::build::build(&options))
            .await
            .map_err(|e| CommandError::unknown(format!("the image builder stopped: {e}")))?;
    if let Err(e) = built {
        return Err(CommandError::unknown(format!(
            "preparing the guest image failed: {e}"
        )));
    }
    Ok(image_status_of(state.images()))
}

/// Where the full userland stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UserlandStatus {
    /// Prepared.
    Ready {
        /// Built from this version's package list (false: an update is available).
        current: bool,
        /// Bytes on disk.
        size_bytes: u64,
        /// Whether LibreOffice is included.
        office: bool,
    },
    /// Not prepared.
    Missing,
}

fn userland_status_of(images: &Path) -> UserlandStatus {
    match image::userland(images, Arch::default()) {
        image::UserlandState::Ready {
            current,
            size_bytes,
            office,
            ..
        } => UserlandStatus::Ready {
            current,
            size_bytes,
            office,
        },
        image::UserlandState::Missing => UserlandStatus::Missing,
    }
}

/// Whether the full userland is prepared.
#[tauri::command]
pub async fn userland_status(state: State<'_, AppState>) -> CommandResult<UserlandStatus> {
    Ok(userland_status_of(state.images()))
}

/// Downloads and unpacks the full userland (about 90 MB of Debian packages and Python wheels,
/// verified against the built-in lock; `office` adds LibreOffice, about 115 MB more), reporting
/// progress over `on_progress`. Sessions started afterwards with the `full` setting use it;
/// running ones keep what they booted with.
#[tauri::command]
pub async fn prepare_userland(
    state: State<'_, AppState>,
    office: Option<bool>,
    on_progress: Channel<ImageProgress>,
) -> CommandResult<UserlandStatus> {
    let office = office.unwrap_or(false);
    let progress = progress_to(on_progress);
    // One build at a time (the image and the userland share the download cache).
    let _building = state.image_build.lock().await;
    let status = userland_status_of(state.images());
    if matches!(status, UserlandStatus::Ready { current: true, office: has, .. } if has == office) {
        progress.report("The full toolset is ready", 1.0);
        return Ok(status);
    }
    let options = workroom_image::userland::UserlandOptions {
        arch: Arch::default().into(),
        out_dir: state.images().to_path_buf(),
        cache_dir: workroom_image::default_cache_dir(workroom_image::process_env)
            .map_err(|e| CommandError::unknown(e.to_string()))?,
        office,
        progress,
    };
    let built =
        tauri::async_runtime::spawn_blocking(move || workroom_image::userland::build(&options))
            .await
            .map_err(|e| {
                CommandError::unknown(format!("preparing the full toolset stopped: {e}"))
            })?;
    if let Err(e) = built {
        return Err(CommandError::unknown(format!(
            "preparing the full toolset failed: {e}"
        )));
    }
    Ok(userland_status_of(state.images()))
}

/// The settings in force.
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CommandResult<AppSettings> {
    let host = state.host();
    settings::read(host.store(), host.settings())
}

/// Saves the given settings; returns all settings as now in force (for new sessions).
#[tauri::command]
pub async fn set_settings(
    state: State<'_, AppState>,
    changes: SettingsChanges,
) -> CommandResult<AppSettings> {
    if changes.wants_full_userland()
        && image::userland(state.images(), Arch::default()) == image::UserlandState::Missing
    {
        return Err(CommandError::invalid(
            "prepare the full toolset before choosing it",
        ));
    }
    settings::write(state.host().store(), changes)?;
    let host = state.reload_host()?;
    settings::read(host.store(), host.settings())
}

/// The data directory and its disk use.
#[tauri::command]
pub async fn storage_info(state: State<'_, AppState>) -> CommandResult<StorageInfo> {
    let dir = state.data_dir().to_path_buf();
    let host = state.host();
    let (used_bytes, checkpoint_bytes) = tauri::async_runtime::spawn_blocking({
        let dir = dir.clone();
        // Undo may be unavailable (its store could not be opened): then it takes nothing.
        move || (disk_use(&dir), host.checkpoint_disk_use().unwrap_or(0))
    })
    .await
    .map_err(|e| CommandError::unknown(format!("measuring the data directory failed: {e}")))?;
    Ok(StorageInfo {
        data_dir: dir.display().to_string(),
        used_bytes,
        checkpoint_bytes,
    })
}

/// Bytes of the files under `dir` (symbolic links are not followed; unreadable entries count 0).
fn disk_use(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The page shows its first interactive screen: logs the time since the process started, and prints
/// it as one JSON line on stdout when `WORKROOM_REPORT_READY` is set (the app benchmark reads it).
#[tauri::command]
pub async fn page_ready(state: State<'_, AppState>) -> CommandResult<()> {
    let startup_ms = state.started().elapsed().as_secs_f64() * 1000.0;
    tracing::info!(startup_ms, "the window is interactive");
    if std::env::var_os("WORKROOM_REPORT_READY").is_some() {
        println!(
            "{}",
            serde_json::json!({"event": "interactive", "startup_ms": startup_ms})
        );
    }
    Ok(())
}

/// What a session needs on this machine, one check each (for the first-run screen).
#[tauri::command]
pub async fn system_checks(state: State<'_, AppState>) -> CommandResult<Vec<SystemCheck>> {
    let mut checks = Vec::new();
    checks.push(match state.vm_problem() {
        None => SystemCheck {
            what: "Virtual machine tools".into(),
            ok: true,
            detail: "QEMU, virtiofsd and vhost-device-vsock are installed".into(),
            fix: None,
        },
        Some(missing) => SystemCheck {
            what: "Virtual machine tools".into(),
            ok: false,
            detail: missing.to_string(),
            fix: Some(
                missing
                    .missing
                    .iter()
                    .map(|m| m.install)
                    .collect::<Vec<_>>()
                    .join(" && "),
            ),
        },
    });
    if cfg!(target_os = "linux") {
        let kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm");
        checks.push(SystemCheck {
            what: "Hardware acceleration (KVM)".into(),
            ok: kvm.is_ok(),
            detail: match &kvm {
                Ok(_) => "/dev/kvm can be used".into(),
                Err(e) => {
                    format!("/dev/kvm cannot be used ({e}); VMs will run, slowly, without it")
                }
            },
            fix: kvm
                .is_err()
                .then(|| "sudo usermod -aG kvm $USER (then log in again)".into()),
        });
    }
    let image = image_status_of(state.images());
    checks.push(SystemCheck {
        what: "Guest image".into(),
        ok: matches!(image, ImageStatus::Ready { .. }),
        detail: match &image {
            ImageStatus::Ready { arch } => format!("the {arch} image is ready"),
            ImageStatus::Missing { arch } => format!("the {arch} image has not been prepared yet"),
            ImageStatus::Damaged { reason, .. } => reason.clone(),
        },
        fix: (!matches!(image, ImageStatus::Ready { .. }))
            .then(|| "prepare it from this screen".into()),
    });
    let host = state.host();
    let provider = settings::provider_status(host.store(), host.settings())?;
    checks.push(SystemCheck {
        what: "Model service".into(),
        ok: host.settings().has_credentials(),
        detail: match provider.key_source {
            Some(source) => format!("a key is set (from the {source})"),
            None if host.settings().has_credentials() => "no key needed".into(),
            None => "no API key yet".into(),
        },
        fix: (!host.settings().has_credentials()).then(|| "enter a key on this screen".into()),
    });
    Ok(checks)
}
