//! Seeing one batch through: send, then retry, resend or split until every event in it
//! is delivered or dead-lettered.

use std::collections::VecDeque;
use std::time::Instant;

use super::batcher::ReadyBatch;
use super::shared::{RetryNotice, Shared};
use super::{
    BatchOutcome, DeadReason, EventStatus, Fatal, OutgoingEvent, Rejection, Sink, Transient,
};

/// Events that travel together, with their history.
struct Group {
    events: Vec<OutgoingEvent>,
    /// Requests that carried each event.
    attempts: Vec<u32>,
    /// Transient failures the group has had.
    failures: u32,
}

impl Group {
    fn new(events: Vec<OutgoingEvent>) -> Self {
        let attempts = vec![0; events.len()];
        Self {
            events,
            attempts,
            failures: 0,
        }
    }

    fn from_members(members: Vec<(OutgoingEvent, u32)>, failures: u32) -> Self {
        let (events, attempts) = members.into_iter().unzip();
        Self {
            events,
            attempts,
            failures,
        }
    }

    fn split(self) -> (Group, Group) {
        let Group {
            mut events,
            mut attempts,
            failures,
        } = self;
        let mid = events.len() / 2;
        let right = Group {
            events: events.split_off(mid),
            attempts: attempts.split_off(mid),
            failures,
        };
        let left = Group {
            events,
            attempts,
            failures,
        };
        (left, right)
    }
}

pub(super) async fn deliver<S: Sink>(sink: &S, batch: ReadyBatch, shared: &Shared) {
    let started = Instant::now();
    let test_mode = batch.test_mode;
    let mut queue = VecDeque::from([Group::new(batch.events)]);
    while let Some(group) = queue.pop_front() {
        if let Some(fatal) = shared.fatal() {
            dead_letter_all(shared, group, &stopped_by(&fatal));
            continue;
        }
        let mut group = recheck(sink, group, shared);
        if group.events.is_empty() {
            continue;
        }
        for attempts in &mut group.attempts {
            *attempts += 1;
        }
        shared.count_request();
        let outcome = tokio::select! {
            biased;
            outcome = sink.send(&group.events, test_mode) => outcome,
            () = shared.until_stopped() => {
                if let Some(fatal) = shared.fatal() {
                    dead_letter_all(shared, group, &abandoned_in_flight(&fatal));
                }
                continue;
            }
        };
        match outcome {
            BatchOutcome::Delivered => shared.delivered(&group.events, test_mode),
            BatchOutcome::RetryLater(error) => {
                retry_later(shared, group, error, started, &mut queue).await;
            }
            BatchOutcome::RejectedUnattributed(rejection) => {
                if group.events.len() == 1 {
                    dead_letter_all(shared, group, &rejection);
                } else {
                    shared.count_split();
                    let (left, right) = group.split();
                    queue.push_front(right);
                    queue.push_front(left);
                }
            }
            BatchOutcome::Fatal(fatal) => {
                shared.stop(&fatal);
                dead_letter_all(shared, group, &stopped_by(&fatal));
            }
            BatchOutcome::PerEvent(statuses) => {
                per_event(shared, group, statuses, test_mode, started, &mut queue).await;
            }
        }
    }
}

/// Acts on one status per event.
async fn per_event(
    shared: &Shared,
    group: Group,
    statuses: Vec<EventStatus>,
    test_mode: bool,
    started: Instant,
    queue: &mut VecDeque<Group>,
) {
    if statuses.len() != group.events.len() {
        let error = Transient {
            message: format!(
                "the destination reported {} statuses for {} events",
                statuses.len(),
                group.events.len()
            ),
            status: None,
            retry_after: None,
        };
        return retry_later(shared, group, error, started, queue).await;
    }
    let mut delivered = Vec::new();
    let mut resend = Vec::new();
    let mut later = Vec::new();
    let mut later_error: Option<Transient> = None;
    let mut any_dead = false;
    let failures = group.failures;
    let members = group.events.into_iter().zip(group.attempts);
    for ((event, attempts), status) in members.zip(statuses) {
        match status {
            EventStatus::Delivered => delivered.push(event),
            EventStatus::DeadLetter(rejection) => {
                any_dead = true;
                shared.dead_letter(&event, attempts, &rejection);
            }
            EventStatus::ResendNow => resend.push((event, attempts)),
            EventStatus::RetryLater(error) => {
                later.push((event, attempts));
                // Wait for the longest Retry-After any of them was given.
                let keep = later_error
                    .as_ref()
                    .is_some_and(|kept| kept.retry_after >= error.retry_after);
                if !keep {
                    later_error = Some(error);
                }
            }
        }
    }
    if !delivered.is_empty() {
        shared.delivered(&delivered, test_mode);
    }
    if !resend.is_empty() && !any_dead {
        // A batch refused with nobody to blame would come back refused: treat it as a
        // transient failure so the retry limits apply.
        later.append(&mut resend);
        later_error.get_or_insert_with(|| Transient {
            message: "the batch was refused without naming an event".into(),
            status: None,
            retry_after: None,
        });
    }
    if !resend.is_empty() {
        shared.count_resent(resend.len());
        queue.push_front(Group::from_members(resend, failures));
    }
    if let Some(error) = later_error {
        let retry = Group::from_members(later, failures);
        retry_later(shared, retry, error, started, queue).await;
    }
}

/// Backs off and queues the group again, or dead-letters it when the retry limits are
/// reached.
async fn retry_later(
    shared: &Shared,
    mut group: Group,
    error: Transient,
    started: Instant,
    queue: &mut VecDeque<Group>,
) {
    group.failures += 1;
    let policy = &shared.retry;
    let give_up = |why: String| Rejection {
        reason: DeadReason::RetriesExhausted,
        status: error.status,
        code: None,
        message: format!("{why}; last error: {}", error.message),
    };
    if group.failures >= policy.max_attempts {
        let why = format!("gave up after {} attempts", group.failures);
        return dead_letter_all(shared, group, &give_up(why));
    }
    let delay = policy.delay(group.failures, error.retry_after);
    if started.elapsed() + delay > policy.max_elapsed {
        let why = format!(
            "gave up after {} attempts: the next would start past the {} s retry limit",
            group.failures,
            policy.max_elapsed.as_secs_f64()
        );
        return dead_letter_all(shared, group, &give_up(why));
    }
    shared.retrying(&RetryNotice {
        events: group.events.len(),
        failures: group.failures,
        delay,
        error,
    });
    shared.sleep_unless_stopped(delay).await;
    queue.push_front(group);
}

/// Drops, as dead letters, the events the sink says must not be sent now.
fn recheck<S: Sink>(sink: &S, group: Group, shared: &Shared) -> Group {
    let now_ms = shared.clock.now_ms();
    let verdicts: Vec<Result<(), Rejection>> = group
        .events
        .iter()
        .map(|event| sink.check_before_send(event, now_ms))
        .collect();
    if verdicts.iter().all(Result::is_ok) {
        return group;
    }
    let failures = group.failures;
    let members = group.events.into_iter().zip(group.attempts);
    let mut kept = Vec::new();
    for ((event, attempts), verdict) in members.zip(verdicts) {
        match verdict {
            Ok(()) => kept.push((event, attempts)),
            Err(rejection) => shared.dead_letter(&event, attempts, &rejection),
        }
    }
    Group::from_members(kept, failures)
}

fn dead_letter_all(shared: &Shared, group: Group, rejection: &Rejection) {
    for (event, attempts) in group.events.iter().zip(group.attempts) {
        shared.dead_letter(event, attempts, rejection);
    }
}

/// The request may have reached the destination: the message says so, as a replay then
/// sends the events again (under the same ids, which the destination deduplicates on).
fn abandoned_in_flight(fatal: &Fatal) -> Rejection {
    Rejection {
        reason: fatal.reason,
        status: fatal.status,
        code: None,
        message: format!(
            "in flight when delivery stopped ({}); it may have arrived, and replaying it is \
             safe: the destination deduplicates on the event id",
            fatal.message
        ),
    }
}

fn stopped_by(fatal: &Fatal) -> Rejection {
    Rejection {
        reason: fatal.reason,
        status: fatal.status,
        code: None,
        message: format!("not sent: delivery stopped: {}", fatal.message),
    }
}
