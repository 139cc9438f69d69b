//! One row of `status`: a resource of the deployment as AWS reports it now.

use serde::Serialize;

use crate::phase::Phase;

/// A resource's current state, as `status` shows it. In JSON its phase is a number with a
/// `phase_name` beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "StatusRowJson")]
pub struct StatusRow {
    /// Phase it belongs to.
    pub phase: Phase,
    /// Kind, e.g. `rds/db-instance`.
    pub kind: String,
    /// Name (or id where AWS has no name).
    pub name: String,
    /// AWS's own state word where it has one (`available`, `ACTIVE 2/2`), `ok` for a
    /// resource without states, `absent` when it does not exist.
    pub state: String,
    /// True when the resource exists and is in a state it can serve in.
    pub healthy: bool,
    /// An ECS service's counts and revision (`None` for every other resource).
    pub service: Option<ServiceCounts>,
}

/// What an ECS service runs, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    /// Tasks running.
    pub running: i32,
    /// Tasks wanted.
    pub desired: i32,
    /// The task-definition revision of its primary deployment, when known.
    pub revision: Option<u32>,
}

/// [`StatusRow`] as JSON: `phase` a number, `phase_name` its name.
#[derive(Serialize)]
struct StatusRowJson {
    phase: u8,
    phase_name: &'static str,
    kind: String,
    name: String,
    state: String,
    healthy: bool,
    running: Option<i32>,
    desired: Option<i32>,
    revision: Option<u32>,
}

impl From<StatusRow> for StatusRowJson {
    fn from(r: StatusRow) -> Self {
        Self {
            phase: r.phase.number(),
            phase_name: r.phase.name(),
            kind: r.kind,
            name: r.name,
            state: r.state,
            healthy: r.healthy,
            running: r.service.map(|s| s.running),
            desired: r.service.map(|s| s.desired),
            revision: r.service.and_then(|s| s.revision),
        }
    }
}

impl StatusRow {
    /// A row for an existing resource in `state`.
    pub fn new(
        phase: Phase,
        kind: &str,
        name: &str,
        state: impl Into<String>,
        healthy: bool,
    ) -> Self {
        Self {
            phase,
            kind: kind.into(),
            name: name.into(),
            state: state.into(),
            healthy,
            service: None,
        }
    }

    /// The row with an ECS service's counts and revision.
    pub fn with_service(mut self, counts: ServiceCounts) -> Self {
        self.service = Some(counts);
        self
    }

    /// A row for a resource that does not exist.
    pub fn absent(phase: Phase, kind: &str, name: &str) -> Self {
        Self::new(phase, kind, name, ABSENT, false)
    }

    /// True when the resource does not exist.
    pub fn is_absent(&self) -> bool {
        self.state == ABSENT
    }
}

/// The state of a resource that does not exist.
pub const ABSENT: &str = "absent";
