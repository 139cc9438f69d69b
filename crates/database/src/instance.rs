//! The PostgreSQL DB instance: desired shape, find, diff and the in-place convergence.
//!
//! Waiting (ready, available, gone) and deletion live in [`crate::lifecycle`].

use std::collections::BTreeSet;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbInstance;
use orchestrate_aws::{
    AwsError, aws_error, error_code, is_not_found_code, required, retry_eventual,
};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::spec::DatabaseSpec;
use orchestrate_core::{Context, Phase, ReporterExt, Sensitive, Tags};

use crate::error::{Error, Result};
use crate::lifecycle::{self, STATUS_AVAILABLE, STATUS_DELETING};
use crate::subnet_group::sdk_tags;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "rds/db-instance";

/// Component tag of the instance.
pub const COMPONENT: &str = "database/instance";

/// The only engine this crate creates.
pub const ENGINE: &str = "postgres";

/// Storage type of every instance this crate creates.
pub const STORAGE_TYPE: &str = "gp3";

/// What the DB instance should look like.
///
/// `Debug` is safe to log: the password is a [`Sensitive`] and prints as `(sensitive)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDesired {
    /// `<name>-metadata`.
    pub identifier: String,
    /// PostgreSQL version, e.g. `16.4`.
    pub engine_version: String,
    /// e.g. `db.t4g.small`.
    pub instance_class: String,
    /// GiB of gp3 storage.
    pub allocated_storage_gb: i32,
    /// Days of automated backups.
    pub backup_retention_days: i32,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Standby in a second AZ.
    pub multi_az: bool,
    /// The database created inside the instance.
    pub db_name: String,
    /// Master user name.
    pub username: String,
    /// Master password: sent on create only, never compared nor changed by `ensure`.
    pub password: Sensitive,
    /// The database security group (the only one the instance gets).
    pub security_group_id: String,
    /// The DB subnet group it is placed in.
    pub subnet_group_name: String,
    /// Performance Insights (off by default: it costs extra beyond its free tier).
    pub performance_insights: bool,
    /// Tags sent with CreateDBInstance.
    pub tags: Tags,
}

impl InstanceDesired {
    /// The instance from the `[database]` spec and the typed inputs (pure).
    pub fn new(
        identifier: &str,
        spec: &DatabaseSpec,
        subnet_group_name: &str,
        security_group_id: &str,
        password: Sensitive,
        tags: Tags,
    ) -> Self {
        Self {
            identifier: identifier.to_string(),
            engine_version: spec.engine_version.clone(),
            instance_class: spec.instance_class.clone(),
            allocated_storage_gb: spec.allocated_storage_gb,
            backup_retention_days: spec.backup_retention_days,
            deletion_protection: spec.deletion_protection,
            multi_az: spec.multi_az,
            db_name: spec.db_name.clone(),
            username: spec.username.clone(),
            password,
            security_group_id: security_group_id.to_string(),
            subnet_group_name: subnet_group_name.to_string(),
            performance_insights: false,
            tags,
        }
    }
}

/// What AWS reports about the instance. Where a modification is pending, the pending value is
/// the one reported (it is what the instance is becoming).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceObserved {
    /// Identifier.
    pub identifier: String,
    /// ARN.
    pub arn: String,
    /// `DBInstanceStatus` (`creating`, `available`, ...).
    pub status: String,
    /// Instance class.
    pub instance_class: String,
    /// GiB.
    pub allocated_storage_gb: i32,
    /// Days.
    pub backup_retention_days: i32,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Multi-AZ.
    pub multi_az: bool,
    /// Engine version.
    pub engine_version: String,
    /// VPC security groups (memberships being removed excluded).
    pub security_group_ids: BTreeSet<String>,
    /// Publicly accessible.
    pub publicly_accessible: bool,
    /// `Endpoint.Address` (a DNS name), once AWS reports one.
    pub host: Option<String>,
    /// `Endpoint.Port`.
    pub port: Option<i32>,
    /// `DBName`.
    pub db_name: Option<String>,
    /// The subnet group AWS embeds in the instance's description: its name and subnets, when
    /// reported.
    pub subnet_group: Option<(String, BTreeSet<String>)>,
}

impl InstanceObserved {
    /// Reads AWS's description (pending modifications win over current values).
    ///
    /// # Errors
    /// [`Error::DescribeInstance`] ([`AwsError::missing`]) when the description lacks its
    /// identifier, ARN, status, class, storage, backup retention or engine version: the diff
    /// would otherwise compare against a made-up empty value.
    pub fn from_sdk(db: &DbInstance) -> Result<Self> {
        let pending = db.pending_modified_values();
        const ACTION: &str = "describe DB instance";
        let identifier = required(
            db.db_instance_identifier(),
            ACTION,
            "(unnamed)",
            "DBInstanceIdentifier",
        )
        .map_err(Error::DescribeInstance)?;
        let need = |value: Option<&str>, field: &str| {
            required(value, ACTION, identifier, field)
                .map(str::to_string)
                .map_err(Error::DescribeInstance)
        };
        let need_number = |value: Option<i32>, field: &str| {
            required(value.as_ref(), ACTION, identifier, field)
                .copied()
                .map_err(Error::DescribeInstance)
        };
        Ok(Self {
            identifier: identifier.to_string(),
            arn: need(db.db_instance_arn(), "DBInstanceArn")?,
            status: need(db.db_instance_status(), "DBInstanceStatus")?,
            instance_class: need(
                pending
                    .and_then(|p| p.db_instance_class())
                    .or(db.db_instance_class()),
                "DBInstanceClass",
            )?,
            allocated_storage_gb: need_number(
                pending
                    .and_then(|p| p.allocated_storage())
                    .or(db.allocated_storage()),
                "AllocatedStorage",
            )?,
            backup_retention_days: need_number(
                pending
                    .and_then(|p| p.backup_retention_period())
                    .or(db.backup_retention_period()),
                "BackupRetentionPeriod",
            )?,
            deletion_protection: db.deletion_protection().unwrap_or(false),
            multi_az: pending
                .and_then(|p| p.multi_az())
                .or(db.multi_az())
                .unwrap_or(false),
            engine_version: need(
                pending
                    .and_then(|p| p.engine_version())
                    .or(db.engine_version()),
                "EngineVersion",
            )?,
            security_group_ids: db
                .vpc_security_groups()
                .iter()
                .filter(|m| m.status() != Some("removing"))
                .filter_map(|m| m.vpc_security_group_id().map(str::to_string))
                .collect(),
            publicly_accessible: db.publicly_accessible().unwrap_or(false),
            host: db
                .endpoint()
                .and_then(|e| e.address())
                .filter(|a| !a.is_empty())
                .map(str::to_string),
            port: db
                .endpoint()
                .and_then(|e| e.port())
                .or(db.db_instance_port()),
            db_name: db.db_name().map(str::to_string),
            subnet_group: db.db_subnet_group().and_then(|g| {
                let name = g.db_subnet_group_name()?.to_string();
                let subnets = g
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(str::to_string))
                    .collect();
                Some((name, subnets))
            }),
        })
    }
}

/// The instance `identifier`; `Ok(None)` when it does not exist (`DBInstanceNotFound`).
///
/// # Errors
/// [`Error::DescribeInstance`].
pub async fn find(client: &Client, identifier: &str) -> Result<Option<InstanceObserved>> {
    match client
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => out
            .db_instances()
            .iter()
            .find(|db| {
                db.db_instance_identifier()
                    .is_some_and(|id| id.eq_ignore_ascii_case(identifier))
            })
            .map(InstanceObserved::from_sdk)
            .transpose(),
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => Ok(None),
        Err(e) => Err(Error::DescribeInstance(aws_error(
            "describe DB instance",
            identifier,
            e,
        ))),
    }
}

/// Dotted numeric version, compared component by component (`16.10` > `16.4`).
fn version_parts(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// True when `desired` is a newer engine version than `observed`. Unparseable versions are
/// upgrades when they differ (AWS then judges them).
pub fn is_upgrade(observed: &str, desired: &str) -> bool {
    match (version_parts(observed), version_parts(desired)) {
        (Some(o), Some(d)) => d > o,
        _ => observed != desired,
    }
}

/// The major version (`16` of `16.4`).
pub fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// The drifted fields, as ModifyDBInstance parameters. Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modification {
    /// New `DBInstanceClass`.
    pub instance_class: Option<String>,
    /// New `AllocatedStorage` (larger only).
    pub allocated_storage_gb: Option<i32>,
    /// New `BackupRetentionPeriod`.
    pub backup_retention_days: Option<i32>,
    /// New `DeletionProtection`.
    pub deletion_protection: Option<bool>,
    /// New `MultiAZ`.
    pub multi_az: Option<bool>,
    /// New `EngineVersion` (newer only) and whether the major changes.
    pub engine_version: Option<(String, bool)>,
    /// New `VpcSecurityGroupIds`.
    pub security_group_ids: Option<Vec<String>>,
    /// `PubliclyAccessible = false`.
    pub make_private: bool,
    /// A storage decrease that RDS cannot do: `(observed, desired)`.
    pub storage_decrease: Option<(i32, i32)>,
    /// For `plan`.
    pub fields: Vec<FieldChange>,
}

impl Modification {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// What differs between the spec and the instance (pure). The password is never compared.
pub fn drift(desired: &InstanceDesired, observed: &InstanceObserved) -> Modification {
    let mut m = Modification::default();
    if desired.instance_class != observed.instance_class {
        m.fields.push(FieldChange::new(
            "DBInstanceClass",
            Some(observed.instance_class.clone()),
            Some(desired.instance_class.clone()),
        ));
        m.instance_class = Some(desired.instance_class.clone());
    }
    if desired.allocated_storage_gb > observed.allocated_storage_gb {
        m.fields.push(FieldChange::new(
            "AllocatedStorage",
            Some(observed.allocated_storage_gb.to_string()),
            Some(desired.allocated_storage_gb.to_string()),
        ));
        m.allocated_storage_gb = Some(desired.allocated_storage_gb);
    } else if desired.allocated_storage_gb < observed.allocated_storage_gb {
        m.fields.push(FieldChange::new(
            "AllocatedStorage",
            Some(observed.allocated_storage_gb.to_string()),
            Some(format!(
                "{} (refused: RDS storage cannot shrink)",
                desired.allocated_storage_gb
            )),
        ));
        m.storage_decrease = Some((observed.allocated_storage_gb, desired.allocated_storage_gb));
    }
    if desired.backup_retention_days != observed.backup_retention_days {
        m.fields.push(FieldChange::new(
            "BackupRetentionPeriod",
            Some(observed.backup_retention_days.to_string()),
            Some(desired.backup_retention_days.to_string()),
        ));
        m.backup_retention_days = Some(desired.backup_retention_days);
    }
    if desired.deletion_protection != observed.deletion_protection {
        m.fields.push(FieldChange::new(
            "DeletionProtection",
            Some(observed.deletion_protection.to_string()),
            Some(desired.deletion_protection.to_string()),
        ));
        m.deletion_protection = Some(desired.deletion_protection);
    }
    if desired.multi_az != observed.multi_az {
        m.fields.push(FieldChange::new(
            "MultiAZ",
            Some(observed.multi_az.to_string()),
            Some(desired.multi_az.to_string()),
        ));
        m.multi_az = Some(desired.multi_az);
    }
    // Minor upgrades AWS applied itself (AutoMinorVersionUpgrade) leave the instance newer than
    // the spec: that is not drift, and RDS cannot downgrade anyway.
    if is_upgrade(&observed.engine_version, &desired.engine_version) {
        let major_change = major(&observed.engine_version) != major(&desired.engine_version);
        m.fields.push(FieldChange::new(
            "EngineVersion",
            Some(observed.engine_version.clone()),
            Some(desired.engine_version.clone()),
        ));
        m.engine_version = Some((desired.engine_version.clone(), major_change));
    }
    let wanted = BTreeSet::from([desired.security_group_id.clone()]);
    if observed.security_group_ids != wanted {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        m.fields.push(FieldChange::new(
            "VpcSecurityGroupIds",
            Some(join(&observed.security_group_ids)),
            Some(join(&wanted)),
        ));
        m.security_group_ids = Some(wanted.into_iter().collect());
    }
    if observed.publicly_accessible {
        m.fields.push(FieldChange::new(
            "PubliclyAccessible",
            Some("true".into()),
            Some("false".into()),
        ));
        m.make_private = true;
    }
    m
}

/// What `ensure` would do (pure).
pub fn diff(desired: &InstanceDesired, observed: Option<&InstanceObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) => {
            let m = drift(desired, observed);
            if m.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields: m.fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND, &desired.identifier, action)
}

/// Creates the instance when absent, or modifies only its drifted fields, without waiting for
/// it to become available (see [`lifecycle::wait_available`]). Returns the identifier.
///
/// An instance found in a transitional state with drift is first waited on (ModifyDBInstance
/// is refused while it is not `available`).
///
/// # Errors
/// [`Error::BeingDeleted`], [`Error::StorageDecrease`] (before any call that mutates),
/// [`Error::CreateInstance`] (e.g. `InvalidParameterCombination` for an instance class the
/// engine does not offer), [`Error::ModifyInstance`], [`Error::DescribeInstance`],
/// [`Error::NotAvailable`].
pub async fn converge(client: &Client, cx: &Context, desired: &InstanceDesired) -> Result<()> {
    converge_observed(client, cx, desired).await.map(drop)
}

/// [`converge`], returning the instance as it was read when nothing had to change (so that
/// a caller can take an `available` instance's endpoint from it without describing it
/// again); `None` when it was created, modified or waited on.
///
/// # Errors
/// As [`converge`].
pub async fn converge_observed(
    client: &Client,
    cx: &Context,
    desired: &InstanceDesired,
) -> Result<Option<InstanceObserved>> {
    let found = find(client, &desired.identifier).await?;
    converge_found(client, cx, desired, found).await
}

/// [`converge_observed`] from `found`, what a [`find`] of this run saw.
///
/// # Errors
/// As [`converge_observed`].
pub async fn converge_found(
    client: &Client,
    cx: &Context,
    desired: &InstanceDesired,
    found: Option<InstanceObserved>,
) -> Result<Option<InstanceObserved>> {
    let id = desired.identifier.as_str();
    let mut observed = match found {
        Some(observed) => observed,
        None => match create(client, cx, desired).await? {
            Created::New => return Ok(None),
            Created::Existing => find_after_create(client, cx, id).await?,
        },
    };
    if observed.status == STATUS_DELETING {
        return Err(Error::BeingDeleted { name: id.into() });
    }
    let mut m = drift(desired, &observed);
    if let Some((observed, desired)) = m.storage_decrease {
        return Err(Error::StorageDecrease {
            name: id.into(),
            observed,
            desired,
        });
    }
    if m.is_empty() {
        return Ok(Some(observed));
    }
    if observed.status != STATUS_AVAILABLE {
        cx.reporter.note(
            KIND,
            format!(
                "{id} is {}; waiting for it to be available before modifying it",
                observed.status
            ),
        );
        lifecycle::wait_available(client, cx, id).await?;
        observed = find_after_create(client, cx, id).await?;
        m = drift(desired, &observed);
        if m.is_empty() {
            return Ok(None);
        }
    }
    modify(client, cx, id, &m).await.map(|()| None)
}

enum Created {
    New,
    Existing,
}

async fn create(client: &Client, cx: &Context, desired: &InstanceDesired) -> Result<Created> {
    let id = desired.identifier.as_str();
    cx.reporter.applying(KIND, id, "create");
    // The request's Debug output redacts MasterUserPassword (the SDK marks it sensitive); it is
    // never logged here anyway.
    let result = client
        .create_db_instance()
        .db_instance_identifier(id)
        .engine(ENGINE)
        .engine_version(&desired.engine_version)
        .db_instance_class(&desired.instance_class)
        .allocated_storage(desired.allocated_storage_gb)
        .storage_type(STORAGE_TYPE)
        .storage_encrypted(true)
        .db_name(&desired.db_name)
        .master_username(&desired.username)
        .master_user_password(desired.password.expose())
        .vpc_security_group_ids(&desired.security_group_id)
        .db_subnet_group_name(&desired.subnet_group_name)
        .publicly_accessible(false)
        .backup_retention_period(desired.backup_retention_days)
        .deletion_protection(desired.deletion_protection)
        .multi_az(desired.multi_az)
        .copy_tags_to_snapshot(true)
        .auto_minor_version_upgrade(true)
        .enable_performance_insights(desired.performance_insights)
        .set_tags(Some(sdk_tags(&desired.tags)))
        .send()
        .await;
    match result {
        Ok(_) => Ok(Created::New),
        // A retried create whose first response was lost, or a concurrent run: adopt it.
        Err(e) if error_code(&e) == Some("DBInstanceAlreadyExists") => {
            cx.reporter
                .note(KIND, format!("{id} already exists; adopting it"));
            Ok(Created::Existing)
        }
        Err(e) => Err(Error::CreateInstance(aws_error(
            "create DB instance",
            id,
            e,
        ))),
    }
}

/// Describes an instance that AWS says exists, tolerating a short not-found (eventual
/// consistency right after create).
async fn find_after_create(client: &Client, cx: &Context, id: &str) -> Result<InstanceObserved> {
    retry_eventual(cx.timing, &["DBInstanceNotFound"], 6, || async {
        find(client, id).await?.ok_or_else(|| {
            Error::DescribeInstance(AwsError::new(
                "describe DB instance",
                id,
                "DBInstanceNotFound",
                "AWS says it exists, but it is not visible yet",
            ))
        })
    })
    .await
}

async fn modify(client: &Client, cx: &Context, id: &str, m: &Modification) -> Result<()> {
    cx.reporter.applying(KIND, id, "update");
    let fields: Vec<&str> = m.fields.iter().map(|f| f.field.as_str()).collect();
    tracing::debug!(instance = id, ?fields, "modifying DB instance");
    client
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true)
        .set_db_instance_class(m.instance_class.clone())
        .set_allocated_storage(m.allocated_storage_gb)
        .set_backup_retention_period(m.backup_retention_days)
        .set_deletion_protection(m.deletion_protection)
        .set_multi_az(m.multi_az)
        .set_engine_version(m.engine_version.as_ref().map(|(v, _)| v.clone()))
        .set_allow_major_version_upgrade(
            m.engine_version
                .as_ref()
                .and_then(|(_, major)| major.then_some(true)),
        )
        .set_vpc_security_group_ids(m.security_group_ids.clone())
        .set_publicly_accessible(m.make_private.then_some(false))
        .send()
        .await
        .map_err(|e| Error::ModifyInstance(aws_error("modify DB instance", id, e)))?;
    Ok(())
}
