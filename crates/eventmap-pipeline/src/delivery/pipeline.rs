//! [`Delivery`]: the running pipeline between a producer of events and a [`Sink`].

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::batcher::{Admitted, Batcher, ReadyBatch};
use super::shared::{DeliveryObserver, DeliveryReport, Shared};
use super::worker;
use super::{Clock, DeadReason, Fatal, OutgoingEvent, Rejection, RetryPolicy, Sink};

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

/// The producer side of a delivery pipeline was closed (the pipeline task ended).
#[derive(Debug, thiserror::Error)]
#[error("the delivery pipeline has stopped")]
pub struct Closed(pub OutgoingEvent);

/// The pipeline's task has ended: it takes no more events.
#[derive(Debug, thiserror::Error)]
#[error("the delivery pipeline has stopped")]
pub struct Stopped;

/// Room held in a [`Delivery`]'s queue; see [`Delivery::room`].
pub struct Room<'a> {
    permits: mpsc::PermitIterator<'a, OutgoingEvent>,
    shared: &'a Shared,
    /// Queued through this room, counted into the report once, at its drop.
    queued: u64,
}

impl Room<'_> {
    /// Events that still fit.
    pub fn len(&self) -> usize {
        self.permits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.permits.len() == 0
    }

    /// Queues `event` in the room held, without waiting. `Err` gives it back when no room
    /// is left.
    pub fn submit(&mut self, event: OutgoingEvent) -> Result<(), OutgoingEvent> {
        let Some(permit) = self.permits.next() else {
            return Err(event);
        };
        permit.send(event);
        self.queued += 1;
        Ok(())
    }
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        let queued = self.queued;
        if queued > 0 {
            self.shared.with_report(|r| r.submitted += queued);
        }
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

    /// Room in the queue for up to `n` events (at most the queue's size), waiting until
    /// there is. A producer that holds room before it makes its events never has one
    /// made but not handed over; and a burst handed over through the room wakes the
    /// pipeline's task once, not once per event. Cancel-safe: one that stops waiting
    /// holds nothing; room not used is given back when the [`Room`] is dropped.
    pub async fn room(&self, n: usize) -> Result<Room<'_>, Stopped> {
        let n = n.clamp(1, self.sender.max_capacity());
        let permits = self.sender.reserve_many(n).await.map_err(|_| Stopped)?;
        Ok(Room {
            permits,
            shared: &self.shared,
            queued: 0,
        })
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

    /// Returns once delivery has stopped (see [`Delivery::stopped`]).
    pub async fn until_stopped(&self) {
        self.shared.until_stopped().await;
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
