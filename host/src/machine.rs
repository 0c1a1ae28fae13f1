//! A running guest with its channels: the VM, the supervisor link, session routing and the model proxy.
//!
//! [`Machine::boot`] starts the VM, waits for the guest's hello (the boot watchdog), and then serves the
//! session port (each connection routed to the session that asked for it) and the model port (each
//! connection served by the model proxy) on tasks the machine owns and stops when it is dropped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use thiserror::Error;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use workroom_protocol::vm::{ports, Hello, SessionEnded};

use crate::guest::egress::EgressProxy;
use crate::guest::model_proxy::ModelProxy;
use crate::guest::router::{SessionRouter, SessionStream};
use crate::guest::{GuestError, GuestLink};
use crate::vm::{Vm, VmBackend, VmConfig, VmError, VmExit};

/// Why a machine could not do what was asked.
#[derive(Debug, Error)]
pub enum MachineError {
    /// The VM layer failed (missing tools, boot timeout, crash...).
    #[error(transparent)]
    Vm(#[from] VmError),
    /// The guest channel failed.
    #[error("{0}")]
    Guest(#[from] GuestError),
    /// The guest never connected the session it was asked to open.
    #[error("the session did not connect within {0:?}")]
    SessionTimeout(Duration),
}

/// How long a session has to dial back after `open_session`.
const SESSION_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A booted guest.
pub struct Machine {
    vm: Arc<dyn Vm>,
    link: GuestLink,
    hello: Hello,
    router: SessionRouter<UnixStream>,
    ended: tokio::sync::Mutex<mpsc::UnboundedReceiver<SessionEnded>>,
    /// Accept loops for the session and model ports. Aborted when the machine is dropped, which also
    /// releases their handle on the VM, so dropping the machine stops the VM.
    _tasks: JoinSet<()>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("hello", &self.hello)
            .finish_non_exhaustive()
    }
}

impl Machine {
    /// Boots a VM and waits until its agent said hello (within the config's boot timeout).
    pub async fn boot(
        backend: &dyn VmBackend,
        config: VmConfig,
        proxy: ModelProxy,
        egress: EgressProxy,
    ) -> Result<Machine, MachineError> {
        let hello_timeout = config.boot_timeout;
        let vm: Arc<dyn Vm> = Arc::from(backend.start(config).await?);
        let supervisor = vm.accept(ports::SUPERVISOR).await?;
        let (link, hello, ended) = match GuestLink::handshake(supervisor, hello_timeout).await {
            Ok(parts) => parts,
            Err(e) => {
                let console = vm.console_tail(4096);
                vm.kill().await;
                tracing::error!(error = %e, console = %console, "guest did not complete its hello");
                return Err(e.into());
            }
        };
        tracing::info!(kernel = %hello.kernel, uptime_ms = hello.uptime_ms, accel = ?vm.accel(), "guest is up");
        let router = SessionRouter::default();
        let mut tasks = JoinSet::new();
        let routes = router.clone();
        tasks.spawn(accept_loop(vm.clone(), ports::SESSION, move |stream| {
            let routes = routes.clone();
            async move { routes.route(stream).await }
        }));
        tasks.spawn(accept_loop(vm.clone(), ports::MODEL, move |stream| {
            let proxy = proxy.clone();
            async move { proxy.serve_connection(stream).await }
        }));
        tasks.spawn(accept_loop(vm.clone(), ports::EGRESS, move |stream| {
            let egress = egress.clone();
            async move { egress.serve_connection(stream).await }
        }));
        Ok(Machine {
            vm,
            link,
            hello,
            router,
            ended: tokio::sync::Mutex::new(ended),
            _tasks: tasks,
        })
    }

    /// What the guest reported at boot.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The VM.
    pub fn vm(&self) -> &dyn Vm {
        self.vm.as_ref()
    }

    /// The supervisor link (ping, mount, stats).
    pub fn link(&self) -> &GuestLink {
        &self.link
    }

    /// Starts an agent session in the guest and returns its stream-json connection.
    pub async fn open_session(
        &self,
        session_id: &str,
        cwd: &str,
        args: Vec<String>,
        env: Map<String, Value>,
    ) -> Result<SessionStream<UnixStream>, MachineError> {
        let routed = self.router.expect(session_id);
        self.link.open_session(session_id, cwd, args, env).await?;
        match tokio::time::timeout(SESSION_CONNECT_TIMEOUT, routed).await {
            Ok(Ok(stream)) => Ok(stream),
            _ => Err(MachineError::SessionTimeout(SESSION_CONNECT_TIMEOUT)),
        }
    }

    /// The next session that ended in the guest.
    pub async fn next_ended(&self) -> Option<SessionEnded> {
        self.ended.lock().await.recv().await
    }

    /// Asks the guest to power off and waits; kills the VM if it takes longer than `timeout`.
    pub async fn shutdown(self, timeout: Duration) -> VmExit {
        if let Err(e) = self.link.shutdown(timeout).await {
            tracing::warn!(error = %e, "guest did not acknowledge the shutdown; killing the VM");
            self.vm.kill().await;
        }
        match self.vm.wait_for_exit(timeout).await {
            Ok(exit) => exit,
            Err(e) => {
                tracing::warn!(error = %e, "VM did not stop in time; killing it");
                self.vm.kill().await;
                VmExit::Killed
            }
        }
    }
}

/// Hands every guest connection on `port` to `handle`, until the VM ends. Connection tasks live in the
/// loop's own set, so aborting the loop ends them too.
async fn accept_loop<F, Fut>(vm: Arc<dyn Vm>, port: u32, handle: F)
where
    F: Fn(UnixStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = vm.accept(port) => match accepted {
                Ok(stream) => {
                    connections.spawn(handle(stream));
                }
                Err(e) => {
                    tracing::debug!(port, error = %e, "accept loop ends");
                    break;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}
