//! What the app keeps between commands: the host (reopened when settings change), the open
//! sessions, the folders the app was launched with, and whether it is quitting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use workroom_host::session::{Host, HostError};
use workroom_host::vm::{BoxFuture, MissingTool, Vm, VmBackend, VmConfig, VmError};

use crate::error::CommandResult;
use crate::session::OpenSession;

/// How long quitting waits for each VM to shut down before it is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);

/// Managed state of the app (`app.manage`), shared by every command.
pub struct AppState {
    data_dir: PathBuf,
    images: PathBuf,
    backend: Arc<dyn VmBackend>,
    /// Why VMs cannot start on this machine, if they cannot (missing QEMU, virtiofsd...).
    vm_problem: Option<MissingTool>,
    host: RwLock<Host>,
    sessions: Mutex<HashMap<String, OpenSession>>,
    launch_folders: Mutex<Vec<String>>,
    /// Held while the guest image is being prepared, so two windows never build at once.
    pub(crate) image_build: tokio::sync::Mutex<()>,
    quitting: AtomicBool,
    /// When the app opened its state (just after the process started), for the start-up time.
    started: Instant,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.data_dir)
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AppState {
    /// Opens the data directory with `backend` for VMs.
    pub fn open(
        data_dir: &Path,
        images: &Path,
        backend: Arc<dyn VmBackend>,
        vm_problem: Option<MissingTool>,
    ) -> Result<Self, HostError> {
        let host = Host::open(data_dir, images, backend.clone())?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            images: images.to_path_buf(),
            backend,
            vm_problem,
            host: RwLock::new(host),
            sessions: Mutex::new(HashMap::new()),
            launch_folders: Mutex::new(Vec::new()),
            image_build: tokio::sync::Mutex::new(()),
            quitting: AtomicBool::new(false),
            started: Instant::now(),
        })
    }

    /// The data directory and this OS's VM backend, as the `workroom` command line uses them.
    pub fn from_env() -> Result<Self, HostError> {
        let data_dir = workroom_host::paths::data_dir();
        let (backend, problem): (Arc<dyn VmBackend>, _) =
            match workroom_host::vm::platform_backend(&data_dir) {
                Ok(backend) => (backend, None),
                Err(missing) => (Arc::new(NoVms(missing.clone())), Some(missing)),
            };
        Self::open(
            &data_dir,
            &workroom_host::paths::images_dir(),
            backend,
            problem,
        )
    }

    /// When the app started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The host as now configured.
    pub fn host(&self) -> Host {
        self.host
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reopens the host so new sessions see changed settings (open sessions keep theirs until
    /// they are closed).
    pub fn reload_host(&self) -> CommandResult<Host> {
        let host = Host::open(&self.data_dir, &self.images, self.backend.clone())?;
        *self.host.write().unwrap_or_else(PoisonError::into_inner) = host.clone();
        Ok(host)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The images directory.
    pub fn images(&self) -> &Path {
        &self.images
    }

    /// Why VMs cannot start here, if they cannot.
    pub fn vm_problem(&self) -> Option<&MissingTool> {
        self.vm_problem.as_ref()
    }

    /// The session's actor, started if it is not running.
    pub fn session(&self, id: &str) -> CommandResult<OpenSession> {
        let mut sessions = lock(&self.sessions);
        if let Some(open) = sessions.get(id).filter(|s| s.is_alive()) {
            return Ok(open.clone());
        }
        let open = OpenSession::start(self.host(), id)?;
        sessions.insert(id.to_string(), open.clone());
        Ok(open)
    }

    /// The session's actor if it is running.
    pub fn session_if_open(&self, id: &str) -> Option<OpenSession> {
        lock(&self.sessions)
            .get(id)
            .filter(|s| s.is_alive())
            .cloned()
    }

    /// Closes one session (its VM shuts down); absent is fine.
    pub async fn close_session(&self, id: &str) {
        let open = lock(&self.sessions).remove(id);
        if let Some(open) = open {
            open.close(CLOSE_TIMEOUT).await;
        }
    }

    /// Closes every session, all at once, each VM shut down gracefully.
    pub async fn close_all(&self) {
        let open: Vec<OpenSession> = lock(&self.sessions).drain().map(|(_, s)| s).collect();
        futures_util::future::join_all(open.into_iter().map(|s| s.close(CLOSE_TIMEOUT))).await;
    }

    /// How many sessions have a VM booting or running.
    pub fn busy_sessions(&self) -> usize {
        lock(&self.sessions)
            .values()
            .filter(|s| s.is_alive() && s.vm_is_up())
            .count()
    }

    /// Adds folders given on a command line.
    pub fn push_launch_folders(&self, folders: impl IntoIterator<Item = String>) {
        lock(&self.launch_folders).extend(folders);
    }

    /// The launch folders not yet handed to the page (each is handed out once).
    pub fn take_launch_folders(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.launch_folders))
    }

    /// Marks the app as quitting; `false` if it already was.
    pub fn start_quitting(&self) -> bool {
        !self.quitting.swap(true, Ordering::SeqCst)
    }

    /// Whether the app is quitting.
    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}

/// A backend for machines where QEMU and its helpers are missing: every start fails with what to
/// install (the first-run screen shows the same through `system_checks`).
struct NoVms(MissingTool);

impl VmBackend for NoVms {
    fn name(&self) -> &'static str {
        "none"
    }

    fn start(&self, _config: VmConfig) -> BoxFuture<'_, Result<Box<dyn Vm>, VmError>> {
        let missing = self.0.clone();
        Box::pin(async move { Err(VmError::MissingTool(missing)) })
    }
}
