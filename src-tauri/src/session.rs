//! One actor task per open session: it owns the host's [`SessionHandle`], forwards every
//! [`SessionEvent`] to the window's `ipc::Channel`, and remembers what a reloaded window needs to
//! draw the session again (the VM's last state, the questions still waiting for an answer).
//!
//! Commands reach the actor over a queue, so events and requests are handled one at a time: a
//! window that attaches gets a snapshot and then exactly the events that come after it.
//!
//! Events go to the window in batches: a streamed answer is thousands of small deltas a second, and
//! each channel message costs the web view a script evaluation, which stalled the page. The actor
//! holds events for at most [`BATCH_WINDOW`] (less than a frame) and sends them as one array.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use futures_util::FutureExt;
use serde::Serialize;
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;
use tokio::sync::{mpsc, oneshot};
use workroom_host::session::{
    Host, PermissionAnswer, PermissionPrompt, SendOptions, SessionEvent, SessionHandle, VmState,
};
use workroom_host::store::{FrameRecord, SessionRecord};

use crate::error::{CommandError, CommandResult};

/// The window's end of a session: batches of events, in order.
pub type EventChannel = Channel<Vec<SessionEvent>>;

/// How long the first event of a batch may wait for company (well under a 16 ms frame).
pub const BATCH_WINDOW: Duration = Duration::from_millis(8);

/// A batch is sent at once when it reaches this many events.
const BATCH_MAX: usize = 256;

/// What a window gets when it opens a session: enough to draw it as it is right now.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSnapshot {
    /// The stored session.
    pub record: SessionRecord,
    /// The whole stored transcript, oldest first.
    pub transcript: Vec<FrameRecord>,
    /// Questions waiting for an answer (they live in memory, not in the transcript).
    pub pending: Vec<PermissionPrompt>,
    /// The VM's last known state; `None` when it has not booted since the app started.
    pub vm: Option<VmState>,
}

/// Requests to a session actor.
enum Request {
    Attach {
        channel: EventChannel,
        reply: oneshot::Sender<CommandResult<SessionSnapshot>>,
    },
    Detach,
    Send(String, SendOptions),
    Interrupt,
    Answer(String, PermissionAnswer),
    SetMode(String),
    StopVm(oneshot::Sender<()>),
}

/// A handle on a session actor (cheap to clone; the map in `AppState` holds the owning one).
#[derive(Clone)]
pub struct OpenSession {
    requests: mpsc::UnboundedSender<Request>,
    vm: Arc<Mutex<Option<VmState>>>,
    /// The actor task; taken by [`OpenSession::close`].
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Dropping this sender tells the actor to close the session.
    close: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl OpenSession {
    /// Starts the actor for session `id` (which must exist). Must run inside the async runtime.
    pub fn start(host: Host, id: &str) -> CommandResult<Self> {
        let handle = host.open_session(id)?;
        let (requests, request_rx) = mpsc::unbounded_channel();
        let (close, close_rx) = oneshot::channel();
        let vm = Arc::new(Mutex::new(None));
        let actor = Actor {
            id: id.to_string(),
            host,
            handle: Some(handle),
            channel: None,
            batch: Vec::new(),
            flush_at: None,
            vm: vm.clone(),
            pending: Vec::new(),
        };
        let task = tauri::async_runtime::spawn(actor.run(request_rx, close_rx));
        Ok(Self {
            requests,
            vm,
            task: Arc::new(Mutex::new(Some(task))),
            close: Arc::new(Mutex::new(Some(close))),
        })
    }

    /// Whether the actor still runs.
    pub fn is_alive(&self) -> bool {
        !self.requests.is_closed()
    }

    /// Whether the VM is booting or running.
    pub fn vm_is_up(&self) -> bool {
        matches!(
            *self.vm.lock().unwrap_or_else(PoisonError::into_inner),
            Some(VmState::Booting { .. } | VmState::Running { .. })
        )
    }

    fn request(&self, request: Request) -> CommandResult<()> {
        self.requests.send(request).map_err(|_| {
            CommandError::unknown("the session was closed while the request was on its way")
        })
    }

    /// Attaches a window's channel (replacing any earlier one) and returns the snapshot the
    /// channel's events follow.
    pub async fn attach(&self, channel: EventChannel) -> CommandResult<SessionSnapshot> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::Attach { channel, reply })?;
        answer
            .await
            .map_err(|_| CommandError::unknown("the session closed before it could be shown"))?
    }

    /// Stops delivering events to the window.
    pub fn detach(&self) -> CommandResult<()> {
        self.request(Request::Detach)
    }

    /// Sends a message (the VM boots if needed).
    pub fn send(&self, text: String, options: SendOptions) -> CommandResult<()> {
        self.request(Request::Send(text, options))
    }

    /// Interrupts the running turn.
    pub fn interrupt(&self) -> CommandResult<()> {
        self.request(Request::Interrupt)
    }

    /// Answers a permission question.
    pub fn answer(&self, request_id: String, answer: PermissionAnswer) -> CommandResult<()> {
        self.request(Request::Answer(request_id, answer))
    }

    /// Changes the permission mode.
    pub fn set_mode(&self, mode: String) -> CommandResult<()> {
        self.request(Request::SetMode(mode))
    }

    /// Stops the VM; the session stays open and the next message boots it again.
    pub async fn stop_vm(&self) -> CommandResult<()> {
        let (done, wait) = oneshot::channel();
        self.request(Request::StopVm(done))?;
        wait.await
            .map_err(|_| CommandError::unknown("the session closed while its VM was stopping"))
    }

    /// Closes the session: its VM shuts down gracefully, or is killed after `timeout`.
    pub async fn close(self, timeout: Duration) {
        drop(
            self.close
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let abort = task.inner().abort_handle();
            if tokio::time::timeout(timeout, task).await.is_err() {
                tracing::warn!("a session did not close in time; stopping it");
                abort.abort();
            }
        }
    }
}

struct Actor {
    id: String,
    host: Host,
    /// `None` after the VM was stopped on request (or the host's task ended); reopened on demand.
    handle: Option<SessionHandle>,
    channel: Option<EventChannel>,
    /// Events not yet sent to the window, and when they must go.
    batch: Vec<SessionEvent>,
    flush_at: Option<Instant>,
    vm: Arc<Mutex<Option<VmState>>>,
    pending: Vec<PermissionPrompt>,
}

/// The next event of `handle`, or never when there is none.
async fn next_event(handle: &mut Option<SessionHandle>) -> Option<SessionEvent> {
    match handle {
        Some(handle) => handle.next_event().await,
        None => std::future::pending().await,
    }
}

/// Resolves at `at`, or never.
async fn deadline(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Actor {
    async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut close: oneshot::Receiver<()>,
    ) {
        loop {
            let flush_at = self.flush_at;
            tokio::select! {
                _ = &mut close => break,
                () = deadline(flush_at) => self.flush(),
                request = requests.recv() => match request {
                    Some(request) => {
                        // What the window was sent comes before what the request changes.
                        self.flush();
                        self.on_request(request).await
                    }
                    None => break,
                },
                event = next_event(&mut self.handle) => match event {
                    Some(event) => self.on_event(event),
                    // The host's task ended; the next message opens it again.
                    None => self.handle = None,
                },
            }
        }
        self.flush();
        requests.close();
        if let Some(handle) = self.handle.take() {
            handle.close().await;
        }
    }

    fn set_vm(&self, state: Option<VmState>) {
        *self.vm.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// Remembers what a snapshot needs, then hands the event to the window.
    fn on_event(&mut self, event: SessionEvent) {
        match &event {
            SessionEvent::Vm(state) => {
                if matches!(state, VmState::Stopped { .. } | VmState::Failed { .. }) {
                    self.pending.clear();
                }
                self.set_vm(Some(state.clone()));
            }
            SessionEvent::Permission(prompt) => self.pending.push(prompt.clone()),
            SessionEvent::PermissionWithdrawn { request_id } => {
                self.pending.retain(|p| &p.request_id != request_id)
            }
            SessionEvent::Frame { .. }
            | SessionEvent::AutoAllowed { .. }
            | SessionEvent::Error { .. }
            | SessionEvent::UndoOverCap { .. }
            | SessionEvent::Closed => {}
        }
        self.forward(event);
    }

    fn forward(&mut self, event: SessionEvent) {
        if self.channel.is_none() {
            return;
        }
        self.batch.push(event);
        if self.batch.len() >= BATCH_MAX {
            self.flush();
        } else if self.flush_at.is_none() {
            self.flush_at = Some(Instant::now() + BATCH_WINDOW);
        }
    }

    /// Sends the batch to the window.
    fn flush(&mut self) {
        self.flush_at = None;
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        if let Some(channel) = &self.channel {
            if let Err(e) = channel.send(batch) {
                tracing::debug!(session = %self.id, error = %e, "the window's channel is gone");
                self.channel = None;
            }
        }
    }

    /// The host's handle, opened again if the VM was stopped.
    fn handle(&mut self) -> Option<&SessionHandle> {
        if self.handle.is_none() {
            match self.host.open_session(&self.id) {
                Ok(handle) => self.handle = Some(handle),
                Err(e) => self.forward(SessionEvent::Error {
                    message: e.to_string(),
                }),
            }
        }
        self.handle.as_ref()
    }

    async fn on_request(&mut self, request: Request) {
        match request {
            Request::Attach { channel, reply } => {
                let _ = reply.send(self.attach(channel));
            }
            Request::Detach => self.channel = None,
            Request::Send(text, options) => {
                if let Some(handle) = self.handle() {
                    handle.send_with(text, options);
                }
            }
            Request::Interrupt => {
                if let Some(handle) = &self.handle {
                    handle.interrupt();
                }
            }
            Request::Answer(request_id, answer) => {
                self.pending.retain(|p| p.request_id != request_id);
                if let Some(handle) = &self.handle {
                    handle.answer(&request_id, answer);
                }
            }
            Request::SetMode(mode) => match &self.handle {
                Some(handle) => handle.set_mode(&mode),
                None => {
                    if let Err(e) =
                        self.host
                            .store()
                            .update_session(&self.id, None, None, Some(&mode))
                    {
                        self.forward(SessionEvent::Error {
                            message: e.to_string(),
                        });
                    }
                }
            },
            Request::StopVm(done) => {
                self.stop_vm().await;
                let _ = done.send(());
            }
        }
    }

    fn attach(&mut self, channel: EventChannel) -> CommandResult<SessionSnapshot> {
        // Events already queued belong before the snapshot: the transcript read below has them.
        while let Some(Some(event)) = self
            .handle
            .as_mut()
            .and_then(|h| h.next_event().now_or_never())
        {
            self.on_event(event);
        }
        let store = self.host.store();
        let record = store.session(&self.id)?;
        let (transcript, damaged) = store.frames(&self.id)?;
        if damaged > 0 {
            tracing::warn!(session = %self.id, damaged, "skipped damaged frames");
        }
        // Whatever the previous window had coming goes to it, not to this one (the transcript has it).
        self.flush();
        self.channel = Some(channel);
        Ok(SessionSnapshot {
            record,
            transcript,
            pending: self.pending.clone(),
            vm: self
                .vm
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        })
    }

    async fn stop_vm(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        // Closing drops the host's event queue with it; tell the window what it would have said.
        handle.close().await;
        for prompt in std::mem::take(&mut self.pending) {
            self.forward(SessionEvent::PermissionWithdrawn {
                request_id: prompt.request_id,
            });
        }
        let state = VmState::Stopped {
            reason: "stopped; it starts again with the next message".into(),
        };
        self.set_vm(Some(state.clone()));
        self.forward(SessionEvent::Vm(state));
    }
}
