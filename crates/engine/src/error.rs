//! The engine's error: every way a run can end badly. Its exit code comes from its
//! [`ErrorKind`] — one table ([`exit_code_for`]), one rule — and the kind comes from the
//! types inside (every crate's error implements [`Classify`]), never from message text.

use std::time::Duration;

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: anything unexpected (credentials, I/O, AWS unreachable, a bug).
pub const EXIT_OTHER: u8 = 1;
/// Exit code: invalid spec or usage, or another run holds the deployment's lease.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: the deploy failed (AWS refused a call, a task or a rollout failed).
pub const EXIT_DEPLOY_FAILED: u8 = 3;
/// Exit code: a wait ran past its deadline.
pub const EXIT_TIMED_OUT: u8 = 4;

/// The exit code of a failure of `kind` (the README's "Exit codes" table):
///
/// | kind | code |
/// |---|---|
/// | credentials, unreachable, not an AWS endpoint, I/O, internal | 1 |
/// | invalid spec or usage; another run holds the deployment's lease | 2 |
/// | AWS refused (validation, limits, access denied, not found, still throttled or failing after the SDK's retries), a failed rollout or task | 3 |
/// | one of our waits ran past its deadline | 4 |
pub fn exit_code_for(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Credentials
        | ErrorKind::Unreachable
        | ErrorKind::BadEndpoint
        | ErrorKind::Io
        | ErrorKind::Internal => EXIT_OTHER,
        ErrorKind::Invalid | ErrorKind::Busy => EXIT_INVALID,
        ErrorKind::Throttled
        | ErrorKind::Transient
        | ErrorKind::AccessDenied
        | ErrorKind::NotFound
        | ErrorKind::Refused
        | ErrorKind::Failed => EXIT_DEPLOY_FAILED,
        ErrorKind::TimedOut => EXIT_TIMED_OUT,
    }
}

/// What to do about a failure of `kind`, when the fix is the user's and not in the message.
pub fn hint_for(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::Credentials => Some(
            "check the AWS credentials: run `aws sso login` for an SSO profile, choose a profile \
             with `--profile NAME` (or AWS_PROFILE), or set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY",
        ),
        ErrorKind::Unreachable => Some(
            "check the network and the endpoint: `--endpoint-url` / AWS_ENDPOINT_URL must name a \
             reachable AWS API (unset it to use AWS itself), and `--region` a real region",
        ),
        ErrorKind::BadEndpoint => {
            Some("the endpoint is not an AWS API: fix or unset `--endpoint-url` / AWS_ENDPOINT_URL")
        }
        ErrorKind::Busy => Some(
            "one run at a time changes a deployment: wait for the other run; if it is gone for \
             good (its machine died), `--break-lock` takes its lease (up, teardown); a lease \
             also expires 15 minutes after its holder stopped renewing it",
        ),
        ErrorKind::AccessDenied => Some(
            "the credentials work but may not do this: use a profile with the permissions \
             orchestrate needs (`--profile NAME`)",
        ),
        _ => None,
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The spec could not be read or parsed.
    #[error(transparent)]
    Spec(#[from] orchestrate_core::spec::load::LoadError),
    /// The spec broke validation rules (already printed by the caller).
    #[error("the spec has {0} error(s); run `orchestrate validate` for details")]
    Invalid(usize),
    /// The command was refused before any change: a command line that asks for something
    /// that cannot be (a profile that does not exist), or a flag the user must add deliberately
    /// (`teardown all` without `--yes`, or with RDS deletion protection on and no `--force`).
    #[error("{0}")]
    Usage(String),
    /// `verify` found what the account cannot give the spec (an engine version, an instance
    /// class, a zone, a quota), before any change; each finding names the fix.
    #[error("{}", crate::verify::describe_failures(.0))]
    Unverified(Vec<crate::verify::Finding>),
    /// The lock file could not be read or written.
    #[error(transparent)]
    Lock(#[from] orchestrate_core::lock::LockError),
    /// AWS refused a call.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The first call of a run (STS GetCallerIdentity) failed: AWS cannot be used as
    /// configured (no or bad credentials, an unreachable or wrong endpoint).
    #[error("{summary}: {source}")]
    Connect {
        /// What is wrong, in one phrase (`no AWS credentials found`, ...).
        summary: String,
        /// The failed call.
        #[source]
        source: Box<AwsError>,
    },
    /// A resource step failed; `source` says how.
    #[error("{step}: {source}")]
    Step {
        /// What the engine was doing (`converge network`, `wait for RDS`, ...).
        step: String,
        /// The resource crate's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// The kind of `source`, read when the step was wrapped.
        kind: ErrorKind,
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

impl Classify for EngineError {
    fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Spec(_)
            | EngineError::Invalid(_)
            | EngineError::Usage(_)
            | EngineError::Unverified(_) => ErrorKind::Invalid,
            EngineError::Lock(_) => ErrorKind::Io,
            EngineError::Other(_) => ErrorKind::Internal,
            EngineError::Aws(e) => e.kind(),
            EngineError::Connect { source, .. } => source.kind(),
            EngineError::Failed { .. } => ErrorKind::Failed,
            EngineError::TimedOut { .. } => ErrorKind::TimedOut,
            EngineError::Step { kind, .. } => *kind,
        }
    }
}

impl EngineError {
    /// The process exit code for this error: [`exit_code_for`] its kind.
    pub fn exit_code(&self) -> u8 {
        exit_code_for(self.kind())
    }

    /// What the user can do about it, when the fix is theirs: [`hint_for`] its kind.
    pub fn hint(&self) -> Option<&'static str> {
        hint_for(self.kind())
    }

    /// Wraps a resource crate's error for `step`; its kind decides the exit code.
    pub fn step(
        step: impl Into<String>,
        source: impl std::error::Error + Classify + Send + Sync + 'static,
    ) -> Self {
        EngineError::Step {
            step: step.into(),
            kind: source.kind(),
            source: Box::new(source),
        }
    }

    /// Wraps an ECS error for `step` (the same rule as [`EngineError::step`]: a deadline that
    /// passed is exit 4, a failed or rolled-back rollout exit 3, an AWS error by its kind).
    pub fn ecs(step: impl Into<String>, source: orchestrate_ecs::Error) -> Self {
        Self::step(step, source)
    }

    /// The error of the first AWS call of a run (STS GetCallerIdentity against `endpoint`),
    /// phrased by what went wrong: no credentials, rejected credentials, an unreachable
    /// endpoint, or something that is not an AWS endpoint.
    pub fn connect(source: AwsError, endpoint: Option<&str>) -> Self {
        let at = endpoint.map_or_else(String::new, |e| format!(" at {e}"));
        let summary = match source.kind {
            ErrorKind::Credentials if source.code == "NoCredentials" => {
                "no AWS credentials found".to_string()
            }
            ErrorKind::Credentials => format!("AWS rejected the credentials ({})", source.code),
            ErrorKind::Unreachable => format!("could not reach AWS{at}"),
            ErrorKind::BadEndpoint => format!("the endpoint{at} is not an AWS API"),
            ErrorKind::AccessDenied => {
                "the credentials may not call STS GetCallerIdentity".to_string()
            }
            _ => format!("could not identify the AWS account{at}"),
        };
        EngineError::Connect {
            summary,
            source: Box::new(source),
        }
    }
}

impl<E: std::error::Error + Classify + Send + Sync + 'static> From<WaitError<E>> for EngineError {
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

/// `map_err` adapter: wraps a resource crate's error for `what` (see [`EngineError::step`]).
pub(crate) fn step<E: std::error::Error + Classify + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> EngineError {
    move |e| EngineError::step(what, e)
}

/// `map_err` adapter for the ECS crate's errors (see [`EngineError::ecs`]).
pub(crate) fn ecs_step(
    what: impl Into<String>,
) -> impl FnOnce(orchestrate_ecs::Error) -> EngineError {
    let what = what.into();
    move |e| EngineError::ecs(what, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(code: &str) -> AwsError {
        AwsError::new("describe", "r", code, "m")
    }

    fn with_kind(code: &str, kind: ErrorKind) -> AwsError {
        AwsError { kind, ..aws(code) }
    }

    /// Every kind, as the engine meets it: an AWS error inside a resource crate's error inside
    /// a step, a wait inside a crate error, or a crate's own verdict.
    #[test]
    fn exit_codes_of_wrapped_crate_errors_follow_the_readme() {
        let network = |e: AwsError| {
            EngineError::step(
                "converge the network",
                orchestrate_network::Error::CreateVpc(e),
            )
        };
        let cases: Vec<(&str, EngineError, ErrorKind, u8)> = vec![
            (
                "throttled",
                network(aws("RequestLimitExceeded")),
                ErrorKind::Throttled,
                3,
            ),
            (
                "5xx",
                network(aws("InternalError")),
                ErrorKind::Transient,
                3,
            ),
            (
                "unreachable",
                network(with_kind("DispatchFailure", ErrorKind::Unreachable)),
                ErrorKind::Unreachable,
                1,
            ),
            (
                "operation timeout",
                network(with_kind("Timeout", ErrorKind::Unreachable)),
                ErrorKind::Unreachable,
                1,
            ),
            (
                "bare 404",
                network(with_kind("HTTP404", ErrorKind::BadEndpoint)),
                ErrorKind::BadEndpoint,
                1,
            ),
            (
                "auth failure",
                network(aws("AuthFailure")),
                ErrorKind::Credentials,
                1,
            ),
            (
                "unrecognized client",
                EngineError::step(
                    "converge the RDS instance",
                    orchestrate_database::Error::DescribeInstance(aws(
                        "UnrecognizedClientException",
                    )),
                ),
                ErrorKind::Credentials,
                1,
            ),
            (
                "expired token",
                EngineError::step(
                    "converge the secrets",
                    orchestrate_secrets::Error::Describe(aws("ExpiredTokenException")),
                ),
                ErrorKind::Credentials,
                1,
            ),
            (
                "no credentials",
                network(with_kind("NoCredentials", ErrorKind::Credentials)),
                ErrorKind::Credentials,
                1,
            ),
            (
                "access denied",
                network(aws("UnauthorizedOperation")),
                ErrorKind::AccessDenied,
                3,
            ),
            (
                "access denied (json)",
                EngineError::step(
                    "converge the IAM roles",
                    orchestrate_iam::Error::CreateRole(aws("AccessDenied")),
                ),
                ErrorKind::AccessDenied,
                3,
            ),
            (
                "not found",
                network(aws("InvalidVpcID.NotFound")),
                ErrorKind::NotFound,
                3,
            ),
            (
                "refused",
                EngineError::step(
                    "converge the RDS instance",
                    orchestrate_database::Error::CreateInstance(aws("InvalidParameterCombination")),
                ),
                ErrorKind::Refused,
                3,
            ),
            (
                "crate verdict",
                EngineError::step(
                    "converge the network",
                    orchestrate_network::Error::Conflict {
                        kind: "ec2/subnet".into(),
                        name: "s".into(),
                        message: "m".into(),
                    },
                ),
                ErrorKind::Refused,
                3,
            ),
            (
                "wait timed out inside a crate error",
                EngineError::step(
                    "converge the RDS instance",
                    orchestrate_database::Error::NotAvailable {
                        name: "db".into(),
                        source: Box::new(WaitError::TimedOut {
                            what: "db".into(),
                            waited: Duration::ZERO,
                            last_state: "creating".into(),
                        }),
                    },
                ),
                ErrorKind::TimedOut,
                4,
            ),
            (
                "wait failed inside a crate error",
                EngineError::step(
                    "converge the Valkey replication group",
                    orchestrate_cache::Error::NotAvailable {
                        name: "c".into(),
                        source: Box::new(WaitError::Failed {
                            what: "c".into(),
                            reason: "create-failed".into(),
                        }),
                    },
                ),
                ErrorKind::Failed,
                3,
            ),
            (
                "probe unreachable inside a wait inside a crate error",
                EngineError::step(
                    "converge the network",
                    orchestrate_network::Error::Wait {
                        what: "nat".into(),
                        source: Box::new(WaitError::Probe {
                            what: "nat".into(),
                            source: orchestrate_network::Error::DescribeNatGateway(with_kind(
                                "DispatchFailure",
                                ErrorKind::Unreachable,
                            )),
                        }),
                    },
                ),
                ErrorKind::Unreachable,
                1,
            ),
            (
                "task timed out",
                EngineError::ecs(
                    "wait for the migration task",
                    orchestrate_ecs::Error::TaskTimedOut {
                        task: "t".into(),
                        waited: Duration::ZERO,
                        last_state: "RUNNING".into(),
                    },
                ),
                ErrorKind::TimedOut,
                4,
            ),
            (
                "ecs describe unreachable",
                EngineError::ecs(
                    "read",
                    orchestrate_ecs::Error::DescribeServices(with_kind(
                        "DispatchFailure",
                        ErrorKind::Unreachable,
                    )),
                ),
                ErrorKind::Unreachable,
                1,
            ),
            (
                "ecs create refused",
                EngineError::ecs(
                    "create",
                    orchestrate_ecs::Error::CreateService(aws("InvalidParameterException")),
                ),
                ErrorKind::Refused,
                3,
            ),
            (
                "connect: no credentials",
                EngineError::connect(with_kind("NoCredentials", ErrorKind::Credentials), None),
                ErrorKind::Credentials,
                1,
            ),
            (
                "invalid spec",
                EngineError::Invalid(1),
                ErrorKind::Invalid,
                2,
            ),
            (
                "usage",
                EngineError::Usage("no such profile".into()),
                ErrorKind::Invalid,
                2,
            ),
            (
                "lease held by another run",
                EngineError::step(
                    "take the deployment's lease",
                    orchestrate_secrets::Error::Held(Box::new(
                        orchestrate_secrets::lease::HeldBy {
                            secret: "orchestrate/demo/lease".into(),
                            holder: None,
                            since: None,
                            until: None,
                        },
                    )),
                ),
                ErrorKind::Busy,
                2,
            ),
            (
                "lease taken over while running",
                EngineError::step(
                    "hold the deployment's lease",
                    orchestrate_secrets::Error::Lost {
                        name: "orchestrate/demo/lease".into(),
                        by: None,
                    },
                ),
                ErrorKind::Busy,
                2,
            ),
            (
                "lease write throttled",
                EngineError::step(
                    "take the deployment's lease",
                    orchestrate_secrets::Error::Stage(aws("ThrottlingException")),
                ),
                ErrorKind::Throttled,
                3,
            ),
            (
                "internal",
                EngineError::Other("x".into()),
                ErrorKind::Internal,
                1,
            ),
            (
                "engine timeout",
                EngineError::TimedOut {
                    what: "x".into(),
                    waited: Duration::ZERO,
                    last_state: "s".into(),
                },
                ErrorKind::TimedOut,
                4,
            ),
            (
                "engine failure",
                EngineError::Failed {
                    what: "x".into(),
                    reason: "r".into(),
                },
                ErrorKind::Failed,
                3,
            ),
        ];
        for (name, err, kind, code) in cases {
            assert_eq!(err.kind(), kind, "{name}: {err}");
            assert_eq!(err.exit_code(), code, "{name}: {err}");
        }
    }

    /// A timeout is recognised by type, whatever its message says.
    #[test]
    fn timeouts_are_recognised_by_type_not_text() {
        let reworded = EngineError::step(
            "converge the IAM roles",
            orchestrate_iam::Error::NotVisible {
                role: "r".into(),
                source: Box::new(WaitError::TimedOut {
                    what: "role".into(),
                    waited: Duration::ZERO,
                    last_state: "x".into(),
                }),
            },
        );
        assert_eq!(reworded.exit_code(), 4);
        let says_timed_out = EngineError::step(
            "converge the network",
            orchestrate_network::Error::CreateVpc(aws("InvalidParameterValue")),
        );
        let text = EngineError::Step {
            step: "timed out after 3s".into(),
            source: Box::new(aws("InvalidParameterValue")),
            kind: says_timed_out.kind(),
        };
        assert_eq!(text.exit_code(), 3);
    }

    #[test]
    fn ecs_verdicts_have_their_own_exit_codes() {
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
    }

    #[test]
    fn hints_name_the_fix() {
        let no_creds =
            EngineError::connect(with_kind("NoCredentials", ErrorKind::Credentials), None);
        assert!(no_creds.to_string().starts_with("no AWS credentials found"));
        assert!(
            no_creds
                .hint()
                .is_some_and(|h| h.contains("aws sso login") && h.contains("--profile"))
        );
        let expired = EngineError::connect(aws("ExpiredToken"), None);
        assert!(
            expired
                .to_string()
                .starts_with("AWS rejected the credentials (ExpiredToken)")
        );
        let down = EngineError::connect(
            with_kind("DispatchFailure", ErrorKind::Unreachable),
            Some("http://127.0.0.1:9"),
        );
        assert!(
            down.to_string()
                .starts_with("could not reach AWS at http://127.0.0.1:9")
        );
        assert!(down.hint().is_some_and(|h| h.contains("AWS_ENDPOINT_URL")));
        let not_aws = EngineError::connect(
            with_kind("HTTP404", ErrorKind::BadEndpoint),
            Some("http://x"),
        );
        assert!(
            not_aws
                .to_string()
                .starts_with("the endpoint at http://x is not an AWS API")
        );
        assert!(EngineError::Invalid(1).hint().is_none());
    }
}
