//! Seeded, reproducible fault injection. Whether rule `r` fires on its `n`-th matching call is
//! a pure function of (seed, r, n), so concurrent traffic to other operations cannot change it.

use std::collections::HashMap;

use crate::clock::unit;
use crate::scenario::{Fault, FaultKind};

/// What to do to one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Real milliseconds to wait before handling.
    pub latency_ms: u64,
    /// An error or lost response to inject (never `LatencyMs`).
    pub action: Option<FaultKind>,
}

/// Per-rule counters.
#[derive(Debug, Default)]
pub struct Injector {
    seen: HashMap<usize, u64>,
    fired: HashMap<usize, u64>,
}

impl Injector {
    /// Forgets all counters (on a scenario change or reset).
    pub fn clear(&mut self) {
        self.seen.clear();
        self.fired.clear();
    }

    /// Decides the faults for one call.
    pub fn decide(
        &mut self,
        seed: u64,
        rules: &[Fault],
        service: &str,
        operation: &str,
        mutating: bool,
    ) -> Decision {
        let mut d = Decision::default();
        for (idx, rule) in rules.iter().enumerate() {
            let service_ok = rule.service == "*" || rule.service.eq_ignore_ascii_case(service);
            let op_ok = rule.operation.as_deref().is_none_or(|o| o == operation);
            let mut_ok = rule.mutating.is_none_or(|m| m == mutating);
            if !(service_ok && op_ok && mut_ok) {
                continue;
            }
            let n = {
                let seen = self.seen.entry(idx).or_default();
                *seen += 1;
                *seen
            };
            if n <= rule.after {
                continue;
            }
            let fired = self.fired.get(&idx).copied().unwrap_or(0);
            if rule.max_count.is_some_and(|m| fired >= m) {
                continue;
            }
            let is_latency = matches!(rule.kind, FaultKind::LatencyMs(_));
            if !is_latency && d.action.is_some() {
                continue;
            }
            let draw = unit(seed, &["fault", &idx.to_string(), &n.to_string()]);
            if draw >= rule.rate {
                continue;
            }
            *self.fired.entry(idx).or_default() += 1;
            match &rule.kind {
                FaultKind::LatencyMs(ms) => d.latency_ms += ms,
                other => d.action = Some(other.clone()),
            }
        }
        d
    }
}

/// Short name of a fault kind as recorded in [`crate::Call::fault`].
pub fn fault_name(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Throttle => "throttle",
        FaultKind::Http500 => "http500",
        FaultKind::Http503 => "http503",
        FaultKind::LatencyMs(_) => "latency_ms",
        FaultKind::LostResponse => "lost_response",
        FaultKind::Error { .. } => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: FaultKind, rate: f64, max: Option<u64>) -> Fault {
        Fault {
            service: "ecs".into(),
            operation: Some("DescribeServices".into()),
            mutating: None,
            kind,
            rate,
            max_count: max,
            after: 0,
        }
    }

    #[test]
    fn rate_and_max_count() {
        let rules = vec![rule(FaultKind::Throttle, 0.5, None)];
        let mut a = Injector::default();
        let mut b = Injector::default();
        let run = |i: &mut Injector| {
            (0..200)
                .map(|_| {
                    i.decide(42, &rules, "ecs", "DescribeServices", false)
                        .action
                        .is_some()
                })
                .collect::<Vec<_>>()
        };
        let ra = run(&mut a);
        assert_eq!(ra, run(&mut b), "same seed, same draws");
        let fired = ra.iter().filter(|x| **x).count();
        assert!((60..140).contains(&fired), "{fired}");
        let rules = vec![rule(FaultKind::Http500, 1.0, Some(2))];
        let mut c = Injector::default();
        let n = (0..5)
            .filter(|_| {
                c.decide(1, &rules, "ecs", "DescribeServices", false)
                    .action
                    .is_some()
            })
            .count();
        assert_eq!(n, 2);
        assert_eq!(
            c.decide(1, &rules, "ecs", "ListTasks", false),
            Decision::default()
        );
    }
}
