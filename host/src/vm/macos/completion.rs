//! Completion handlers as futures.
//!
//! The Virtualization framework reports the end of `start`, `stop` and friends by calling a block on
//! the VM's dispatch queue. A block is an `Fn` (it could in principle be called more than once) and
//! runs on a thread tokio knows nothing about, so the adapter is a oneshot channel behind a mutex:
//! [`Completion::complete`] delivers the first value and ignores later ones, and the waiting
//! [`Pending`] future resolves with it — or with [`Abandoned`] if the block was destroyed without
//! ever being called (the framework dropped the request, or the queue is gone).
//!
//! [`on_queue`] is the other direction: run a closure on the queue (every call on a `VZVirtualMachine`
//! must happen there) and await its result.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

/// The callback was destroyed without being called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the hypervisor dropped the request without answering it")]
pub struct Abandoned;

/// The callback's end: give it to the block (it is `Send + Sync` when `T` is `Send`).
#[derive(Debug)]
pub struct Completion<T> {
    tx: Mutex<Option<oneshot::Sender<T>>>,
}

/// The waiting end: resolves with the first value given to [`Completion::complete`].
#[derive(Debug)]
pub struct Pending<T> {
    rx: oneshot::Receiver<T>,
}

/// A connected pair.
pub fn completion<T>() -> (Completion<T>, Pending<T>) {
    let (tx, rx) = oneshot::channel();
    (
        Completion {
            tx: Mutex::new(Some(tx)),
        },
        Pending { rx },
    )
}

impl<T> Completion<T> {
    /// Delivers `value`. Returns `false` (and drops `value`) if a value was delivered before or the
    /// waiter is gone; a second call by the framework is then harmless.
    pub fn complete(&self, value: T) -> bool {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match tx {
            Some(tx) => tx.send(value).is_ok(),
            None => false,
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Abandoned>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map_err(|_| Abandoned)
    }
}

/// A job for a serial queue.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs `work` through `submit` (which puts it on the VM's queue) and awaits its result.
/// [`Abandoned`] if the job was dropped unrun.
pub fn on_queue<R, W>(submit: impl FnOnce(Job), work: W) -> Pending<R>
where
    R: Send + 'static,
    W: FnOnce() -> R + Send + 'static,
{
    let (done, pending) = completion();
    submit(Box::new(move || {
        done.complete(work());
    }));
    pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_first_value_wins_and_later_calls_are_ignored() {
        let (done, pending) = completion::<Result<(), String>>();
        let done = Arc::new(done);
        // The framework calls the block on its own thread.
        let block = Arc::clone(&done);
        std::thread::spawn(move || {
            assert!(block.complete(Err("The virtual machine failed to start.".into())));
            assert!(!block.complete(Ok(())));
        })
        .join()
        .unwrap();
        assert_eq!(
            pending.await,
            Ok(Err("The virtual machine failed to start.".into()))
        );
        assert!(!done.complete(Ok(())), "the waiter is gone");
    }

    #[tokio::test]
    async fn a_block_destroyed_uncalled_is_abandoned() {
        let (done, pending) = completion::<()>();
        drop(done);
        assert_eq!(pending.await, Err(Abandoned));
    }

    #[tokio::test]
    async fn work_runs_on_the_queue_and_its_result_comes_back() {
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("fake-vm-queue".into())
            .spawn(move || {
                for job in jobs {
                    job();
                }
            })
            .unwrap();
        let submit = |job: Job| queue.send(job).unwrap();
        let name = on_queue(submit, || std::thread::current().name().map(str::to_string)).await;
        assert_eq!(name, Ok(Some("fake-vm-queue".to_string())));

        // A queue that drops the job unrun.
        assert_eq!(on_queue(drop, || 1).await, Err(Abandoned));
        drop(queue);
        worker.join().unwrap();
    }
}
