//! One row of `status`: a resource of the deployment as AWS reports it now.

use serde::Serialize;

use crate::phase::Phase;

/// A resource's current state, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        }
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
