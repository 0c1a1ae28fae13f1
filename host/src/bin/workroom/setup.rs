//! Where things are (data directory, images, console logs) and how the host is put together.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use workroom_host::session::Host;
use workroom_host::store::Store;
use workroom_host::vm::{BoxFuture, MissingTool, Vm, VmBackend, VmConfig, VmError};

/// The data directory and what is in it.
#[derive(Debug, Clone)]
pub struct App {
    /// `WORKROOM_HOME`, else the platform's data directory.
    pub data_dir: PathBuf,
    /// `<data>/images`.
    pub images: PathBuf,
}

impl App {
    pub fn from_env() -> Self {
        App {
            data_dir: workroom_host::paths::data_dir(),
            images: workroom_host::paths::images_dir(),
        }
    }

    /// The database (created on first use).
    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.data_dir)?)
    }

    /// The host over `backend`.
    pub fn host(&self, backend: Arc<dyn VmBackend>) -> anyhow::Result<Host> {
        Ok(Host::open(&self.data_dir, &self.images, backend)?)
    }

    /// A host whose settings this run changes (`workroom run --mcp-config`).
    pub fn host_with(
        &self,
        backend: Arc<dyn VmBackend>,
        adjust: impl FnOnce(&mut workroom_host::settings::Settings),
    ) -> anyhow::Result<Host> {
        Ok(Host::open_with(
            &self.data_dir,
            &self.images,
            backend,
            adjust,
        )?)
    }

    /// A host for commands that never start a VM (listing, deleting).
    pub fn host_without_vms(&self) -> anyhow::Result<Host> {
        self.host(Arc::new(NoVms))
    }

    /// Where a session's guest console is written.
    pub fn console_log(&self, session_id: &str) -> PathBuf {
        workroom_host::session::console_log(&self.data_dir, session_id)
    }
}

/// This OS's VM backend (QEMU on Linux, with the accelerator verdict remembered in the data
/// directory; Apple's Virtualization framework on macOS).
pub fn vm_backend(app: &App) -> Result<Arc<dyn VmBackend>, MissingTool> {
    workroom_host::vm::platform_backend(&app.data_dir)
}

/// A backend that starts nothing, for commands that only read or delete records.
struct NoVms;

impl VmBackend for NoVms {
    fn name(&self) -> &'static str {
        "none"
    }

    fn start(&self, _config: VmConfig) -> BoxFuture<'_, Result<Box<dyn Vm>, VmError>> {
        Box::pin(async {
            Err(VmError::InvalidConfig(
                "this command does not start virtual machines".into(),
            ))
        })
    }
}

/// `path`, checked to be an existing folder, in words a person understands.
pub fn existing_folder(path: &Path) -> anyhow::Result<PathBuf> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "the folder {} cannot be shared: it does not exist or cannot be read",
            path.display()
        )
    })?;
    anyhow::ensure!(
        meta.is_dir(),
        "{} cannot be shared: it is a file, not a folder",
        path.display()
    );
    Ok(path.canonicalize()?)
}
