//! API-call accounting: every call through the proxy is recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One recorded call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Call {
    /// Sequence number, from 1, in arrival order.
    pub seq: u64,
    /// Service signing name (`ecs`, `ec2`, ...).
    pub service: String,
    /// Operation name.
    pub operation: String,
    /// Whether the operation mutates (see [`crate::is_mutating`]).
    pub mutating: bool,
    /// HTTP status returned to the client; 0 when the response was deliberately lost.
    pub status: u16,
    /// Time spent in the proxy, milliseconds (includes injected latency).
    pub latency_ms: f64,
    /// The injected fault, if any (`throttle`, `http500`, `http503`, `latency_ms`, `lost_response`).
    pub fault: Option<String>,
    /// Whether the backend applied the request (it answered 2xx, or awsim handled it itself).
    pub applied: bool,
    /// The resource the request names, where awsim extracts it: Secrets Manager's `SecretId`
    /// or `Name` (so tests can tell a run's lease secret from the deployment's resources).
    #[serde(default)]
    pub target: Option<String>,
}

/// Aggregates over the recorded calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Every call.
    pub total: u64,
    /// Calls to mutating operations (whatever their outcome).
    pub mutating: u64,
    /// Calls to read operations.
    pub reads: u64,
    /// Calls that had a fault injected.
    pub faults: u64,
    /// Calls answered with a status >= 400 (or lost).
    pub errors: u64,
    /// Calls per `service:Operation`.
    pub by_operation: BTreeMap<String, u64>,
    /// Calls per service.
    pub by_service: BTreeMap<String, u64>,
}

impl Summary {
    /// Builds the summary of a list of calls.
    pub fn of(calls: &[Call]) -> Self {
        let mut s = Summary::default();
        for c in calls {
            s.total += 1;
            if c.mutating {
                s.mutating += 1;
            } else {
                s.reads += 1;
            }
            if c.fault.is_some() {
                s.faults += 1;
            }
            if c.status == 0 || c.status >= 400 {
                s.errors += 1;
            }
            *s.by_operation
                .entry(format!("{}:{}", c.service, c.operation))
                .or_default() += 1;
            *s.by_service.entry(c.service.clone()).or_default() += 1;
        }
        s
    }

    /// Calls recorded for `service:Operation` (0 if none).
    pub fn count(&self, service: &str, operation: &str) -> u64 {
        self.by_operation
            .get(&format!("{service}:{operation}"))
            .copied()
            .unwrap_or(0)
    }
}

/// The call log.
#[derive(Debug, Default)]
pub struct Ledger {
    calls: Vec<Call>,
    next_seq: u64,
}

impl Ledger {
    /// Records a call, assigning its sequence number.
    pub fn record(&mut self, mut call: Call) {
        self.next_seq += 1;
        call.seq = self.next_seq;
        self.calls.push(call);
    }

    /// All calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.clone()
    }

    /// The summary of all calls so far.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.calls)
    }

    /// Forgets every call.
    pub fn clear(&mut self) {
        self.calls.clear();
        self.next_seq = 0;
    }
}
