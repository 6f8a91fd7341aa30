//! [`Delivery`]: the running pipeline between a producer of events and a [`Sink`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::batcher::{Admitted, Batcher, ReadyBatch};
use super::worker;
use super::{
    Clock, DeadLetter, DeadPayload, DeadReason, Fatal, OutgoingEvent, Rejection, RetryPolicy, Sink,
    Transient,
};

/// How events are batched, sent and retried.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Events per request.
    pub batch_size: usize,
    /// Bytes of event JSON per request; a batch closes before it would pass this.
    pub max_batch_bytes: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// How long a part-full batch waits for more events before it is sent anyway.
    pub linger: Duration,
    pub retry: RetryPolicy,
    /// Events accepted by [`Delivery::submit`] before it waits for room.
    pub queue: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            max_batch_bytes: 4 << 20,
            concurrency: 4,
            linger: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            queue: 4096,
        }
    }
}

/// Told of what happens to events as it happens, e.g. to write dead letters to a file.
/// Called from the delivery tasks: keep it quick.
pub trait DeliveryObserver: Send + Sync + 'static {
    fn delivered(&self, _events: &[OutgoingEvent], _test_mode: bool) {}
    /// `event` is the event as it was submitted; `letter` says why it can never go.
    fn dead_lettered(&self, event: &OutgoingEvent, letter: &DeadLetter);
    fn retrying(&self, _notice: &RetryNotice) {}
}

/// A batch about to be retried.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    pub events: usize,
    /// Failed attempts so far.
    pub failures: u32,
    pub delay: Duration,
    pub error: Transient,
}

/// What became of everything submitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    pub submitted: u64,
    pub delivered: u64,
    pub dead_lettered: BTreeMap<DeadReason, u64>,
    /// Requests made.
    pub requests: u64,
    /// Batches sent again after a transient failure.
    pub retries: u64,
    /// Events sent again at once because another event of their batch was rejected.
    pub resent: u64,
    /// Batches split in two to isolate an event the destination did not name.
    pub splits: u64,
    /// The error that stopped delivery, if one did.
    pub fatal: Option<Fatal>,
}

impl DeliveryReport {
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }
}

/// The producer side of a delivery pipeline was closed (the pipeline task ended).
#[derive(Debug, thiserror::Error)]
#[error("the delivery pipeline has stopped")]
pub struct Closed(pub OutgoingEvent);

/// State the pipeline's tasks share.
pub(super) struct Shared {
    report: Mutex<DeliveryReport>,
    stopped: AtomicBool,
    /// Tells batches waiting to retry that delivery has stopped, so they do not sleep on.
    stop_signal: watch::Sender<bool>,
    observer: Arc<dyn DeliveryObserver>,
    pub clock: Clock,
    pub retry: RetryPolicy,
}

impl Shared {
    fn with_report<T>(&self, f: impl FnOnce(&mut DeliveryReport) -> T) -> T {
        // A panicking observer must not take the counts down with it.
        f(&mut self.report.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn delivered(&self, events: &[OutgoingEvent], test_mode: bool) {
        self.with_report(|r| r.delivered += events.len() as u64);
        self.observer.delivered(events, test_mode);
    }

    pub fn dead_letter(&self, event: &OutgoingEvent, attempts: u32, rejection: &Rejection) {
        let letter = DeadLetter {
            id: Some(event.id.clone()),
            reason: rejection.reason,
            status: rejection.status,
            code: rejection.code.clone(),
            message: rejection.message.clone(),
            attempts,
            at_ms: self.clock.now_ms(),
            payload: DeadPayload::Mapped {
                event: event.event(),
                source: event.source_event(),
            },
        };
        self.with_report(|r| *r.dead_lettered.entry(rejection.reason).or_default() += 1);
        self.observer.dead_lettered(event, &letter);
    }

    pub fn retrying(&self, notice: &RetryNotice) {
        self.with_report(|r| r.retries += 1);
        self.observer.retrying(notice);
    }

    pub fn count_request(&self) {
        self.with_report(|r| r.requests += 1);
    }

    pub fn count_resent(&self, events: usize) {
        self.with_report(|r| r.resent += events as u64);
    }

    pub fn count_split(&self) {
        self.with_report(|r| r.splits += 1);
    }

    pub fn stop(&self, fatal: &Fatal) {
        self.with_report(|r| {
            r.fatal.get_or_insert_with(|| fatal.clone());
        });
        self.stopped.store(true, Ordering::SeqCst);
        self.stop_signal.send_replace(true);
    }

    /// Waits `delay`, or less if delivery stops meanwhile.
    pub async fn sleep_unless_stopped(&self, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.until_stopped() => {}
        }
    }

    /// Returns once delivery has stopped.
    pub async fn until_stopped(&self) {
        let mut stopped = self.stop_signal.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    pub fn fatal(&self) -> Option<Fatal> {
        if !self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        self.with_report(|r| r.fatal.clone())
    }
}

/// A running delivery pipeline. Submit events, then [`Delivery::finish`] to wait until
/// each one is delivered or dead-lettered.
pub struct Delivery {
    sender: mpsc::Sender<OutgoingEvent>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Delivery {
    /// Starts the pipeline's task. Must be called from within a Tokio runtime.
    pub fn start<S: Sink>(
        sink: S,
        config: DeliveryConfig,
        clock: Clock,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Self {
        let shared = Arc::new(Shared {
            report: Mutex::new(DeliveryReport::default()),
            stopped: AtomicBool::new(false),
            stop_signal: watch::Sender::new(false),
            observer,
            clock,
            retry: config.retry,
        });
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(receiver, Arc::new(sink), config, Arc::clone(&shared)));
        Self {
            sender,
            shared,
            task,
        }
    }

    /// Queues an event, waiting while the queue is full. Cancel-safe: a producer that
    /// stops waiting (a shutdown) has not submitted the event, and it is not counted.
    pub async fn submit(&self, event: OutgoingEvent) -> Result<(), Closed> {
        self.sender.send(event).await.map_err(|e| Closed(e.0))?;
        self.shared.with_report(|r| r.submitted += 1);
        Ok(())
    }

    /// [`Delivery::submit`] for a producer on a thread outside the runtime.
    pub fn blocking_submit(&self, event: OutgoingEvent) -> Result<(), Closed> {
        self.shared.with_report(|r| r.submitted += 1);
        self.sender.blocking_send(event).map_err(|e| Closed(e.0))
    }

    /// Queues several events one after the other, for a producer on a thread outside the
    /// runtime. Handing them over in a burst rather than as they are made lets the
    /// pipeline's task take them in one wake-up instead of one each: per-event hand-offs
    /// cost a thread switch apiece. On [`Closed`], the events not queued are returned,
    /// the one refused first.
    pub fn blocking_submit_all(
        &self,
        events: impl IntoIterator<Item = OutgoingEvent>,
    ) -> Result<(), Vec<OutgoingEvent>> {
        let mut events = events.into_iter();
        let mut queued = 0u64;
        let mut refused = None;
        for event in events.by_ref() {
            match self.sender.blocking_send(event) {
                Ok(()) => queued += 1,
                Err(e) => {
                    refused = Some(e.0);
                    break;
                }
            }
        }
        self.shared.with_report(|r| r.submitted += queued);
        match refused {
            None => Ok(()),
            Some(first) => Err(std::iter::once(first).chain(events).collect()),
        }
    }

    /// The error that stopped delivery, once one has.
    pub fn stopped(&self) -> Option<Fatal> {
        self.shared.fatal()
    }

    /// A handle that stops this delivery from elsewhere (a signal handler, a deadline),
    /// also while [`Delivery::finish`] is being awaited.
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.shared))
    }

    /// Closes the queue and waits until every submitted event is delivered or
    /// dead-lettered.
    pub async fn finish(self) -> DeliveryReport {
        drop(self.sender);
        if let Err(err) = self.task.await {
            if err.is_panic() {
                std::panic::resume_unwind(err.into_panic());
            }
        }
        self.shared.with_report(|r| r.clone())
    }

    /// [`Delivery::finish`], but for at most `drain`: then what is still undelivered is
    /// dead-lettered [`DeadReason::Interrupted`] with `why`, and the report returned.
    /// What a long-running host does at shutdown.
    pub async fn finish_within(self, drain: std::time::Duration, why: &str) -> DeliveryReport {
        let stopper = self.stopper();
        let finish = self.finish();
        tokio::pin!(finish);
        tokio::select! {
            report = &mut finish => report,
            () = tokio::time::sleep(drain) => {
                stopper.abort(why);
                finish.await
            }
        }
    }
}

/// Stops a running [`Delivery`]; see [`Delivery::stopper`].
#[derive(Clone)]
pub struct Stopper(Arc<Shared>);

impl Stopper {
    /// Stops delivery at once: nothing more is sent, requests in flight are abandoned, and
    /// every event not yet delivered (queued, waiting to retry, in flight, or submitted
    /// later) is dead-lettered [`DeadReason::Interrupted`] with `message`, so that
    /// [`Delivery::finish`] returns promptly with everything accounted for.
    pub fn abort(&self, message: impl Into<String>) {
        self.0.stop(&Fatal {
            reason: DeadReason::Interrupted,
            status: None,
            message: message.into(),
        });
    }
}

/// How many queued events the pipeline's task takes per wake-up at most.
const RECEIVE_AT_ONCE: usize = 256;

/// The pipeline's task: batches what arrives and hands full batches to workers, at most
/// `concurrency` at a time (waiting for a free worker is what pushes back on producers).
async fn run<S: Sink>(
    mut receiver: mpsc::Receiver<OutgoingEvent>,
    sink: Arc<S>,
    config: DeliveryConfig,
    shared: Arc<Shared>,
) {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut workers = JoinSet::new();
    let mut batcher = Batcher::new(config.batch_size, config.max_batch_bytes, config.linger);
    let dispatch = async |batch: ReadyBatch, workers: &mut JoinSet<()>| {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            unreachable!("the semaphore is never closed");
        };
        let (sink, shared) = (Arc::clone(&sink), Arc::clone(&shared));
        workers.spawn(async move {
            worker::deliver(sink.as_ref(), batch, &shared).await;
            drop(slot);
        });
        reap(workers);
    };
    // Everything already queued is taken at once: one wake-up and one timer per burst,
    // not per event.
    let mut received = Vec::with_capacity(RECEIVE_AT_ONCE);
    loop {
        let count = match batcher.deadline() {
            None => receiver.recv_many(&mut received, RECEIVE_AT_ONCE).await,
            Some(deadline) => {
                let deadline = tokio::time::Instant::from_std(deadline);
                let receive = receiver.recv_many(&mut received, RECEIVE_AT_ONCE);
                match tokio::time::timeout_at(deadline, receive).await {
                    Ok(count) => count,
                    Err(_) => {
                        for batch in batcher.take_expired(std::time::Instant::now()) {
                            dispatch(batch, &mut workers).await;
                        }
                        continue;
                    }
                }
            }
        };
        if count == 0 {
            break; // Closed, and everything sent before was received.
        }
        for event in received.drain(..) {
            match batcher.push(event) {
                Admitted::Queued(ready) => {
                    for batch in ready {
                        dispatch(batch, &mut workers).await;
                    }
                }
                Admitted::TooLarge(event) => {
                    let message = format!(
                        "the event is {} bytes of JSON; a request carries at most {}",
                        event.json.len(),
                        config.max_batch_bytes
                    );
                    shared.dead_letter(&event, 0, &Rejection::new(DeadReason::TooLarge, message));
                }
            }
        }
    }
    for batch in batcher.take_all() {
        dispatch(batch, &mut workers).await;
    }
    while let Some(done) = workers.join_next().await {
        rethrow_panic(done);
    }
}

/// Collects finished workers so the set does not grow with the stream.
fn reap(workers: &mut JoinSet<()>) {
    while let Some(done) = workers.try_join_next() {
        rethrow_panic(done);
    }
}

fn rethrow_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(err) = done {
        if err.is_panic() {
            std::panic::resume_unwind(err.into_panic());
        }
    }
}
