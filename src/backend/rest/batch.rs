//! The waiting side of automatic pipelining: a queued call's command and the slot its result
//! lands in, and the yield that lets the other calls of a tick join the queue.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::commands::Reply;
use crate::core::error::Result;

/// Pending once, waking itself at once: the executor (wasm-bindgen-futures' queue, which runs
/// in a microtask after the JavaScript that started the calls) polls every other task already
/// queued before it polls this one again, so by then each call of the same tick has queued its
/// command. Cheaper than awaiting a resolved JS promise, which costs two closures a call.
pub struct YieldOnce(pub bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

pub struct Queued {
    pub command: String,
    /// Whether the command may run twice (see `Op::idempotent`).
    pub idempotent: bool,
    pub slot: Rc<Slot>,
}

/// Where a batched call's result lands, and who to wake when it does.
#[derive(Default)]
pub struct Slot {
    result: RefCell<Option<Result<Reply>>>,
    waker: RefCell<Option<Waker>>,
}

impl Slot {
    pub fn fill(&self, result: Result<Reply>) {
        *self.result.borrow_mut() = Some(result);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

pub struct Wait(pub Rc<Slot>);

impl Future for Wait {
    type Output = Result<Reply>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        match self.0.result.borrow_mut().take() {
            Some(result) => Poll::Ready(result),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
