//! This group member as a source of the driving loop ([`eventmap_pipeline::drive`]):
//! records come from the poll thread; those whose partition is being handed to another
//! member, and those for other routes, never reach the loop.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use eventmap_pipeline::delivery::{DeadPayload, DeadReason};
use eventmap_pipeline::drive::{Body, Fates, Incoming, Pulled, Source};
use tokio::sync::mpsc;

use super::observer::{DeadLetters, Work};
use super::poller::{Control, Record};
use crate::metrics::ConsumeMetrics;
use crate::offsets::Offsets;

/// The member's side of the records channel, and what ends with it.
pub(super) struct Member {
    pub incoming: mpsc::Receiver<Record>,
    pub offsets: Arc<Offsets>,
    pub metrics: ConsumeMetrics,
    /// The route this member delivers; `None`: every record.
    pub route: Option<String>,
    pub work: Arc<Work>,
    pub control: Arc<Control>,
    pub poll_thread: JoinHandle<()>,
    pub dead_letters: DeadLetters,
    /// How long dead letters may take to reach their topic at the end.
    pub drain: Duration,
    pub next_tag: u64,
    /// Records taken (handed-back ones left out), and those for other routes only.
    pub records: u64,
    pub other_routes: u64,
}

/// What the member counted by its end.
pub(super) struct MemberEnd {
    pub records: u64,
    pub skipped: u64,
    pub other_routes: u64,
    pub dead_lettered: BTreeMap<DeadReason, u64>,
    /// Records left uncommitted for the partition's next owner.
    pub handed_back: u64,
}

impl Source for Member {
    type Finished = MemberEnd;
    const KEPT: &'static str = "the records stay uncommitted";

    /// One record at a time: whether its partition is still ours is asked as late as it
    /// can be, just before it is processed.
    async fn pull(&mut self) -> Pulled {
        loop {
            let Some(mut record) = self.incoming.recv().await else {
                return Pulled::End;
            };
            let source = &record.source;
            if self.offsets.hand_back(&source.partition, source.offset) {
                self.metrics.handed_back.inc();
                continue; // Its partition is going to another member, which reads it again.
            }
            self.records += 1;
            if !for_route(self.route.as_deref(), record.routes.as_deref()) {
                self.other_routes += 1;
                self.metrics.count("other_route", 1);
                self.offsets.settle(&source.partition, source.offset);
                continue;
            }
            let body = match (record.source.value.take(), record.unreadable) {
                // The value travels with the event from here: a dead letter holds it as
                // its input, so the record need not keep it.
                (Some(bytes), _) => Body::Event(bytes),
                (None, why) => Body::Unreadable {
                    why: why.unwrap_or_default(),
                    payload: DeadPayload::NotKept {
                        input: format!("kafka:{}", record.source.partition),
                        line: u64::try_from(record.source.offset).unwrap_or(0),
                    },
                },
            };
            let tag = self.next_tag;
            self.next_tag += 1;
            self.work.track(tag, record.source);
            return Pulled::Events(vec![Incoming { tag, body }]);
        }
    }

    fn fates(&self) -> Arc<dyn Fates> {
        Arc::clone(&self.work) as Arc<dyn Fates>
    }

    fn fallback_id(&self, tag: u64) -> String {
        self.work.fallback_id(tag)
    }

    fn stop_pulling(&mut self) {
        // No more records; what is in the channel is handed back uncommitted.
        self.control.stop_fetching.store(true, Ordering::SeqCst);
        self.incoming.close();
    }

    async fn finish(self) -> MemberEnd {
        let skipped = self.work.skipped.load(Ordering::Relaxed);
        // The work holds the dead letters' sender.
        drop(self.work);
        let dead_lettered = self.dead_letters.finish(self.drain).await;
        let handed_back = self.offsets.in_work() as u64;
        self.control.processing_done.store(true, Ordering::SeqCst);
        // The poll thread commits, leaves the group and ends.
        let poll_thread = self.poll_thread;
        let _ = tokio::task::spawn_blocking(move || poll_thread.join()).await;
        MemberEnd {
            records: self.records,
            skipped,
            other_routes: self.other_routes,
            dead_lettered,
            handed_back,
        }
    }
}

/// Whether a record whose routes header says `routes` is for this consumer's `route`.
fn for_route(route: Option<&str>, routes: Option<&str>) -> bool {
    match (route, routes) {
        (Some(route), Some(routes)) => routes.split(',').any(|r| r.trim() == route),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::for_route;

    #[test]
    fn a_route_takes_the_records_that_name_it_and_those_for_every_route() {
        assert!(for_route(Some("meta"), Some("openai,meta")));
        assert!(!for_route(Some("meta"), Some("")));
        assert!(!for_route(Some("meta"), Some("openai")));
        assert!(for_route(Some("meta"), None), "no header: every route");
        assert!(for_route(None, Some("openai")), "no route: every record");
    }
}
