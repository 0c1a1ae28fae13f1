//! Control requests the agent sends to the client (permission prompts, hooks), matched to their answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use workroom_protocol::control::{
    ControlCancelRequest, ControlRequest, ControlRequestFrame, ControlResponse,
};
use workroom_protocol::Frame;

use super::outbox::Outbox;

/// Why a control request got no usable answer.
#[derive(Debug, Error, PartialEq)]
pub enum ControlError {
    /// The user interrupted the turn while we waited; the request was withdrawn.
    #[error("interrupted while waiting for an answer")]
    Interrupted,
    /// The input stream closed before the answer came.
    #[error("Stream closed")]
    StreamClosed,
    /// The client answered with an error.
    #[error("{0}")]
    Client(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// Outstanding requests by id.
#[derive(Debug, Default)]
pub struct PendingRequests {
    inner: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    waiting: HashMap<String, oneshot::Sender<ControlResponse>>,
    closed: bool,
}

impl PendingRequests {
    /// Delivers an answer; answers to unknown ids (late, or duplicated) are dropped.
    pub fn resolve(&self, response: ControlResponse) {
        let Some(id) = response.request_id().map(str::to_owned) else {
            tracing::warn!("control_response without request_id ignored");
            return;
        };
        let sender = self
            .inner
            .lock()
            .ok()
            .and_then(|mut p| p.waiting.remove(&id));
        match sender {
            Some(tx) => {
                let _ = tx.send(response);
            }
            None => tracing::debug!(request_id = %id, "answer to no pending request"),
        }
    }

    /// The input closed: every waiting request fails, and new ones fail at once.
    pub fn close(&self) {
        if let Ok(mut p) = self.inner.lock() {
            p.closed = true;
            p.waiting.clear();
        }
    }

    fn register(&self, id: &str) -> Option<oneshot::Receiver<ControlResponse>> {
        let mut p = self.inner.lock().ok()?;
        if p.closed {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        p.waiting.insert(id.to_string(), tx);
        Some(rx)
    }

    /// Withdraws every outstanding request (the user interrupted); returns their ids. Their waiters
    /// see [`ControlError::Interrupted`].
    pub fn withdraw_all(&self) -> Vec<String> {
        match self.inner.lock() {
            Ok(mut p) => p.waiting.drain().map(|(id, _)| id).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Forgets a request; `true` if it was still outstanding.
    fn forget(&self, id: &str) -> bool {
        self.inner
            .lock()
            .map(|mut p| p.waiting.remove(id).is_some())
            .unwrap_or(false)
    }
}

/// Sends a control request and waits for its answer, or for `cancel`, or for `timeout`.
pub async fn request(
    outbox: &Outbox,
    pending: &PendingRequests,
    body: ControlRequest,
    cancel: &CancellationToken,
    timeout: Option<Duration>,
) -> Result<Value, ControlError> {
    let id = uuid::Uuid::new_v4().to_string();
    let Some(answer) = pending.register(&id) else {
        return Err(ControlError::StreamClosed);
    };
    outbox
        .send(&Frame::ControlRequest(ControlRequestFrame {
            request_id: id.clone(),
            request: body,
        }))
        .await;
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        answer = answer => answer.map_err(|_| {
            // A dropped waiter means the input closed, or an interrupt withdrew the request.
            if cancel.is_cancelled() { ControlError::Interrupted } else { ControlError::StreamClosed }
        }),
        _ = cancel.cancelled() => Err(ControlError::Interrupted),
        _ = deadline => Err(ControlError::TimedOut(timeout.unwrap_or_default())),
    };
    match outcome {
        Ok(ControlResponse::Success(s)) => Ok(s.response.unwrap_or(Value::Null)),
        Ok(ControlResponse::Error(e)) => Err(ControlError::Client(e.error)),
        Ok(ControlResponse::Other(v)) => Err(ControlError::Client(format!(
            "unexpected control response: {v}"
        ))),
        Err(e) => {
            let still_open = pending.forget(&id);
            if still_open && matches!(e, ControlError::Interrupted | ControlError::TimedOut(_)) {
                // Tell the client to take the prompt down.
                outbox
                    .send(&Frame::ControlCancelRequest(ControlCancelRequest {
                        request_id: id,
                    }))
                    .await;
            }
            Err(e)
        }
    }
}
