//! The catalog of failure signatures `orchestrate doctor` knows: data, one entry per
//! signature (id, where to look, patterns, what it means, the fix). Adding a signature is
//! one entry here and one test in `tests` below.
//!
//! A pattern matches a piece of evidence when every one of its `&&`-separated parts occurs in
//! it, ignoring case. In `meaning` and `fix`, `{component}` is replaced by the component the
//! evidence came from and `{name}` by the deployment's name.

/// Where a piece of evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A stopped task: its stop reason, stop code, and each container's exit code and reason.
    StoppedTask,
    /// A service event.
    ServiceEvent,
    /// A service deployment's rollout state and reason.
    Rollout,
    /// A load-balancer target's health (the api-server).
    TargetHealth,
    /// A line of a task's CloudWatch log stream.
    Log,
}

impl Source {
    /// How the source is named in a finding.
    pub fn label(self) -> &'static str {
        match self {
            Source::StoppedTask => "stopped task",
            Source::ServiceEvent => "service event",
            Source::Rollout => "rollout",
            Source::TargetHealth => "target health",
            Source::Log => "log",
        }
    }
}

/// One known failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// Stable id (`oom`, `jwt-secret`, ...).
    pub id: &'static str,
    /// Where to look.
    pub sources: &'static [Source],
    /// Any of these matches (parts joined by `&&` must all occur; case-insensitive).
    pub patterns: &'static [&'static str],
    /// What it means.
    pub meaning: &'static str,
    /// What to do.
    pub fix: &'static str,
}

impl Signature {
    /// True when `text` (evidence from `source`) shows this signature.
    pub fn matches(&self, source: Source, text: &str) -> bool {
        if !self.sources.contains(&source) {
            return false;
        }
        let text = text.to_lowercase();
        self.patterns.iter().any(|pattern| {
            pattern
                .split("&&")
                .all(|part| text.contains(&part.trim().to_lowercase()))
        })
    }
}

/// Every signature, most specific first.
pub const CATALOG: &[Signature] = &[
    Signature {
        id: "oom",
        sources: &[Source::StoppedTask, Source::Log],
        patterns: &[
            "OutOfMemoryError",
            "OOMKilled",
            "Essential container in task exited&&exit code 137",
        ],
        meaning: "the {component} container was killed for using more memory than its task has \
                  (exit code 137 without a failed health check)",
        fix: "give it more memory: raise `[components.{component}].memory` (with a CPU Fargate \
              pairs it with; `orchestrate validate` lists them), then `orchestrate up`",
    },
    Signature {
        id: "secrets-not-injected",
        sources: &[Source::StoppedTask],
        patterns: &[
            "ResourceInitializationError",
            "unable to pull secrets",
            "GetSecretValue&&AccessDenied",
        ],
        meaning: "ECS could not read the task's secrets from Secrets Manager before starting it, \
                  so the {component} container never ran",
        fix: "run `orchestrate up --phase 1`: it restores the execution role's \
              secretsmanager:GetSecretValue on `orchestrate/{name}/*` and any secret scheduled \
              for deletion; the private subnets also need their route to the NAT gateway (or a \
              Secrets Manager VPC endpoint)",
    },
    Signature {
        id: "database-auth",
        sources: &[Source::Log],
        patterns: &[
            "password authentication failed",
            "Could not parse SQLAlchemy URL",
            "Could not parse rfc1738 URL",
            "invalid literal for int() with base 10",
            "no password supplied",
        ],
        meaning: "Airflow reached PostgreSQL but its metadata database URL is wrong: a password \
                  the database rejects, or a URL that does not parse (an unencoded special \
                  character in the password)",
        fix: "the `orchestrate/{name}/sql-alchemy-conn` secret must be \
              `postgresql+psycopg2://user:password@host:5432/db` with the password URL-encoded; \
              `orchestrate up --phase 1` rewrites the derived URLs from the stored credentials",
    },
    Signature {
        id: "database-unreachable",
        sources: &[Source::Log],
        patterns: &[
            "could not connect to server",
            "connection to server at&&failed",
            "Connection timed out&&5432",
            "Is the server running on that host",
            "timeout expired&&OperationalError",
        ],
        meaning: "the {component} container cannot open a connection to the RDS instance",
        fix: "the database's security group must admit the components' group on 5432 \
              (`orchestrate plan --phase 1` shows drift) and the instance must be `available` \
              (`orchestrate status`)",
    },
    Signature {
        id: "health-check-start-up",
        sources: &[
            Source::StoppedTask,
            Source::ServiceEvent,
            Source::TargetHealth,
        ],
        patterns: &[
            "Task failed container health checks",
            "failed ELB health checks",
            "Target.FailedHealthChecks",
            "Target.Timeout",
            "Target.ResponseCodeMismatch",
        ],
        meaning: "{component} tasks were stopped for failing health checks, usually because they \
                  were still starting (migrations, DAG parsing, provider imports) when the checks \
                  began to count",
        fix: "raise `[components.{component}].health_check_grace_seconds` (ECS ignores both \
              container and load-balancer checks during it; a container check's own startPeriod \
              stops at 300 s), then `orchestrate up`",
    },
    Signature {
        id: "worker-cannot-reach-api-server",
        sources: &[Source::Log],
        patterns: &[
            "/execution/&&Connection refused",
            "/execution/&&ConnectError",
            "api-server.&&Name or service not known",
            "api-server.&&Temporary failure in name resolution",
            "execution_api_server_url",
        ],
        meaning: "{component} cannot call the api-server's execution API, so task instances stay \
                  queued or fail",
        fix: "`AIRFLOW__CORE__EXECUTION_API_SERVER_URL` must be \
              `http://api-server.<namespace>:8080/execution/` (orchestrate renders it; remove any \
              override), the api-server's security group must admit the components' group on \
              8080, and the api-server must be registered in Cloud Map (`orchestrate status`)",
    },
    Signature {
        id: "jwt-secret",
        sources: &[Source::Log],
        patterns: &[
            "Signature verification failed",
            "jwt_secret must be set",
            "Invalid auth token",
        ],
        meaning: "the JWT secret is missing, or differs between the component that signs task \
                  tokens and the api-server that checks them",
        fix: "every component must read the same `orchestrate/{name}/jwt-secret`: run \
              `orchestrate up` so every service runs a revision of this spec, and never change \
              the secret without redeploying all of them",
    },
    Signature {
        id: "dag-folder",
        sources: &[Source::Log],
        patterns: &[
            "Permission denied&&/opt/airflow/dags",
            "Read-only file system",
            "fatal: Authentication failed for",
            "could not read Username",
            "Host key verification failed",
            "git-sync&&permission denied",
        ],
        meaning: "the DAG folder is not usable: git-sync cannot fetch the repository (credentials, \
                  host key) or the shared volume is not writable",
        fix: "check `[git_sync].repo`, `ref` and `credentials_secret_arn` (the secret must hold \
              the username/password or SSH key git-sync expects); git-sync writes `/git` as root \
              on the task volume and Airflow reads it as its own user",
    },
    Signature {
        id: "image-pull",
        sources: &[Source::StoppedTask],
        patterns: &[
            "CannotPullContainerError",
            "pull image manifest",
            "manifest unknown",
        ],
        meaning: "Fargate could not pull the {component} task's image (missing tag, missing \
                  platform, or no route to the registry)",
        fix: "`orchestrate images check` names the missing image or platform; `orchestrate images \
              sync` copies the pinned upstream images into ECR; push your own image for every \
              architecture its tasks run on",
    },
    Signature {
        id: "architecture-mismatch",
        sources: &[Source::StoppedTask, Source::Log],
        patterns: &["exec format error"],
        meaning: "the image has no build for the task's CPU architecture (ARM64 by default, \
                  X86_64 for Spot workers)",
        fix: "push a multi-architecture image, or set `[image].architecture` / \
              `[components.{component}].architecture` to the image's, then `orchestrate up`",
    },
    Signature {
        id: "circuit-breaker",
        sources: &[Source::Rollout, Source::ServiceEvent],
        patterns: &[
            "rolloutState FAILED",
            "circuit breaker",
            "deployment failed",
            "rolling back to deployment",
        ],
        meaning: "the deployment circuit breaker stopped a deployment of {component} whose tasks kept \
                  failing, and rolled the service back to its previous revision",
        fix: "the other findings for {component} say why its tasks failed: fix that and run \
              `orchestrate up`, or stay on the previous revision with `orchestrate rollback \
              {component}`",
    },
    Signature {
        id: "spot-interruption",
        sources: &[Source::StoppedTask],
        patterns: &["SpotInterruption", "Spot Task was interrupted"],
        meaning: "Fargate Spot took the capacity of {component} tasks back (two minutes' notice)",
        fix: "Celery retries the task instances that were running; for fewer interruptions raise \
              `[components.worker].on_demand_base` (tasks on FARGATE below it, Spot above)",
    },
    Signature {
        id: "task-role-permission",
        sources: &[Source::Log],
        patterns: &[
            "AccessDenied&&is not authorized to perform",
            "AccessDeniedException",
            "UnauthorizedOperation",
        ],
        meaning: "code in a {component} task called AWS with the task role `{name}-ecs-task`, which \
                  lacks the permission named in the evidence",
        fix: "attach a policy granting that action on that resource to the role `{name}-ecs-task` \
              (orchestrate manages only its own inline policy and leaves other policies alone)",
    },
];

/// The signature with `id`.
pub fn signature(id: &str) -> Option<&'static Signature> {
    CATALOG.iter().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one signature `text` from `source` matches (exactly one, and that one).
    fn only(source: Source, text: &str) -> Vec<&'static str> {
        CATALOG
            .iter()
            .filter(|s| s.matches(source, text))
            .map(|s| s.id)
            .collect()
    }

    #[test]
    fn ids_are_unique_and_every_entry_is_complete() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        for s in CATALOG {
            assert!(!s.sources.is_empty() && !s.patterns.is_empty(), "{}", s.id);
            assert!(!s.meaning.is_empty() && s.fix.contains('`'), "{}", s.id);
        }
    }

    #[test]
    fn oom() {
        assert_eq!(
            only(
                Source::StoppedTask,
                "stopped: Essential container in task exited (EssentialContainerExited); container worker exit code 137: OutOfMemoryError: Container killed due to memory usage"
            ),
            vec!["oom"]
        );
    }

    #[test]
    fn secrets_not_injected() {
        assert_eq!(
            only(
                Source::StoppedTask,
                "stopped: ResourceInitializationError: unable to pull secrets or registry auth: AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue"
            ),
            vec!["secrets-not-injected"]
        );
    }

    #[test]
    fn database_auth() {
        assert_eq!(
            only(
                Source::Log,
                "sqlalchemy.exc.OperationalError: FATAL:  password authentication failed for user \"airflow\""
            ),
            vec!["database-auth"]
        );
        assert_eq!(
            only(
                Source::Log,
                "sqlalchemy.exc.ArgumentError: Could not parse SQLAlchemy URL from string"
            ),
            vec!["database-auth"]
        );
    }

    #[test]
    fn database_unreachable() {
        assert_eq!(
            only(
                Source::Log,
                "connection to server at \"e2e.abc.rds.amazonaws.com\" (10.0.3.4), port 5432 failed: Connection timed out"
            ),
            vec!["database-unreachable"]
        );
    }

    #[test]
    fn health_check_start_up() {
        assert_eq!(
            only(
                Source::StoppedTask,
                "stopped: Task failed container health checks (ServiceSchedulerInitiated); container scheduler exit code 137"
            ),
            vec!["health-check-start-up"]
        );
        assert_eq!(
            only(
                Source::TargetHealth,
                "10.0.1.5:8080 unhealthy: Target.FailedHealthChecks"
            ),
            vec!["health-check-start-up"]
        );
    }

    #[test]
    fn worker_cannot_reach_api_server() {
        assert_eq!(
            only(
                Source::Log,
                "httpx.ConnectError: [Errno -2] Name or service not known: http://api-server.e2e.local:8080/execution/"
            ),
            vec!["worker-cannot-reach-api-server"]
        );
    }

    #[test]
    fn jwt_secret() {
        assert_eq!(
            only(
                Source::Log,
                "Invalid auth token: Signature verification failed"
            ),
            vec!["jwt-secret"]
        );
        assert_eq!(
            only(Source::Log, "ValueError: jwt_secret must be set"),
            vec!["jwt-secret"]
        );
    }

    #[test]
    fn dag_folder() {
        assert_eq!(
            only(
                Source::Log,
                "PermissionError: [Errno 13] Permission denied: '/opt/airflow/dags/repo'"
            ),
            vec!["dag-folder"]
        );
        assert_eq!(
            only(
                Source::Log,
                "fatal: Authentication failed for 'https://github.com/example-org/airflow-dags.git/'"
            ),
            vec!["dag-folder"]
        );
    }

    #[test]
    fn image_pull() {
        assert_eq!(
            only(
                Source::StoppedTask,
                "stopped: CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref x: not found"
            ),
            vec!["image-pull"]
        );
    }

    #[test]
    fn architecture_mismatch() {
        assert_eq!(
            only(Source::Log, "exec /usr/bin/dumb-init: exec format error"),
            vec!["architecture-mismatch"]
        );
    }

    #[test]
    fn circuit_breaker() {
        assert_eq!(
            only(
                Source::ServiceEvent,
                "(service e2e-worker) (deployment ecs-svc/1) deployment failed: tasks failed to start."
            ),
            vec!["circuit-breaker"]
        );
        assert_eq!(
            only(
                Source::Rollout,
                "deployment ecs-svc/1 of e2e-worker:2: rolloutState FAILED: tasks failed to start"
            ),
            vec!["circuit-breaker"]
        );
    }

    #[test]
    fn spot_interruption() {
        assert_eq!(
            only(
                Source::StoppedTask,
                "stopped: Your Spot Task was interrupted. (SpotInterruption)"
            ),
            vec!["spot-interruption"]
        );
    }

    #[test]
    fn task_role_permission() {
        assert_eq!(
            only(
                Source::Log,
                "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the PutObject operation: User: arn:aws:sts::1:assumed-role/e2e-ecs-task/x is not authorized to perform: s3:PutObject"
            ),
            vec!["task-role-permission"]
        );
    }

    #[test]
    fn healthy_evidence_matches_nothing() {
        for (source, text) in [
            (
                Source::ServiceEvent,
                "(service e2e-worker) has reached a steady state.",
            ),
            (
                Source::ServiceEvent,
                "(service e2e-worker) has started 1 tasks: (task abc).",
            ),
            (
                Source::Rollout,
                "deployment ecs-svc/1 of e2e-worker:1: rolloutState COMPLETED",
            ),
            (
                Source::StoppedTask,
                "stopped: Essential container in task exited (EssentialContainerExited); container migration exit code 0",
            ),
            (Source::Log, "INFO - Starting the scheduler"),
            (Source::TargetHealth, "10.0.1.5:8080 healthy"),
        ] {
            assert_eq!(only(source, text), Vec::<&str>::new(), "{text}");
        }
    }
}
