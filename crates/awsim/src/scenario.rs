//! The scenario: what the emulated AWS does over time, which failures it scripts and which
//! faults it injects. An empty scenario (`{}`) is a well-behaved AWS with realistic durations.

use serde::{Deserialize, Serialize};

/// A complete description of emulator behaviour. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Seed for every pseudo-random choice (fault draws, task ids). Same seed, same run.
    pub seed: u64,
    /// Real seconds per simulated second: 0.01 runs simulated time 100x faster than real time.
    pub time_scale: f64,
    /// How long things take, in simulated seconds.
    pub durations: Durations,
    /// Scripted failures of ECS service deployments.
    pub ecs_failures: Vec<EcsFailure>,
    /// Scripted outcomes of one-off tasks (RunTask).
    pub run_task: Vec<RunTaskScript>,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// A local OCI registry (`http://127.0.0.1:PORT`, e.g. a [`crate::registry::LocalRegistry`])
    /// that stands in for ECR: GetAuthorizationToken's `proxyEndpoint` points at it, and an ECS
    /// task whose ECR image does not resolve there for its `cpuArchitecture` stops like
    /// Fargate's (`CannotPullContainerError`, `TaskFailedToStart`). `None`: images are not
    /// checked (every task pulls).
    pub registry: Option<String>,
    /// Targets DescribeTargetHealth reports (of any target group) instead of moto's answer,
    /// which knows no ECS-registered target; empty: moto's answer.
    pub target_health: Vec<PlantedTarget>,
    /// What RDS and ElastiCache offer (engine versions, instance classes), answered by awsim
    /// where moto lacks the API ([`crate::catalog`]); override to make one "missing".
    pub catalog: crate::catalog::Catalog,
}

/// One target as DescribeTargetHealth reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PlantedTarget {
    /// Target id (an IP address for Fargate tasks).
    pub id: String,
    /// Target port.
    pub port: u16,
    /// `healthy`, `unhealthy`, `initial`, `draining`, `unused`, `unavailable`.
    pub state: String,
    /// `Target.FailedHealthChecks`, `Target.Timeout`, ...
    #[serde(default)]
    pub reason: Option<String>,
    /// ELB's description.
    #[serde(default)]
    pub description: Option<String>,
}

impl PlantedTarget {
    /// The DescribeTargetHealth answer listing `targets`.
    pub fn response(targets: &[PlantedTarget], request_id: &str) -> String {
        use crate::protocol::xml_escape as x;
        let mut members = String::new();
        for t in targets {
            let mut health = format!("<State>{}</State>", x(&t.state));
            if let Some(reason) = &t.reason {
                health.push_str(&format!("<Reason>{}</Reason>", x(reason)));
            }
            if let Some(description) = &t.description {
                health.push_str(&format!("<Description>{}</Description>", x(description)));
            }
            members.push_str(&format!(
                "<member><Target><Id>{}</Id><Port>{}</Port></Target>\
                 <HealthCheckPort>{}</HealthCheckPort><TargetHealth>{health}</TargetHealth></member>",
                x(&t.id),
                t.port,
                t.port
            ));
        }
        format!(
            "<DescribeTargetHealthResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
             <DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions>\
             </DescribeTargetHealthResult><ResponseMetadata><RequestId>{}</RequestId>\
             </ResponseMetadata></DescribeTargetHealthResponse>",
            x(request_id)
        )
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            seed: 0,
            time_scale: 1.0,
            durations: Durations::default(),
            ecs_failures: Vec::new(),
            run_task: Vec::new(),
            faults: Vec::new(),
            registry: None,
            target_health: Vec::new(),
            catalog: crate::catalog::Catalog::default(),
        }
    }
}

impl Scenario {
    /// Parses a scenario from JSON text.
    pub fn from_json(text: &str) -> crate::Result<Self> {
        Ok(serde_json::from_str(text)?)
    }

    /// Returns this scenario with another time scale.
    pub fn with_time_scale(mut self, time_scale: f64) -> Self {
        self.time_scale = time_scale;
        self
    }

    /// Returns this scenario with a local registry standing in for ECR (see [`Scenario::registry`]).
    pub fn with_registry(mut self, url: impl Into<String>) -> Self {
        self.registry = Some(url.into());
        self
    }

    /// Returns this scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The time scale, guarded against zero, negative and non-finite values.
    pub(crate) fn effective_time_scale(&self) -> f64 {
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        }
    }
}

/// Durations in simulated seconds. Defaults resemble what AWS takes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Durations {
    /// RDS instance: `creating` then `backing-up` (last 20 %) then `available`.
    pub rds_create: f64,
    /// RDS instance `deleting` before it is gone.
    pub rds_delete: f64,
    /// ElastiCache replication group `creating` before `available`.
    pub cache_create: f64,
    /// ElastiCache replication group `deleting` before it is gone.
    pub cache_delete: f64,
    /// NAT gateway `pending` before `available`.
    pub nat_create: f64,
    /// NAT gateway `deleting` before `deleted`.
    pub nat_delete: f64,
    /// ALB `provisioning` before `active`.
    pub alb_create: f64,
    /// ECS task PROVISIONING/PENDING before RUNNING (or before failing to start).
    pub task_start: f64,
    /// Delay between consecutive task starts within one launch (the ramp).
    pub task_stagger: f64,
    /// A task scripted to fail health checks is RUNNING this long before it is stopped.
    pub health_check_fail: f64,
    /// A task scripted to be OOM-killed is RUNNING this long before it is stopped.
    pub oom_after: f64,
    /// Old tasks draining (deregistration delay + stop) before a deployment completes.
    pub drain: f64,
    /// A one-off task RUNNING this long before it exits, unless its script says otherwise.
    pub run_task_duration: f64,
    /// A task being stopped (StopTask, scale-in) is STOPPING/DEACTIVATING this long.
    pub task_stop: f64,
    /// A service task's network interface stays attached this long after the task is
    /// STOPPED: its subnets and security groups cannot be deleted until then.
    pub eni_release: f64,
    /// ACM names a requested certificate's DNS-validation record this long after the request.
    pub acm_records: f64,
    /// ACM issues a DNS-validated certificate this long after its validation record was
    /// written in Route 53 (never, without the record).
    pub acm_validate: f64,
    /// A service deployment whose tasks all run healthy stays `IN_PROGRESS` this long (plus
    /// `drain` when old tasks are stopped) before `COMPLETED`: ECS's stabilization and the
    /// load balancer's health checks. 0 by default; the benchmark's realistic scenario
    /// (`scripts/bench-scenario.json`) sets it so that a rollout takes about three minutes.
    pub rollout_settle: f64,
}

impl Default for Durations {
    fn default() -> Self {
        Self {
            rds_create: 600.0,
            rds_delete: 300.0,
            cache_create: 480.0,
            cache_delete: 300.0,
            nat_create: 90.0,
            nat_delete: 60.0,
            alb_create: 150.0,
            task_start: 30.0,
            task_stagger: 2.0,
            health_check_fail: 60.0,
            oom_after: 20.0,
            drain: 30.0,
            run_task_duration: 60.0,
            task_stop: 10.0,
            eni_release: 60.0,
            acm_records: 5.0,
            acm_validate: 120.0,
            rollout_settle: 0.0,
        }
    }
}

/// How a scripted ECS task fails.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Never reaches RUNNING: "ResourceInitializationError: unable to pull secrets or registry auth".
    FailToStart,
    /// Reaches RUNNING, then fails container health checks and is stopped.
    FailHealthCheck,
    /// Reaches RUNNING, then its essential container is OOM-killed (exit code 137).
    Oom,
    /// Reaches RUNNING, then its essential container exits with `exit_code` (default 1).
    Exit,
}

/// A scripted ECS deployment failure. All given matchers must match; an entry without any
/// matcher matches every deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsFailure {
    /// Service name to match.
    #[serde(default)]
    pub service: Option<String>,
    /// Task-definition family to match.
    #[serde(default)]
    pub family: Option<String>,
    /// Task-definition revision to match (with `family`, "fam:3" deployments only).
    #[serde(default)]
    pub revision: Option<i64>,
    /// Substring of any container image of the task definition.
    #[serde(default)]
    pub image_contains: Option<String>,
    /// How tasks fail.
    pub kind: FailureKind,
    /// Overrides the task's stoppedReason.
    #[serde(default)]
    pub stopped_reason: Option<String>,
    /// Overrides the essential container's reason.
    #[serde(default)]
    pub container_reason: Option<String>,
    /// Overrides the essential container's exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// The scripted outcome of a one-off task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunTaskScript {
    /// Task-definition family to match.
    pub family: String,
    /// Only when some container override's command, joined by spaces, contains this.
    #[serde(default)]
    pub command_contains: Option<String>,
    /// Exit code of the essential container (default 0).
    #[serde(default)]
    pub exit_code: i32,
    /// Simulated seconds RUNNING before exiting (default: durations.run_task_duration).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Fail to start instead of running (exit code then absent).
    #[serde(default)]
    pub fail_to_start: bool,
    /// Overrides the stoppedReason.
    #[serde(default)]
    pub stopped_reason: Option<String>,
    /// Overrides the essential container's reason.
    #[serde(default)]
    pub container_reason: Option<String>,
}

/// What an injected fault does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The protocol's throttling error (ThrottlingException / RequestLimitExceeded / Throttling).
    Throttle,
    /// HTTP 500 in the protocol's error format (not applied).
    Http500,
    /// HTTP 503 in the protocol's error format (not applied).
    Http503,
    /// Added latency in milliseconds (real, not scaled) before forwarding.
    LatencyMs(u64),
    /// The request is applied by moto, then the connection is dropped before the response.
    LostResponse,
    /// An arbitrary AWS error answer in the service's own protocol format (not applied), for
    /// tests of "AWS rejects this configuration". JSON form:
    /// `{"error": {"code": "InvalidParameterCombination", "message": "...", "status": 400}}`.
    Error {
        /// HTTP status (default 400; 5xx makes a query-protocol error `Receiver`).
        #[serde(default = "bad_request")]
        status: u16,
        /// The AWS error code the SDK reports (`err.code()`).
        code: String,
        /// The error message the SDK reports (`err.message()`).
        #[serde(default)]
        message: String,
    },
}

fn bad_request() -> u16 {
    400
}

/// One fault rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Service signing name (`ecs`, `ec2`, `rds`, ...) or `*` for every service.
    pub service: String,
    /// Operation name (`CreateService`); absent matches every operation.
    #[serde(default)]
    pub operation: Option<String>,
    /// Only mutating (`true`) or only read (`false`) operations.
    #[serde(default)]
    pub mutating: Option<bool>,
    /// What happens.
    pub kind: FaultKind,
    /// Probability per matching call, 0..=1 (default 1).
    #[serde(default = "one")]
    pub rate: f64,
    /// Maximum number of times this rule fires (default unlimited).
    #[serde(default)]
    pub max_count: Option<u64>,
    /// Skip this many matching calls before the rule may fire (default 0).
    #[serde(default)]
    pub after: u64,
}

fn one() -> f64 {
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_scenario_is_default() {
        let s = Scenario::from_json("{}").expect("parse");
        assert_eq!(s, Scenario::default());
        assert_eq!(s.durations.rds_create, 600.0);
    }

    #[test]
    fn full_scenario_parses() {
        let s = Scenario::from_json(
            r#"{"seed":7,"time_scale":0.01,
                "durations":{"rds_create":60},
                "ecs_failures":[{"service":"web","kind":"fail_to_start"}],
                "run_task":[{"family":"migrate","exit_code":3}],
                "faults":[{"service":"ecs","operation":"DescribeServices","kind":"throttle","rate":0.5},
                          {"service":"*","kind":{"latency_ms":20}}]}"#,
        )
        .expect("parse");
        assert_eq!(s.durations.rds_create, 60.0);
        assert_eq!(s.durations.nat_create, 90.0);
        assert_eq!(s.faults[1].kind, FaultKind::LatencyMs(20));
        assert_eq!(s.faults[1].rate, 1.0);
        assert!(Scenario::from_json(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn error_fault_json_form() {
        let s = Scenario::from_json(
            r#"{"faults":[{"service":"rds","operation":"CreateDBInstance",
                "kind":{"error":{"code":"InvalidParameterCombination","message":"no"}}},
                {"service":"ecs","kind":{"error":{"code":"X","message":"m","status":409}}},
                {"service":"ecs","kind":"throttle"}]}"#,
        )
        .expect("parse");
        assert_eq!(
            s.faults[0].kind,
            FaultKind::Error {
                status: 400,
                code: "InvalidParameterCombination".into(),
                message: "no".into()
            }
        );
        assert!(matches!(
            s.faults[1].kind,
            FaultKind::Error { status: 409, .. }
        ));
        let back = serde_json::to_value(&s.faults[1].kind).expect("ser");
        assert_eq!(
            back,
            serde_json::json!({"error": {"status": 409, "code": "X", "message": "m"}})
        );
        assert_eq!(
            serde_json::to_value(&s.faults[2].kind).expect("ser"),
            serde_json::json!("throttle")
        );
        assert!(
            Scenario::from_json(r#"{"faults":[{"service":"ecs","kind":{"error":{}}}]}"#).is_err()
        );
    }
}
