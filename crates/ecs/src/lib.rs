//! orchestrate-ecs: the deployment's ECS cluster, task definitions, services, one-off tasks
//! and the worker's Application Auto Scaling (phases 2-5).
//!
//! Owns:
//! - [`cluster`]: the cluster `<name>` (FARGATE + FARGATE_SPOT, default strategy FARGATE,
//!   Container Insights on), kind `ecs/cluster`;
//! - [`taskdef`]: one task definition family per Airflow component, registered from the
//!   airflow crate's rendered RegisterTaskDefinition JSON, kind `ecs/task-definition`;
//! - [`service`]: one service per long-running component (`<name>-api-server`, ...), kind
//!   `ecs/service`; [`rollout`] waits for a rollout and tells a rollback from a success;
//! - [`task`]: the one-off migration task;
//! - [`autoscaling`]: the worker's scalable target and its CPU and memory target-tracking
//!   policies, kinds `application-autoscaling/scalable-target` and `.../scaling-policy`;
//! - [`status`]: batched service status for `orchestrate status`;
//! - [`operate`]: day-2 reads and actions (a component's tasks, the revision a rollback goes
//!   back to, pointing a service at a revision, ECS Exec sessions).
//!
//! # Guarantees
//! - Every resource is found by its deterministic name from [`orchestrate_core::Names`]
//!   (ECS names clusters, services, families; Application Auto Scaling identifies a target by
//!   `service/<cluster>/<service>`). ECS's `failures[].reason == "MISSING"` and an INACTIVE
//!   cluster or service are "absent" (`Ok(None)`), never errors.
//! - Every create carries its tags (CreateCluster, CreateService, RegisterTaskDefinition,
//!   RegisterScalableTarget, RunTask). Tags are not re-applied to an adopted resource.
//! - `ensure` makes no mutating call when nothing differs: a task definition is registered
//!   only when the rendered request differs from the family's active revision after
//!   [`taskdef::normalize`]; UpdateService carries only the drifted fields; a worker's
//!   `desiredCount` belongs to autoscaling once the service exists.
//! - A rollout succeeds only when the PRIMARY deployment runs the expected revision, is
//!   COMPLETED, runs all desired tasks and is the only deployment. A service "stable" on an
//!   older revision after a circuit-breaker rollback is [`Error::RolloutFailed`]; the
//!   rolled-back revision is left running.
//! - Deletes are idempotent: "not found", "not active" and a missing cluster are success.
//!
//! # Waits
//! - [`rollout::wait_rollout`]: DescribeServices with backoff until the deadline the engine
//!   gives (health-check grace + margin), streaming each new service event; on timeout
//!   [`Error::RolloutTimedOut`] with the last deployments seen.
//! - [`task::wait_task_stopped`]: DescribeTasks until STOPPED or the engine's deadline.
//! - A cluster created PROVISIONING: up to 120 s; a DRAINING service of the same name before
//!   recreating it: up to 10 min. All deadlines and intervals scale with
//!   [`orchestrate_core::Timing`].
//!
//! # Retries
//! Throttling, 5xx and timeouts are the SDK's retry policy's job. This crate retries, with
//! [`orchestrate_aws::retry_eventual`] (about 80 s at most), only eventual consistency:
//! a `ClientException`/`InvalidParameterException` saying a role is not valid or cannot be
//! assumed (a role IAM has not propagated yet, or the ECS service-linked role of a new
//! account) on RegisterTaskDefinition, CreateCluster, CreateService and RunTask, and a target
//! group "does not have an associated load balancer" on CreateService.
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`]. [`Error::is_rollout_failure`] (exit 3) and
//! [`Error::is_timeout`] (exit 4) classify the verdicts.

pub mod autoscaling;
pub mod cluster;
mod error;
pub mod operate;
pub mod rollout;
pub mod service;
pub mod status;
pub mod task;
pub mod taskdef;
mod util;

pub use autoscaling::{AutoscalingDesired, AutoscalingOutputs};
pub use aws_sdk_applicationautoscaling::Client as AutoscalingClient;
pub use aws_sdk_ecs::Client as EcsClient;
pub use cluster::{ClusterDesired, ClusterOutputs, StrategyItem};
pub use error::{Error, Result};
pub use rollout::{RolloutFailure, RolloutTimeout, is_rolled_out, wait_rollout};
pub use service::{
    DeploymentAlarms, LoadBalancerAttachment, ServiceDesired, ServiceNetwork, ServiceObserved,
    ServiceOutputs,
};
pub use status::{ServiceStatus, describe_services};
pub use task::{OneOffTask, TaskOutcome, log_stream_name, run_task, wait_task_stopped};
pub use taskdef::{Registered, register_if_changed};
pub use taskdef::{TAG_MIGRATION, TAG_TASK_DEFINITION, digest, recorded_for, stamp};
pub use util::{UNKNOWN, arn_tail, revision_label};

#[cfg(test)]
mod tests;
