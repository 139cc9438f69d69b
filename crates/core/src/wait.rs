//! Readiness and the poller: every wait has a deadline, backs off, reports each new state,
//! and on timeout says what it last saw.
//!
//! A probe error whose [`ErrorKind`] is retryable (throttling, an AWS-side 5xx, a lost
//! connection: [`ErrorKind::is_retryable`]) does not end a wait: it is counted, logged at
//! debug level (`-v`), and the probe runs again at the next poll with the usual backoff, within
//! the same deadline. Any other probe error ends the wait at once. Waits that own their loop
//! follow the same rule through [`ProbeRetries`].
//!
//! The poller has no opinion on what "ready" means: the caller's probe returns a
//! [`Readiness`]. Time can be scaled (see [`Timing`]) so that runs against the local emulator,
//! whose simulated resources age faster than real ones, poll proportionally faster.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::kind::{Classify, ErrorKind};

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
    /// The shortest deadline a scaled wait gets (see [`Timing::poller`]).
    pub const MIN_DEADLINE: Duration = Duration::from_millis(250);

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

    /// A poller for a wait of nominal length `deadline`. A scaled deadline is never shorter
    /// than [`Timing::MIN_DEADLINE`], so on a loaded machine a few milliseconds of scheduling
    /// delay cannot turn an emulator's (or a unit test's) wait into a timeout; at scale 1.0
    /// every real deadline is far above it.
    pub fn poller(&self, deadline: Duration) -> Poller {
        Poller {
            deadline: self.scaled(deadline).max(Self::MIN_DEADLINE.min(deadline)),
            initial: self
                .scaled(Duration::from_secs(2))
                .max(Duration::from_millis(10)),
            max_interval: self
                .scaled(Duration::from_secs(15))
                .max(Duration::from_millis(20)),
            expected: None,
        }
    }

    /// A poller for a wait of nominal length `deadline` on a resource AWS usually makes ready
    /// after about `typical` (both scaled): it polls fast right after the change, slower in
    /// between, and fast again around `typical` (see [`Poller::interval_after`]).
    pub fn poller_expecting(&self, deadline: Duration, typical: Duration) -> Poller {
        let mut poller = self.poller(deadline);
        poller.expected = Some(self.scaled(typical));
        poller
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
///
/// Adaptive when the usual duration is known ([`Timing::poller_expecting`]): fast right
/// after the change (from [`Poller::initial`], ×1.5 per poll), up to twice
/// [`Poller::max_interval`] while the resource is far from its usual completion (fewer
/// calls against AWS's throttling budgets), at [`Poller::initial`] within a window around
/// it (the readiness is seen within seconds), then the plain backoff again.
#[derive(Debug, Clone, Copy)]
pub struct Poller {
    /// Total time allowed.
    pub deadline: Duration,
    /// First interval.
    pub initial: Duration,
    /// Longest interval.
    pub max_interval: Duration,
    /// When the resource usually becomes ready (scaled), if known.
    pub expected: Option<Duration>,
}

impl Poller {
    /// The pause before the next poll, `elapsed` into the wait, after a pause of `last`
    /// (`None` before the first pause). Pure; see the type's documentation.
    pub fn interval_after(&self, elapsed: Duration, last: Option<Duration>) -> Duration {
        let grown = last.map_or(self.initial, |l| l.mul_f64(1.5).max(self.initial));
        let Some(expected) = self.expected else {
            return grown.min(self.max_interval);
        };
        // The window around the usual completion: a tenth of it on each side, at least four
        // and at most fifteen initial intervals (RDS: ±30 s; an ALB: ±18 s).
        let near = (expected / 10).max(self.initial * 4).min(self.initial * 15);
        let window_start = expected.saturating_sub(near);
        let window_end = expected + near;
        if elapsed >= window_start && elapsed < window_end {
            self.initial
        } else if elapsed < window_start {
            // Slower in between, but never past the window's start.
            grown
                .min(self.max_interval * 2)
                .min(window_start - elapsed)
                .max(self.initial)
        } else {
            // Later than usual: the plain backoff, starting again from fast.
            let after = last
                .filter(|l| *l > self.initial)
                .map_or(self.initial, |l| l.mul_f64(1.5));
            after.min(self.max_interval)
        }
    }

    /// Waits for `what`. `on_state` is called each time the reported state changes.
    ///
    /// A probe error of a retryable kind is ridden out (see the module documentation).
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] carrying the last state (and how many probe errors were ridden
    /// out), [`WaitError::Failed`] when the probe says so, [`WaitError::Probe`] when the probe
    /// fails with a non-retryable error.
    pub async fn wait<E, F, Fut>(
        &self,
        what: &str,
        mut probe: F,
        mut on_state: impl FnMut(&str),
    ) -> Result<(), WaitError<E>>
    where
        E: Classify + Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Readiness, E>>,
    {
        let start = Instant::now();
        let mut interval: Option<Duration> = None;
        let mut last_state = String::from("(not yet observed)");
        let mut retries = ProbeRetries::default();
        loop {
            let seen = probe()
                .await
                .map(Some)
                .or_else(|source| retries.absorb(what, source).map(|()| None))
                .map_err(|source| WaitError::Probe {
                    what: what.to_string(),
                    source,
                })?;
            match seen {
                Some(Readiness::Ready) => return Ok(()),
                Some(Readiness::Failed { reason }) => {
                    return Err(WaitError::Failed {
                        what: what.to_string(),
                        reason,
                    });
                }
                Some(Readiness::Pending { state }) if state != last_state => {
                    on_state(&state);
                    last_state = state;
                }
                Some(Readiness::Pending { .. }) | None => {}
            }
            let elapsed = start.elapsed();
            if elapsed >= self.deadline {
                return Err(WaitError::TimedOut {
                    what: what.to_string(),
                    waited: elapsed,
                    last_state: retries.annotate(last_state),
                });
            }
            let next = self.interval_after(elapsed, interval);
            interval = Some(next);
            tokio::time::sleep(next.min(self.deadline - elapsed)).await;
        }
    }
}

/// The probe errors a wait rode out: how many, and the last one (for the timeout message).
///
/// For waits that own their loop (an ECS rollout, a one-off task): call [`ProbeRetries::absorb`]
/// on each probe error, then poll again as usual, and pass the last state through
/// [`ProbeRetries::annotate`] when the deadline passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRetries {
    /// Probe errors ridden out so far.
    pub count: u32,
    /// The kind and message of the last one.
    pub last: Option<(ErrorKind, String)>,
}

impl ProbeRetries {
    /// `Ok(())` when `err` is of a retryable kind (counted and logged at debug level): poll
    /// again. `Err(err)` otherwise: the wait must end with it.
    ///
    /// # Errors
    /// `err` itself when its kind is not retryable.
    pub fn absorb<E: Classify + Display>(&mut self, what: &str, err: E) -> Result<(), E> {
        let kind = err.kind();
        if !kind.is_retryable() {
            return Err(err);
        }
        self.count += 1;
        tracing::debug!(
            what,
            kind = kind.name(),
            retries = self.count,
            error = %err,
            "probe failed with a retryable error; polling again"
        );
        self.last = Some((kind, err.to_string()));
        Ok(())
    }

    /// `last_state`, followed by the probe errors ridden out when there were any.
    pub fn annotate(&self, last_state: String) -> String {
        match &self.last {
            None => last_state,
            Some((kind, message)) => format!(
                "{last_state} ({} probe error(s) ridden out, the last {kind}: {message})",
                self.count
            ),
        }
    }
}

impl<E: Classify> Classify for WaitError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            WaitError::TimedOut { .. } => ErrorKind::TimedOut,
            WaitError::Failed { .. } => ErrorKind::Failed,
            WaitError::Probe { source, .. } => source.kind(),
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
            expected: None,
        }
    }

    #[test]
    fn without_an_expectation_the_interval_backs_off_to_the_maximum() {
        let poller = Timing::default().poller(Duration::from_secs(900));
        let mut last = None;
        let mut seen = Vec::new();
        for _ in 0..8 {
            let next = poller.interval_after(Duration::from_secs(1), last);
            seen.push(next.as_millis());
            last = Some(next);
        }
        assert_eq!(seen[0], 2_000);
        assert_eq!(seen[1], 3_000);
        assert_eq!(*seen.last().expect("polls"), 15_000);
    }

    #[test]
    fn an_expected_duration_polls_fast_near_it_and_slowly_in_between() {
        // An ALB: about 3 minutes.
        let poller =
            Timing::default().poller_expecting(Duration::from_secs(900), Duration::from_secs(180));
        let secs = Duration::from_secs;
        // Right after the change: fast.
        assert_eq!(poller.interval_after(secs(0), None), secs(2));
        // In between: slower than the plain maximum, but never past the window (162 s).
        let mid = poller.interval_after(secs(60), Some(secs(30)));
        assert_eq!(mid, secs(30));
        assert_eq!(poller.interval_after(secs(150), Some(secs(30))), secs(12));
        // Around 180 s (162..198): every initial interval.
        for at in [162, 170, 190, 197] {
            assert_eq!(
                poller.interval_after(secs(at), Some(secs(30))),
                secs(2),
                "{at}"
            );
        }
        // Later than usual: the plain backoff again, from fast.
        assert_eq!(poller.interval_after(secs(198), Some(secs(2))), secs(2));
        assert_eq!(poller.interval_after(secs(300), Some(secs(10))), secs(15));
        // Polls over a 3-minute wait: fewer than with the plain backoff, and one within 2 s of
        // the completion.
        let count = |p: &Poller, done: u64| {
            let (mut at, mut last, mut n) = (Duration::ZERO, None, 0);
            while at < secs(done) {
                let next = p.interval_after(at, last);
                at += next;
                last = Some(next);
                n += 1;
            }
            (n, at - secs(done))
        };
        let plain = Timing::default().poller(Duration::from_secs(900));
        let (adaptive_polls, late) = count(&poller, 180);
        let (plain_polls, _) = count(&plain, 180);
        assert!(late <= secs(2), "seen {late:?} after completion");
        assert!(
            adaptive_polls <= plain_polls + 6,
            "{adaptive_polls} vs {plain_polls}"
        );
        // RDS, about 10 minutes: no more calls than the plain backoff, seen within 2 s.
        let rds =
            Timing::default().poller_expecting(Duration::from_secs(3600), Duration::from_secs(600));
        let (adaptive_polls, late) = count(&rds, 600);
        let (plain_polls, plain_late) = count(&plain, 600);
        assert!(late <= secs(2), "seen {late:?} after completion");
        assert!(
            plain_late > secs(2),
            "the plain backoff is later: {plain_late:?}"
        );
        assert!(
            adaptive_polls <= plain_polls + 1,
            "{adaptive_polls} vs {plain_polls}"
        );
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

    /// A probe error of a chosen kind.
    #[derive(Debug)]
    struct Probe(ErrorKind);

    impl Display for Probe {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "probe failed: {}", self.0)
        }
    }

    impl Classify for Probe {
        fn kind(&self) -> ErrorKind {
            self.0
        }
    }

    #[tokio::test]
    async fn retryable_probe_errors_are_ridden_out() {
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Transient,
            ErrorKind::Unreachable,
        ] {
            let calls = Cell::new(0);
            let result: Result<(), WaitError<Probe>> = fast(2_000)
                .wait(
                    "db",
                    || {
                        calls.set(calls.get() + 1);
                        let n = calls.get();
                        async move {
                            match n {
                                1 => Ok(Readiness::pending("creating")),
                                2 | 3 => Err(Probe(kind)),
                                _ => Ok(Readiness::Ready),
                            }
                        }
                    },
                    |_| {},
                )
                .await;
            assert!(result.is_ok(), "{kind}: {result:?}");
            assert_eq!(calls.get(), 4, "{kind}");
        }
    }

    #[tokio::test]
    async fn a_non_retryable_probe_error_ends_the_wait_at_once() {
        for kind in [
            ErrorKind::AccessDenied,
            ErrorKind::Credentials,
            ErrorKind::Refused,
            ErrorKind::Internal,
        ] {
            let calls = Cell::new(0);
            let result: Result<(), WaitError<Probe>> = fast(2_000)
                .wait(
                    "db",
                    || {
                        calls.set(calls.get() + 1);
                        async move { Err(Probe(kind)) }
                    },
                    |_| {},
                )
                .await;
            assert!(
                matches!(&result, Err(WaitError::Probe { source, .. }) if source.0 == kind),
                "{kind}: {result:?}"
            );
            assert_eq!(calls.get(), 1, "{kind}");
            assert_eq!(result.map_err(|e| e.kind()), Err(kind));
        }
    }

    #[tokio::test]
    async fn retries_stay_within_the_deadline_and_are_counted() {
        let result: Result<(), WaitError<Probe>> = fast(30)
            .wait("nat", || async { Err(Probe(ErrorKind::Throttled)) }, |_| {})
            .await;
        match result {
            Err(e @ WaitError::TimedOut { .. }) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut);
                let WaitError::TimedOut { last_state, .. } = e else {
                    unreachable!()
                };
                assert!(
                    last_state.contains("probe error(s) ridden out, the last throttled"),
                    "{last_state}"
                );
            }
            other => panic!("expected timeout, got {other:?}"),
        }
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
