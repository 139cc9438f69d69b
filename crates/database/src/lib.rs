//! orchestrate-database: the deployment's RDS PostgreSQL metadata database.
//!
//! Owns two resources:
//! - the DB subnet group `<name>-database` ([`orchestrate_core::Names::subnet_group`]) over the
//!   private subnets passed in;
//! - the DB instance `<name>-metadata` ([`orchestrate_core::Names::db_instance`]): engine
//!   `postgres`, gp3 storage, encrypted at rest, never publicly accessible, only the database
//!   security group passed in, tags copied to snapshots, automatic minor upgrades on,
//!   Performance Insights off.
//!
//! Both are found by their deterministic name (DescribeDBSubnetGroups /
//! DescribeDBInstances; `*NotFound*` is `Ok(None)`) and created with their tags in the create
//! call (`orchestrate:component` = `database/subnet-group` / `database/instance`).
//!
//! # Guarantees
//! - [`ensure`] makes no mutating call when nothing differs. Drift of the instance class,
//!   allocated storage (growth only), backup retention, deletion protection, Multi-AZ, engine
//!   version (upgrades only; `AllowMajorVersionUpgrade` only when the major changes), security
//!   groups and public accessibility is corrected by one ModifyDBInstance with
//!   `ApplyImmediately` that carries only the drifted fields. A smaller storage in the spec is
//!   refused with [`Error::StorageDecrease`] before any mutating call.
//! - The master password is sent on create only: it is never compared, changed, logged or
//!   shown (the secrets crate generates it once and owns it). The desired state's `Debug`
//!   prints it as `(sensitive)`.
//! - A create whose response was lost is adopted (`DBInstanceAlreadyExists`,
//!   `DBSubnetGroupAlreadyExists`), never duplicated: the name is unique per account and region.
//! - An instance found `deleting` is not adopted: [`Error::BeingDeleted`].
//! - [`ensure`] reads the instance first; when its description embeds the subnet group with
//!   the desired name and subnets, the group is not read again (one DescribeDBInstances for a
//!   converged database that is available).
//! - The endpoint host is RDS's `Endpoint.Address`, a DNS name (never an IP literal).
//! - [`delete`] is idempotent: "never created" and "already gone" are success.
//!
//! - [`catalog`] reads what RDS offers in the region (engine versions, orderable instance
//!   classes) for `orchestrate verify`; read-only.
//!
//! # Waits
//! - [`wait_available`] polls DescribeDBInstances until `available`, for at most 40 minutes
//!   scaled by [`orchestrate_core::Timing`], reporting each new state; failed states
//!   (`failed`, `incompatible-*`, `storage-full`, `inaccessible-encryption-credentials`) end
//!   the wait at once with a hint. Not-found is tolerated for the first minute after create.
//! - [`delete`] waits (40 minutes, scaled) until the instance is gone, then deletes the subnet
//!   group.
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`] naming the action, the resource and AWS's error code (e.g.
//! `InvalidParameterCombination` for an instance class the engine version does not offer),
//! with secrets redacted. Retried here, with a bounded budget: `DBInstanceNotFound` /
//! `DBSubnetGroupNotFoundFault` right after AWS said the resource exists (eventual
//! consistency), and `InvalidDBSubnetGroupStateFault` when deleting a subnet group whose
//! instance is just gone. Throttling and 5xx are the SDK's retry policy's job.

pub mod catalog;
mod error;
pub mod instance;
pub mod lifecycle;
pub mod subnet_group;

pub use aws_sdk_rds::Client;
pub use error::{Error, Result};
pub use instance::{InstanceDesired, InstanceObserved};
pub use lifecycle::{delete_instance, wait_available};
pub use subnet_group::{SubnetGroupDesired, SubnetGroupObserved};

use orchestrate_core::names::Names;
use orchestrate_core::sensitive::DbEndpoint;
use orchestrate_core::{Change, Context, Phase, Readiness, ReporterExt, Sensitive, Spec, Tags};

/// The subnet group kind passed to [`Names::subnet_group`].
pub const SUBNET_GROUP_KIND: &str = "database";

/// Both resources of the metadata database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseDesired {
    /// The DB subnet group.
    pub subnet_group: SubnetGroupDesired,
    /// The DB instance.
    pub instance: InstanceDesired,
}

impl DatabaseDesired {
    /// Both resources from the spec and the outputs of earlier resources (pure): the private
    /// subnet ids, the database security group and the master password (from the secrets
    /// crate). Names and tags derive from `spec.deployment` exactly as
    /// [`Context::tags`] does for a context built from the same spec.
    pub fn from_spec(
        spec: &Spec,
        private_subnet_ids: &[String],
        security_group_id: &str,
        password: Sensitive,
    ) -> Self {
        let deployment = spec.deployment.name.as_str();
        let names = Names::new(deployment);
        let tags = |component: &str, name: &str| {
            Tags::new(deployment, component, Phase::Storage, &spec.deployment.tags)
                .with("Name", name)
        };
        let group_name = names.subnet_group(SUBNET_GROUP_KIND);
        let identifier = names.db_instance();
        Self {
            subnet_group: SubnetGroupDesired::new(
                &group_name,
                deployment,
                private_subnet_ids,
                tags(subnet_group::COMPONENT, &group_name),
            ),
            instance: InstanceDesired::new(
                &identifier,
                &spec.database,
                &group_name,
                security_group_id,
                password,
                tags(instance::COMPONENT, &identifier),
            ),
        }
    }
}

/// What later phases need of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOutputs {
    /// Host (RDS endpoint DNS name), port and database name.
    pub endpoint: DbEndpoint,
    /// The instance ARN.
    pub arn: String,
    /// The instance identifier.
    pub identifier: String,
}

/// What AWS has of the database now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseObserved {
    /// The subnet group, if it exists.
    pub subnet_group: Option<SubnetGroupObserved>,
    /// The instance, if it exists.
    pub instance: Option<InstanceObserved>,
}

/// Finds both resources by their deterministic names.
///
/// # Errors
/// [`Error::DescribeSubnetGroup`], [`Error::DescribeInstance`].
pub async fn find(client: &Client, desired: &DatabaseDesired) -> Result<DatabaseObserved> {
    let (subnet_group, instance) = tokio::try_join!(
        subnet_group::find(client, &desired.subnet_group.name),
        instance::find(client, &desired.instance.identifier),
    )?;
    Ok(DatabaseObserved {
        subnet_group,
        instance,
    })
}

/// The plan for both resources (pure): subnet group, then instance. The password never
/// appears.
pub fn diff(desired: &DatabaseDesired, observed: &DatabaseObserved) -> Vec<Change> {
    vec![
        subnet_group::diff(&desired.subnet_group, observed.subnet_group.as_ref()),
        instance::diff(&desired.instance, observed.instance.as_ref()),
    ]
}

/// Converges the subnet group and the instance, then waits until the instance is available
/// (see [`wait_available`]) and returns its endpoint.
///
/// # Errors
/// Any step's [`Error`]; AWS's rejection of a configuration surfaces as
/// [`Error::CreateInstance`] / [`Error::ModifyInstance`] with AWS's code.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &DatabaseDesired,
) -> Result<DatabaseOutputs> {
    ensure_seen(client, cx, desired, None).await
}

/// [`ensure`], starting from `seen` — the instance as the caller read it
/// ([`instance::find`]), knowing nothing changed it since — instead of reading it.
///
/// # Errors
/// As [`ensure`].
pub async fn ensure_seen(
    client: &Client,
    cx: &Context,
    desired: &DatabaseDesired,
    seen: Option<Option<instance::InstanceObserved>>,
) -> Result<DatabaseOutputs> {
    // The instance first: its description embeds its subnet group, so a converged group
    // needs no read of its own.
    let found = match seen {
        Some(found) => found,
        None => instance::find(client, &desired.instance.identifier).await?,
    };
    let group = &desired.subnet_group;
    let group_converged = found
        .as_ref()
        .and_then(|o| o.subnet_group.as_ref())
        .is_some_and(|(name, subnets)| *name == group.name && *subnets == group.subnet_ids);
    if group_converged {
        cx.reporter.ready(subnet_group::KIND, &group.name);
    } else {
        subnet_group::ensure(client, cx, group).await?;
    }
    // Nothing to change and already available: its endpoint is in what was just read.
    if let Some(observed) = instance::converge_found(client, cx, &desired.instance, found).await?
        && observed.status == lifecycle::STATUS_AVAILABLE
    {
        cx.reporter
            .ready(instance::KIND, &desired.instance.identifier);
        return lifecycle::outputs(&observed);
    }
    wait_available(client, cx, &desired.instance.identifier).await
}

/// Readiness of the instance `identifier` (see [`lifecycle::classify`]).
///
/// # Errors
/// [`Error::DescribeInstance`].
pub async fn ready(client: &Client, identifier: &str) -> Result<Readiness> {
    lifecycle::ready(client, identifier).await
}

/// Deletes the deployment's instance (final snapshot `final_snapshot`, or none), waits until
/// it is gone, then deletes the subnet group. Idempotent.
///
/// # Errors
/// See [`delete_instance`] and [`Error::DeleteSubnetGroup`].
pub async fn delete(client: &Client, cx: &Context, final_snapshot: Option<String>) -> Result<()> {
    let identifier = cx.names.db_instance();
    delete_instance(client, cx, &identifier, final_snapshot.as_deref()).await?;
    let group = cx.names.subnet_group(SUBNET_GROUP_KIND);
    subnet_group::delete(client, cx, &group).await?;
    cx.reporter
        .note(instance::KIND, format!("{identifier} and {group} are gone"));
    Ok(())
}

#[cfg(test)]
mod tests;
