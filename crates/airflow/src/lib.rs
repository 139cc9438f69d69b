//! orchestrate-airflow: the Airflow 3 component model. Pure: no AWS SDK, no I/O.
//!
//! Owns what each Airflow component runs on ECS Fargate and renders it as the exact body of
//! an ECS `RegisterTaskDefinition` request ([`TaskDefinition`], camelCase as AWS's API model
//! spells it): command, environment, secret references, ports, health checks, log
//! configuration, the git-sync v4 sidecar, CPU/memory/architecture. The ECS crate registers
//! what this crate renders; `orchestrate render task-definitions` prints it.
//!
//! - [`Component`]: api-server, scheduler, dag-processor, triggerer, Celery worker and the
//!   one-off migration task (`airflow db migrate`, then the FAB admin user).
//! - [`Wiring`]: every value earlier phases produce (role and secret ARNs, log groups, image
//!   URIs, the Cloud Map namespace, the ALB's DNS name). Unknown values are
//!   [`Ref::Placeholder`]s rendered as `<pending: ...>`.
//! - [`task_definition`] / [`render_all`] / [`to_json`]: the rendering.
//! - [`compose`]: the docker-compose equivalent of the deployment (`orchestrate render compose`).
//! - [`diff_fields`] / [`normalise`]: whether a rendered definition equals the active revision
//!   AWS describes, so the ECS crate registers nothing when nothing changed.
//!
//! Every environment variable, secret and health check, and the pitfall each avoids, is
//! explained in `docs/airflow.md`. The references are Airflow 3's official docker-compose
//! file and Helm chart.
//!
//! # Guarantees
//! - Deterministic: the same [`Spec`](orchestrate_core::Spec) and [`Wiring`] render the same
//!   JSON, byte for byte (environment and secrets sorted by name, tags by key).
//! - No secret value ever passes through this crate: secrets are referenced by ARN in
//!   `secrets[].valueFrom`, and no variable that [`is_secret_name`] names is ever put in
//!   `environment`, whatever the user's `[airflow].environment` says.
//! - The Fernet key, JWT secret, API secret key and execution API URL are referenced
//!   identically by every component.
//! - A definition containing a placeholder is detectable ([`has_placeholders`]) and must not
//!   be registered.
//!
//! # Finding, waiting, retrying
//! This crate finds nothing, waits on nothing and calls no AWS API, so it retries nothing;
//! the ECS crate finds task definitions by family (`<deployment>-<component>`) and compares
//! with [`diff_fields`].
//!
//! # Errors
//! Rendering cannot fail. [`diff_fields`] and [`normalise`] fail with
//! [`Error::NotATaskDefinition`] when handed JSON that is not a task definition.

pub mod component;
pub mod compose;
pub mod diff;
pub mod environment;
pub mod git_sync;
pub mod model;
pub mod render;
pub mod wiring;

pub use component::Component;
pub use diff::{diff_fields, normalise};
pub use environment::{AIRFLOW_SECRETS, is_secret_name};
pub use model::TaskDefinition;
pub use render::{has_placeholders, placeholders, render_all, task_definition, to_json};
pub use wiring::{Ref, SecretKey, SecretRefs, Wiring};

/// What can fail in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON handed to [`diff_fields`] or [`normalise`] is not a task definition.
    #[error(
        "failed to compare task definitions: the described revision is not a task definition ({reason})"
    )]
    NotATaskDefinition {
        /// What is wrong with it.
        reason: String,
    },
}
