//! State shared by the proxy, the control API and the Rust handle.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::accounting::Ledger;
use crate::clock::{Clock, SimMs};
use crate::faults::Injector;
use crate::lifecycle::cache_groups::CacheGroups;
use crate::lifecycle::ecs::model::TdInfo;
use crate::lifecycle::ecs::sim::EcsSim;
use crate::lifecycle::replication_groups::ReplicationGroups;
use crate::lifecycle::slow::Slow;
use crate::protocol::Rendered;
use crate::scenario::Scenario;

/// The crash hook: SIGKILL `pid` once `remaining` more mutating calls have been applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrashHook {
    /// Process to kill.
    pub pid: u32,
    /// Applied mutating calls still to let through; the call that brings this to 0 triggers it.
    pub remaining: u64,
    /// Whether it fired.
    pub fired: bool,
    /// Calls whose [`crate::Call::target`] is one of these are not counted (e.g. a lease the
    /// process renews on its own schedule, which would make kill points timing-dependent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_targets: Vec<String>,
}

/// Everything mutable behind one lock (never held across an await).
#[derive(Debug)]
pub struct Inner {
    /// Current scenario.
    pub scenario: Scenario,
    /// Simulated clock.
    pub clock: Clock,
    /// ECS simulation.
    pub ecs: EcsSim,
    /// Slow resources.
    pub slow: Slow,
    /// Call log.
    pub ledger: Ledger,
    /// Fault counters.
    pub injector: Injector,
    /// Idempotency cache: (service, operation, token) -> first successful response.
    pub tokens: HashMap<(String, String, String), Rendered>,
    /// Task definitions seen, by ARN.
    pub task_definitions: HashMap<String, TdInfo>,
    /// Crash hook.
    pub crash: Option<CrashHook>,
    /// Request counter (for request ids).
    pub requests: u64,
    /// Deleted and re-created ElastiCache cache subnet groups.
    pub cache_groups: CacheGroups,
    /// Replication group ids reused after a deletion.
    pub replication_groups: ReplicationGroups,
    /// The member cache clusters of replication groups.
    pub cache_members: crate::lifecycle::cache_members::CacheMembers,
    /// ACM certificates and their DNS validation.
    pub acm: crate::lifecycle::acm::Acm,
}

impl Inner {
    /// Simulated now, after advancing the ECS simulation to it.
    pub fn advance(&mut self) -> SimMs {
        let now = self.clock.now();
        self.ecs.tick(now, &self.scenario);
        now
    }

    /// Forgets all emulated state (not the scenario).
    pub fn reset_world(&mut self) {
        self.ecs = EcsSim::default();
        self.slow.clear();
        self.tokens.clear();
        self.task_definitions.clear();
        self.injector.clear();
        self.ledger.clear();
        self.crash = None;
        self.cache_groups.clear();
        self.replication_groups.clear();
        self.cache_members.clear();
        self.acm.clear();
    }
}

/// Shared state handle.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    /// New state for a scenario.
    pub fn new(scenario: Scenario) -> Self {
        let clock = Clock::new(scenario.effective_time_scale());
        Self {
            inner: Mutex::new(Inner {
                scenario,
                clock,
                ecs: EcsSim::default(),
                slow: Slow::default(),
                ledger: Ledger::default(),
                injector: Injector::default(),
                tokens: HashMap::new(),
                task_definitions: HashMap::new(),
                crash: None,
                requests: 0,
                cache_groups: CacheGroups::default(),
                replication_groups: ReplicationGroups::default(),
                cache_members: crate::lifecycle::cache_members::CacheMembers::default(),
                acm: crate::lifecycle::acm::Acm::default(),
            }),
        }
    }

    /// Locks the state (recovering from a poisoned lock: the state stays usable).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the scenario (time scale changes keep simulated time continuous).
    pub fn set_scenario(&self, scenario: Scenario) {
        let mut g = self.lock();
        g.clock.set_scale(scenario.effective_time_scale());
        g.injector.clear();
        g.scenario = scenario;
    }
}
