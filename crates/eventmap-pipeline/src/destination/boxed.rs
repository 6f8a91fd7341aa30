//! [`BoxSink`]: any destination's [`Sink`] behind one type, so that a command picks the
//! sink by the mapping's `destination:` at run time and drives it through the same
//! generic `Delivery` code as a concrete one.
//!
//! `Sink::send` returns `impl Future`, which cannot be called through `dyn`; the
//! [`ErasedSink`] shim boxes that future, one allocation per request, nothing per event.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::delivery::{BatchOutcome, OutgoingEvent, Rejection, Sink};

/// A boxed future of a batch's outcome.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = BatchOutcome> + Send + 'a>>;

/// [`Sink`] in a form that can be called through `dyn`. Every `Sink` is one.
pub trait ErasedSink: Send + Sync + 'static {
    fn check_before_send(&self, event: &OutgoingEvent, now_ms: i64) -> Result<(), Rejection>;
    fn send_boxed<'a>(&'a self, batch: &'a [OutgoingEvent], test_mode: bool) -> SendFuture<'a>;
}

impl<S: Sink> ErasedSink for S {
    fn check_before_send(&self, event: &OutgoingEvent, now_ms: i64) -> Result<(), Rejection> {
        Sink::check_before_send(self, event, now_ms)
    }

    fn send_boxed<'a>(&'a self, batch: &'a [OutgoingEvent], test_mode: bool) -> SendFuture<'a> {
        Box::pin(self.send(batch, test_mode))
    }
}

/// Any destination's sink; cheap to clone (the sink is shared).
#[derive(Clone)]
pub struct BoxSink(Arc<dyn ErasedSink>);

impl BoxSink {
    pub fn new(sink: impl Sink) -> Self {
        Self(Arc::new(sink))
    }
}

impl Sink for BoxSink {
    fn check_before_send(&self, event: &OutgoingEvent, now_ms: i64) -> Result<(), Rejection> {
        self.0.check_before_send(event, now_ms)
    }

    async fn send(&self, batch: &[OutgoingEvent], test_mode: bool) -> BatchOutcome {
        self.0.send_boxed(batch, test_mode).await
    }
}
