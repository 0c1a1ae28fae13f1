//! Sends pre-rendered SSE frames with the scripted timing and faults.
//!
//! Rendering and sending are separate so that the fault injection (delays, dropped connections,
//! in-stream errors) behaves the same for the Anthropic and the OpenAI wire formats.

use std::io;
use std::time::Duration;

use axum::body::Body;
use futures_util::{stream, StreamExt};
use tokio_util::sync::CancellationToken;

/// Pause before a scripted drop; see its use.
const FLUSH_BEFORE_DROP: Duration = Duration::from_millis(20);

/// What to do to a stream besides sending its frames.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Pause before every frame but the first.
    pub event_delay: Duration,
    /// Abort the connection once this many frames have been sent.
    pub drop_after: Option<usize>,
    /// Send this frame (and stop) once `.0` frames have been sent.
    pub error_after: Option<(usize, String)>,
}

struct State {
    frames: std::vec::IntoIter<String>,
    sent: usize,
    faults: Faults,
    finished: bool,
}

/// A response body that yields `frames` one by one, applying `faults`.
///
/// A body error makes hyper close the connection without the terminating chunk, which is exactly
/// what a client sees when the network or the upstream dies mid-stream. On `shutdown` the body just
/// ends, so that graceful shutdown never waits for a slow scripted stream.
pub(crate) fn body(frames: Vec<String>, mut faults: Faults, shutdown: CancellationToken) -> Body {
    // A fault position past the end means "after the last frame".
    let total = frames.len();
    faults.drop_after = faults.drop_after.map(|n| n.min(total));
    if let Some((after, _)) = &mut faults.error_after {
        *after = (*after).min(total);
    }
    let state = State {
        frames: frames.into_iter(),
        sent: 0,
        faults,
        finished: false,
    };
    let frames = stream::unfold(state, |mut st| async move {
        if st.finished {
            return None;
        }
        if st.sent > 0 && !st.faults.event_delay.is_zero() {
            tokio::time::sleep(st.faults.event_delay).await;
        }
        if st.faults.drop_after == Some(st.sent) {
            st.finished = true;
            // hyper discards frames it has buffered but not yet written when the body fails, so
            // stay pending briefly to let it flush what was "sent" before the drop.
            tokio::time::sleep(FLUSH_BEFORE_DROP).await;
            tracing::info!(after_events = st.sent, "dropping connection as scripted");
            let err = io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "fake-model: connection dropped as scripted",
            );
            return Some((Err(err), st));
        }
        if let Some((after, error_frame)) = &st.faults.error_after {
            if *after == st.sent {
                st.finished = true;
                let error_frame = error_frame.clone();
                return Some((Ok(error_frame), st));
            }
        }
        let next = st.frames.next()?;
        st.sent += 1;
        Some((Ok(next), st))
    });
    Body::from_stream(frames.take_until(shutdown.cancelled_owned()))
}
