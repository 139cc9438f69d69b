//! Readiness and the poller: every wait has a deadline, backs off, reports each new state,
//! and on timeout says what it last saw.
//!
//! The poller has no opinion on what "ready" means: the caller's probe returns a
//! [`Readiness`]. Time can be scaled (see [`Timing`]) so that runs against the local emulator,
//! whose simulated resources age faster than real ones, poll proportionally faster.

use std::future::Future;
use std::time::{Duration, Instant};

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Done: the resource is usable.
    Ready,
    /// Not yet; `state` is shown to the user (e.g. `creating`, `IN_PROGRESS 1/2 running`).
    Pending {
        /// The state as AWS reports it.
        state: String,
    },
    /// It will never become ready without intervention.
    Failed {
        /// Why, in AWS's words where possible.
        reason: String,
    },
}

impl Readiness {
    /// A pending state.
    pub fn pending(state: impl Into<String>) -> Self {
        Readiness::Pending {
            state: state.into(),
        }
    }
}

/// How fast waits poll and how long they may last.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Multiplies every interval and deadline: 1.0 against AWS; smaller against the emulator.
    pub scale: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

impl Timing {
    /// Environment variable that sets [`Timing::scale`] (for the local emulator only).
    pub const ENV: &'static str = "ORCHESTRATE_TIME_SCALE";

    /// Reads the scale from [`Timing::ENV`]; 1.0 when unset or invalid.
    pub fn from_env() -> Self {
        let scale = std::env::var(Self::ENV)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1.0)
            .unwrap_or(1.0);
        Self { scale }
    }

    /// `real` scaled.
    pub fn scaled(&self, real: Duration) -> Duration {
        real.mul_f64(self.scale)
    }

    /// A poller for a wait of nominal length `deadline`.
    pub fn poller(&self, deadline: Duration) -> Poller {
        Poller {
            deadline: self.scaled(deadline),
            initial: self
                .scaled(Duration::from_secs(2))
                .max(Duration::from_millis(10)),
            max_interval: self
                .scaled(Duration::from_secs(15))
                .max(Duration::from_millis(20)),
        }
    }
}

/// Why a wait ended without the resource becoming ready.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    /// The deadline passed.
    #[error("timed out after {waited:?} waiting for {what}; last state: {last_state}")]
    TimedOut {
        /// What was waited on.
        what: String,
        /// How long.
        waited: Duration,
        /// The last state the probe reported.
        last_state: String,
    },
    /// The probe reported a failure.
    #[error("{what} failed: {reason}")]
    Failed {
        /// What was waited on.
        what: String,
        /// The probe's reason.
        reason: String,
    },
    /// The probe itself errored (an AWS call failed).
    #[error("failed to check {what}: {source}")]
    Probe {
        /// What was waited on.
        what: String,
        /// The probe's error.
        #[source]
        source: E,
    },
}

/// Polls a probe with exponential backoff until ready, failed, or the deadline.
#[derive(Debug, Clone, Copy)]
pub struct Poller {
    /// Total time allowed.
    pub deadline: Duration,
    /// First interval.
    pub initial: Duration,
    /// Longest interval.
    pub max_interval: Duration,
}

impl Poller {
    /// Waits for `what`. `on_state` is called each time the reported state changes.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] carrying the last state, [`WaitError::Failed`] when the probe
    /// says so, [`WaitError::Probe`] when the probe errors.
    pub async fn wait<E, F, Fut>(
        &self,
        what: &str,
        mut probe: F,
        mut on_state: impl FnMut(&str),
    ) -> Result<(), WaitError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Readiness, E>>,
    {
        let start = Instant::now();
        let mut interval = self.initial;
        let mut last_state = String::from("(not yet observed)");
        loop {
            match probe().await.map_err(|source| WaitError::Probe {
                what: what.to_string(),
                source,
            })? {
                Readiness::Ready => return Ok(()),
                Readiness::Failed { reason } => {
                    return Err(WaitError::Failed {
                        what: what.to_string(),
                        reason,
                    });
                }
                Readiness::Pending { state } => {
                    if state != last_state {
                        on_state(&state);
                        last_state = state;
                    }
                }
            }
            let elapsed = start.elapsed();
            if elapsed >= self.deadline {
                return Err(WaitError::TimedOut {
                    what: what.to_string(),
                    waited: elapsed,
                    last_state,
                });
            }
            tokio::time::sleep(interval.min(self.deadline - elapsed)).await;
            interval = (interval.mul_f64(1.5)).min(self.max_interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn fast(deadline_ms: u64) -> Poller {
        Poller {
            deadline: Duration::from_millis(deadline_ms),
            initial: Duration::from_millis(1),
            max_interval: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn ready_after_pending_states_reports_each_change_once() {
        let calls = Cell::new(0);
        let mut seen = Vec::new();
        let result: Result<(), WaitError<std::io::Error>> = fast(2_000)
            .wait(
                "db",
                || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    async move {
                        Ok(match n {
                            1 | 2 => Readiness::pending("creating"),
                            3 => Readiness::pending("backing-up"),
                            _ => Readiness::Ready,
                        })
                    }
                },
                |s| seen.push(s.to_string()),
            )
            .await;
        assert!(result.is_ok());
        assert_eq!(calls.get(), 4);
        assert_eq!(seen, vec!["creating", "backing-up"]);
    }

    #[tokio::test]
    async fn timeout_carries_last_state() {
        let result: Result<(), WaitError<std::io::Error>> = fast(30)
            .wait(
                "nat",
                || async { Ok(Readiness::pending("pending")) },
                |_| {},
            )
            .await;
        match result {
            Err(WaitError::TimedOut {
                what, last_state, ..
            }) => {
                assert_eq!(what, "nat");
                assert_eq!(last_state, "pending");
            }
            other => panic!("expected timeout, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn failure_stops_the_wait() {
        let result: Result<(), WaitError<std::io::Error>> = fast(1_000)
            .wait(
                "svc",
                || async {
                    Ok(Readiness::Failed {
                        reason: "circuit breaker".into(),
                    })
                },
                |_| {},
            )
            .await;
        assert!(
            matches!(result, Err(WaitError::Failed { reason, .. }) if reason == "circuit breaker")
        );
    }

    #[test]
    fn timing_scales_intervals_and_deadlines() {
        let timing = Timing { scale: 0.01 };
        assert_eq!(
            timing.scaled(Duration::from_secs(100)),
            Duration::from_secs(1)
        );
        let poller = timing.poller(Duration::from_secs(600));
        assert_eq!(poller.deadline, Duration::from_secs(6));
        assert!(poller.initial >= Duration::from_millis(10));
    }
}
