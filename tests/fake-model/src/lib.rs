//! A scripted local model server for tests.
//!
//! It speaks the real Anthropic Messages API (SSE streaming and plain JSON) and the OpenAI Chat
//! Completions API (chunk streaming), answers from a [`Script`], injects faults on request (HTTP
//! errors, slow or dropped streams, in-stream errors) and records every request it receives.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_model::Error> {
//! use fake_model::{FakeModel, Script, Step};
//! let server = FakeModel::start(Script::with_steps([Step::text("hello")]))?;
//! let url = server.base_url(); // point ANTHROPIC_BASE_URL here
//! // ... drive the client ...
//! assert_eq!(server.requests().len(), 1);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod anthropic_sse;
mod error;
mod ids;
mod log;
mod message;
mod openai_sse;
mod ordered_json;
mod script;
mod select;
mod server;
mod stream;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

pub use crate::error::Error;
pub use crate::log::RecordedRequest;
pub use crate::script::{
    Block, HttpError, MidStreamError, Reply, Rule, Script, Step, UsageSpec, When,
    DEFAULT_TEXT_CHUNK,
};

/// Server settings besides the script.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Append every received request to this file as one JSON line.
    pub log_path: Option<PathBuf>,
}

/// A running fake model server. Dropping it stops the server (waiting for its thread);
/// [`FakeModel::shutdown`] does the same without blocking an async caller.
///
/// The server runs on its own thread with its own single-threaded Tokio runtime, so it keeps
/// serving while the test blocks (e.g. on `std::process::Command::output` running an agent), and
/// it works from plain `#[test]` functions as well as from any async runtime.
pub struct FakeModel {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    thread: Option<JoinHandle<()>>,
    stopped: Option<oneshot::Receiver<()>>,
}

impl FakeModel {
    /// Validates `script` and serves it on a free port of 127.0.0.1.
    ///
    /// The port is accepting connections when this returns.
    pub fn start(script: Script) -> Result<FakeModel, Error> {
        Self::start_with(script, Options::default())
    }

    /// Like [`FakeModel::start`], with a fixed port and/or a request log file.
    pub fn start_with(script: Script, options: Options) -> Result<FakeModel, Error> {
        script.validate()?;
        let log = log::RequestLog::new(options.log_path.as_deref())?;

        let want = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
        let bind_error = |source| Error::Bind { addr: want, source };
        // Bound here, not on the server thread, so that bind errors reach the caller and the port
        // is ready when start returns.
        let std_listener = std::net::TcpListener::bind(want).map_err(bind_error)?;
        std_listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = std_listener.local_addr().map_err(bind_error)?;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind_error)?
        };

        let shared = Arc::new(server::Shared {
            selector: Mutex::new(select::Selector::new(&script)),
            script,
            log,
            shutdown: CancellationToken::new(),
        });
        let (stopped_tx, stopped_rx) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fake-model-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(server::serve(listener, thread_shared));
                // Dropping the runtime cancels whatever connection tasks outlived the grace period.
                drop(runtime);
                // The receiver may be gone (FakeModel dropped without shutdown); nothing to tell.
                let _ = stopped_tx.send(());
            })
            .map_err(Error::Runtime)?;
        tracing::info!(%addr, "fake model listening");
        Ok(FakeModel {
            addr,
            shared,
            thread: Some(thread),
            stopped: Some(stopped_rx),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash or `/v1` (what `ANTHROPIC_BASE_URL` takes;
    /// OpenAI clients want `base_url() + "/v1"`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.snapshot()
    }

    /// Stops accepting connections, ends open streams and waits for the server thread to finish
    /// (open connections get a short grace period, then are cut).
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(stopped) = self.stopped.take() {
            // An error only means the thread is already gone.
            let _ = stopped.await;
        }
        // Drop joins the (now finished) thread.
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            // Bounded by the server's grace period; joining makes the port free once drop returns.
            if thread.join().is_err() {
                tracing::error!("fake model server thread panicked");
            }
        }
    }
}
