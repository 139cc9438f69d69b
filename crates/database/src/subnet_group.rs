//! The DB subnet group: which private subnets RDS may place the instance in.

use std::collections::BTreeSet;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;
use orchestrate_aws::{aws_error, error_code, is_not_found_code, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "rds/db-subnet-group";

/// Component tag of the subnet group.
pub const COMPONENT: &str = "database/subnet-group";

/// What the DB subnet group should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetGroupDesired {
    /// `<name>-database`.
    pub name: String,
    /// Description sent on create (never compared).
    pub description: String,
    /// The private subnets, one per AZ.
    pub subnet_ids: BTreeSet<String>,
    /// Tags sent with CreateDBSubnetGroup.
    pub tags: Tags,
}

impl SubnetGroupDesired {
    /// The subnet group `name` over `subnet_ids`, tagged `tags` (pure).
    pub fn new(name: &str, deployment: &str, subnet_ids: &[String], tags: Tags) -> Self {
        Self {
            name: name.to_string(),
            description: format!("orchestrate {deployment}: metadata database subnets"),
            subnet_ids: subnet_ids.iter().cloned().collect(),
            tags,
        }
    }
}

/// What AWS reports about the subnet group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetGroupObserved {
    /// Its name.
    pub name: String,
    /// Its ARN, when AWS's answer carries it.
    pub arn: Option<String>,
    /// Its VPC, when AWS's answer carries it.
    pub vpc_id: Option<String>,
    /// Its subnets.
    pub subnet_ids: BTreeSet<String>,
}

pub(crate) fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The subnet group named `name`; `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::DescribeSubnetGroup`].
pub async fn find(client: &Client, name: &str) -> Result<Option<SubnetGroupObserved>> {
    let out = match client
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => return Ok(None),
        Err(e) => {
            return Err(Error::DescribeSubnetGroup(aws_error(
                "describe DB subnet group",
                name,
                e,
            )));
        }
    };
    Ok(out
        .db_subnet_groups()
        .iter()
        .find(|g| g.db_subnet_group_name() == Some(name))
        .map(|g| SubnetGroupObserved {
            name: name.to_string(),
            arn: g.db_subnet_group_arn().map(str::to_string),
            vpc_id: g.vpc_id().map(str::to_string),
            subnet_ids: g
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_string))
                .collect(),
        }))
}

fn drift(desired: &SubnetGroupDesired, observed: &SubnetGroupObserved) -> Vec<FieldChange> {
    if desired.subnet_ids == observed.subnet_ids {
        return Vec::new();
    }
    let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
    vec![FieldChange::new(
        "SubnetIds",
        Some(join(&observed.subnet_ids)),
        Some(join(&desired.subnet_ids)),
    )]
}

/// What `ensure` would do (pure).
pub fn diff(desired: &SubnetGroupDesired, observed: Option<&SubnetGroupObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) => {
            let fields = drift(desired, observed);
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND, &desired.name, action)
}

/// Creates the subnet group with its tags when absent (adopting one that already exists),
/// and sets its subnets when they differ. No mutating call when it matches.
///
/// # Errors
/// [`Error::DescribeSubnetGroup`], [`Error::CreateSubnetGroup`], [`Error::ModifySubnetGroup`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &SubnetGroupDesired,
) -> Result<SubnetGroupObserved> {
    let observed = match find(client, &desired.name).await? {
        Some(observed) => observed,
        None => {
            cx.reporter.applying(KIND, &desired.name, "create");
            match client
                .create_db_subnet_group()
                .db_subnet_group_name(&desired.name)
                .db_subnet_group_description(&desired.description)
                .set_subnet_ids(Some(desired.subnet_ids.iter().cloned().collect()))
                .set_tags(Some(sdk_tags(&desired.tags)))
                .send()
                .await
            {
                Ok(out) => {
                    let group = out.db_subnet_group();
                    cx.reporter.ready(KIND, &desired.name);
                    return Ok(SubnetGroupObserved {
                        name: desired.name.clone(),
                        arn: group
                            .and_then(|g| g.db_subnet_group_arn())
                            .map(str::to_string),
                        vpc_id: group.and_then(|g| g.vpc_id()).map(str::to_string),
                        subnet_ids: desired.subnet_ids.clone(),
                    });
                }
                // A retried create whose first response was lost, or a concurrent run.
                Err(e) if error_code(&e) == Some("DBSubnetGroupAlreadyExists") => {
                    cx.reporter.note(
                        KIND,
                        format!("{} already exists; adopting it", desired.name),
                    );
                    retry_eventual(cx.timing, &["DBSubnetGroupNotFoundFault"], 5, || async {
                        find(client, &desired.name).await?.ok_or_else(|| {
                            Error::DescribeSubnetGroup(orchestrate_aws::AwsError::new(
                                "describe DB subnet group",
                                desired.name.clone(),
                                "DBSubnetGroupNotFoundFault",
                                "exists according to create, not yet visible",
                            ))
                        })
                    })
                    .await?
                }
                Err(e) => {
                    return Err(Error::CreateSubnetGroup(aws_error(
                        "create DB subnet group",
                        &desired.name,
                        e,
                    )));
                }
            }
        }
    };
    if drift(desired, &observed).is_empty() {
        return Ok(observed);
    }
    cx.reporter.applying(KIND, &desired.name, "update");
    client
        .modify_db_subnet_group()
        .db_subnet_group_name(&desired.name)
        .set_subnet_ids(Some(desired.subnet_ids.iter().cloned().collect()))
        .send()
        .await
        .map_err(|e| {
            Error::ModifySubnetGroup(aws_error("modify DB subnet group", &desired.name, e))
        })?;
    Ok(SubnetGroupObserved {
        subnet_ids: desired.subnet_ids.clone(),
        ..observed
    })
}

/// Deletes the subnet group; an absent one is success. A group still in use by an instance
/// that is finishing its deletion (`InvalidDBSubnetGroupStateFault`) is retried briefly.
///
/// # Errors
/// [`Error::DeleteSubnetGroup`].
pub async fn delete(client: &Client, cx: &Context, name: &str) -> Result<()> {
    let result = retry_eventual(
        cx.timing,
        &["InvalidDBSubnetGroupStateFault"],
        10,
        || async {
            client
                .delete_db_subnet_group()
                .db_subnet_group_name(name)
                .send()
                .await
        },
    )
    .await;
    match result {
        Ok(_) => {
            cx.reporter.applying(KIND, name, "delete");
            Ok(())
        }
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => Ok(()),
        Err(e) => Err(Error::DeleteSubnetGroup(aws_error(
            "delete DB subnet group",
            name,
            e,
        ))),
    }
}
