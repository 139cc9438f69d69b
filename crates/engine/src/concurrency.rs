//! How many resources `up` converges at once.
//!
//! Every resource-level step of `up` (one `ensure`, one wait, one rollout) runs inside
//! [`Limit::run`], which holds one permit of a fair semaphore for its duration. The default
//! ([`DEFAULT`]) is above the widest point of the graph (phase 1's foundations plus the early
//! phase-2 resources), so it never delays a run; it bounds what a future, wider graph could
//! send at once, so the per-service throttling budgets hold. `ORCHESTRATE_CONCURRENCY=1`
//! converges one resource at a time: the baseline the benchmark compares with
//! (`scripts/bench.sh`, docs/performance.md).
//!
//! # Guarantees
//! - A permit is only held around a leaf step; no step waits for another permit or for
//!   another step's output while holding one, so no value of the limit can deadlock.

use std::future::Future;

use tokio::sync::Semaphore;

use crate::error::EngineError;

/// The environment variable that sets the limit (a whole number ≥ 1).
pub const ENV: &str = "ORCHESTRATE_CONCURRENCY";
/// Steps at once unless [`ENV`] says otherwise.
pub const DEFAULT: usize = 8;

/// A bound on concurrent resource steps.
#[derive(Debug)]
pub struct Limit {
    semaphore: Semaphore,
    permits: usize,
}

impl Default for Limit {
    fn default() -> Self {
        Self::new(DEFAULT)
    }
}

impl Limit {
    /// A limit of `permits` steps at once (at least one).
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            semaphore: Semaphore::new(permits),
            permits,
        }
    }

    /// The limit [`ENV`] asks for, [`DEFAULT`] when it is unset or empty.
    ///
    /// # Errors
    /// [`EngineError::Usage`] (exit 2) when it is not a whole number ≥ 1.
    pub fn from_env() -> Result<Self, EngineError> {
        Self::parse(std::env::var(ENV).ok().as_deref())
    }

    fn parse(value: Option<&str>) -> Result<Self, EngineError> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(Self::default()),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Self::new(n)),
                _ => Err(EngineError::Usage(format!(
                    "{ENV}={text:?} is not a whole number ≥ 1; unset it (default {DEFAULT}) or \
                     set 1 to converge one resource at a time"
                ))),
            },
        }
    }

    /// How many steps may run at once.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Runs `step` holding one permit.
    pub async fn run<T>(&self, step: impl Future<Output = T>) -> T {
        // The semaphore is never closed; should it be, the step runs unbounded.
        let _permit = self.semaphore.acquire().await.ok();
        step.await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_variable_is_a_whole_number_of_at_least_one() {
        assert_eq!(Limit::parse(None).map(|l| l.permits()).ok(), Some(DEFAULT));
        assert_eq!(
            Limit::parse(Some(" ")).map(|l| l.permits()).ok(),
            Some(DEFAULT)
        );
        assert_eq!(Limit::parse(Some("1")).map(|l| l.permits()).ok(), Some(1));
        assert_eq!(Limit::parse(Some("12")).map(|l| l.permits()).ok(), Some(12));
        for bad in ["0", "-1", "two", "1.5"] {
            assert!(
                matches!(Limit::parse(Some(bad)), Err(EngineError::Usage(m)) if m.contains(ENV)),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn no_more_steps_than_permits_run_at_once() {
        for permits in [1, 3] {
            let limit = Limit::new(permits);
            let running = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let steps = (0..8).map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                limit.run(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            });
            futures::future::join_all(steps).await;
            assert_eq!(peak.load(Ordering::SeqCst), permits);
        }
    }
}
