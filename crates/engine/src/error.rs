//! The engine's error: every way a run can end badly, each mapped to a documented exit code.

use std::time::Duration;

use orchestrate_aws::AwsError;
use orchestrate_core::WaitError;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: anything unexpected (credentials, I/O, a bug).
pub const EXIT_OTHER: u8 = 1;
/// Exit code: invalid spec or usage.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: the deploy failed (AWS rejected a change, a task or a rollout failed).
pub const EXIT_DEPLOY_FAILED: u8 = 3;
/// Exit code: a wait ran past its deadline.
pub const EXIT_TIMED_OUT: u8 = 4;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The spec could not be read or parsed.
    #[error(transparent)]
    Spec(#[from] orchestrate_core::spec::load::LoadError),
    /// The spec broke validation rules (already printed by the caller).
    #[error("the spec has {0} error(s); run `orchestrate validate` for details")]
    Invalid(usize),
    /// The command was refused before any change: a flag the user must add deliberately
    /// (`--yes`, `--force`), or a usage that contradicts the spec.
    #[error("{0}")]
    Refused(String),
    /// The lock file could not be read or written.
    #[error(transparent)]
    Lock(#[from] orchestrate_core::lock::LockError),
    /// AWS refused a call.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A resource step failed; `source` says how.
    #[error("{step}: {source}")]
    Step {
        /// What the engine was doing (`converge network`, `wait for RDS`, ...).
        step: String,
        /// The resource crate's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// The exit code this failure maps to.
        exit_code: u8,
    },
    /// A wait ran out of time.
    #[error("timed out after {waited:?} waiting for {what}; last state: {last_state}")]
    TimedOut {
        /// What was waited on.
        what: String,
        /// How long.
        waited: Duration,
        /// The last state seen.
        last_state: String,
    },
    /// A resource reached a state it will not leave by itself.
    #[error("{what} failed: {reason}")]
    Failed {
        /// What failed.
        what: String,
        /// Why, in AWS's words where possible.
        reason: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            EngineError::Spec(_) | EngineError::Invalid(_) | EngineError::Refused(_) => {
                EXIT_INVALID
            }
            EngineError::Lock(_) | EngineError::Other(_) => EXIT_OTHER,
            EngineError::Aws(e) if is_local_failure(&e.code) => EXIT_OTHER,
            EngineError::Aws(_) | EngineError::Failed { .. } => EXIT_DEPLOY_FAILED,
            EngineError::TimedOut { .. } => EXIT_TIMED_OUT,
            EngineError::Step { exit_code, .. } => *exit_code,
        }
    }

    /// Wraps a resource crate's error for `step`; AWS rejections are deploy failures.
    pub fn step(
        step: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let exit_code = classify(&source);
        EngineError::Step {
            step: step.into(),
            source: Box::new(source),
            exit_code,
        }
    }
}

impl EngineError {
    /// Wraps an ECS error for `step`: a deadline that passed is exit 4, a failed or
    /// rolled-back rollout exit 3, anything else as [`EngineError::step`] classifies it.
    pub fn ecs(step: impl Into<String>, source: orchestrate_ecs::Error) -> Self {
        let exit_code = if source.is_timeout() {
            EXIT_TIMED_OUT
        } else if source.is_rollout_failure() {
            EXIT_DEPLOY_FAILED
        } else if let Some(aws) = source.aws() {
            // The ECS error is transparent over its AwsError: classify that directly.
            if is_local_failure(&aws.code) {
                EXIT_OTHER
            } else {
                EXIT_DEPLOY_FAILED
            }
        } else {
            classify(&source)
        };
        EngineError::Step {
            step: step.into(),
            source: Box::new(source),
            exit_code,
        }
    }
}

/// SDK failure kinds that mean "could not talk to AWS" rather than "AWS said no".
fn is_local_failure(code: &str) -> bool {
    matches!(
        code,
        "DispatchFailure" | "ConstructionFailure" | "Timeout" | "ResponseError"
    )
}

/// Walks an error's sources: an [`AwsError`] decides the code; a timeout anywhere is 4.
fn classify(err: &(dyn std::error::Error + 'static)) -> u8 {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(aws) = e.downcast_ref::<AwsError>() {
            return if is_local_failure(&aws.code) {
                EXIT_OTHER
            } else {
                EXIT_DEPLOY_FAILED
            };
        }
        if e.to_string().starts_with("timed out after") {
            return EXIT_TIMED_OUT;
        }
        current = e.source();
    }
    EXIT_DEPLOY_FAILED
}

impl<E: std::error::Error + Send + Sync + 'static> From<WaitError<E>> for EngineError {
    fn from(err: WaitError<E>) -> Self {
        match err {
            WaitError::TimedOut {
                what,
                waited,
                last_state,
            } => EngineError::TimedOut {
                what,
                waited,
                last_state,
            },
            WaitError::Failed { what, reason } => EngineError::Failed { what, reason },
            WaitError::Probe { what, source } => EngineError::step(format!("check {what}"), source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(code: &str) -> AwsError {
        AwsError {
            action: "create".into(),
            resource: "r".into(),
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn exit_codes_follow_the_readme() {
        assert_eq!(EngineError::Invalid(1).exit_code(), 2);
        assert_eq!(
            EngineError::Aws(aws("InvalidParameterValue")).exit_code(),
            3
        );
        assert_eq!(EngineError::Aws(aws("DispatchFailure")).exit_code(), 1);
        assert_eq!(
            EngineError::TimedOut {
                what: "x".into(),
                waited: Duration::ZERO,
                last_state: "s".into()
            }
            .exit_code(),
            4
        );
        assert_eq!(
            EngineError::Failed {
                what: "x".into(),
                reason: "r".into()
            }
            .exit_code(),
            3
        );
        assert_eq!(
            EngineError::step("converge", aws("InvalidParameterCombination")).exit_code(),
            3
        );
        let wait: WaitError<AwsError> = WaitError::TimedOut {
            what: "db".into(),
            waited: Duration::ZERO,
            last_state: "creating".into(),
        };
        assert_eq!(EngineError::step("wait", wait).exit_code(), 4);
        assert_eq!(EngineError::Other("x".into()).exit_code(), 1);
    }

    #[test]
    fn ecs_verdicts_have_their_own_exit_codes() {
        let timed_out = orchestrate_ecs::Error::TaskTimedOut {
            task: "t".into(),
            waited: Duration::ZERO,
            last_state: "RUNNING".into(),
        };
        assert_eq!(EngineError::ecs("wait", timed_out).exit_code(), 4);
        let failed =
            orchestrate_ecs::Error::RolloutFailed(Box::new(orchestrate_ecs::RolloutFailure {
                service: "demo-api-server".into(),
                expected_revision: "demo-api-server:2".into(),
                running_revision: Some("demo-api-server:1".into()),
                reason: "circuit breaker".into(),
                events: Vec::new(),
                stopped_tasks: Vec::new(),
                deployments: Vec::new(),
                notes: Vec::new(),
            }));
        let err = EngineError::ecs("roll out service demo-api-server", failed);
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("demo-api-server:1 (left running)"));
        let throttled = orchestrate_ecs::Error::DescribeServices(AwsError {
            action: "describe".into(),
            resource: "s".into(),
            code: "DispatchFailure".into(),
            message: "m".into(),
        });
        assert_eq!(EngineError::ecs("read", throttled).exit_code(), 1);
        assert_eq!(
            EngineError::ecs(
                "create",
                orchestrate_ecs::Error::CreateService(aws("InvalidParameterException"))
            )
            .exit_code(),
            3
        );
    }
}
