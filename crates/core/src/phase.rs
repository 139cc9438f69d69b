//! The five phases of a deployment, in the order `up` converges them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phase of the deployment. Phase N needs phases 1..N-1 to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// 1: network, secrets, IAM, logs, ECR, RDS, Valkey, Cloud Map namespace.
    Storage = 1,
    /// 2: ECS cluster, migration task, ALB, api-server service.
    ApiServer = 2,
    /// 3: scheduler and dag-processor services.
    Scheduler = 3,
    /// 4: triggerer service.
    Triggerer = 4,
    /// 5: Celery worker service and its autoscaling.
    Worker = 5,
}

impl Phase {
    /// Every phase in order.
    pub const ALL: [Phase; 5] = [
        Phase::Storage,
        Phase::ApiServer,
        Phase::Scheduler,
        Phase::Triggerer,
        Phase::Worker,
    ];

    /// The phase with this number (1..=5).
    pub fn from_number(n: u8) -> Option<Phase> {
        Phase::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The phase's number, 1..=5.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The phase's short name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Storage => "storage",
            Phase::ApiServer => "api-server",
            Phase::Scheduler => "scheduler",
            Phase::Triggerer => "triggerer",
            Phase::Worker => "worker",
        }
    }

    /// Phases 1..=self.
    pub fn up_to(self) -> impl Iterator<Item = Phase> {
        Phase::ALL.into_iter().take(usize::from(self.number()))
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "phase {} ({})", self.number(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_bound() {
        for phase in Phase::ALL {
            assert_eq!(Phase::from_number(phase.number()), Some(phase));
        }
        assert_eq!(Phase::from_number(0), None);
        assert_eq!(Phase::from_number(6), None);
        assert_eq!(
            Phase::Scheduler.up_to().collect::<Vec<_>>(),
            vec![Phase::Storage, Phase::ApiServer, Phase::Scheduler]
        );
    }
}
