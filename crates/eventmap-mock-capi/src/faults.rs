//! Faults the mock can inject, request by request.

use std::sync::Mutex;
use std::time::Duration;

/// What goes wrong with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (e.g. 500, 503) and a server-error body; nothing recorded.
    Status(u16),
    /// 429 with `Retry-After: seconds`; nothing recorded.
    RateLimited { retry_after_secs: u64 },
    /// Wait this long before answering. With `recorded`, the events are accepted and
    /// recorded first (the client, timing out, cannot tell); without, nothing is.
    Slow { delay: Duration, recorded: bool },
    /// Close the connection without answering. With `recorded`, after accepting and
    /// recording the events (the client cannot tell).
    Drop { recorded: bool },
}

/// Which requests get which fault.
pub enum FaultPlan {
    None,
    /// The n-th request (from 0) gets `script[n]`; later ones none.
    Script(Vec<Option<Fault>>),
    /// Each request draws from a seeded generator: `weights` are per-mille chances.
    Random {
        seed: u64,
        weights: Vec<(Fault, u32)>,
    },
}

impl FaultPlan {
    /// Every kind of fault at once, drawn with `seed`: about one request in six fails
    /// (500, 503, 429 with `Retry-After: 0`, connections dropped before and after the
    /// events are recorded, and answers slower than `slow` after recording).
    pub fn mixed(seed: u64, slow: Duration) -> Self {
        FaultPlan::Random {
            seed,
            weights: vec![
                (Fault::Status(500), 50),
                (Fault::Status(503), 30),
                (
                    Fault::RateLimited {
                        retry_after_secs: 0,
                    },
                    40,
                ),
                (Fault::Drop { recorded: false }, 20),
                (Fault::Drop { recorded: true }, 10),
                (
                    Fault::Slow {
                        delay: slow,
                        recorded: true,
                    },
                    5,
                ),
            ],
        }
    }
}

/// A [`FaultPlan`] being played.
pub(crate) struct Faults {
    plan: FaultPlan,
    state: Mutex<u64>,
}

impl Faults {
    pub fn new(plan: FaultPlan) -> Self {
        let seed = match &plan {
            FaultPlan::Random { seed, .. } => seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            _ => 1,
        };
        Self {
            plan,
            state: Mutex::new(seed),
        }
    }

    pub fn for_request(&self, n: u64) -> Option<Fault> {
        match &self.plan {
            FaultPlan::None => None,
            FaultPlan::Script(script) => usize::try_from(n)
                .ok()
                .and_then(|n| script.get(n).copied().flatten()),
            FaultPlan::Random { weights, .. } => {
                let mut roll = self.next() % 1000;
                for (fault, weight) in weights {
                    let weight = u64::from(*weight);
                    if roll < weight {
                        return Some(*fault);
                    }
                    roll -= weight;
                }
                None
            }
        }
    }

    /// xorshift64: deterministic per seed, so a failing mix can be replayed.
    fn next(&self) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }
}
