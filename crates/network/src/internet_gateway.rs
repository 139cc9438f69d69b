//! The internet gateway: one per deployment, found by its tags, attached to the VPC.
//!
//! CreateInternetGateway takes no client token: a lost response can leave a second tagged
//! gateway. The one attached to the VPC (else the lowest id) is kept; unattached duplicates
//! are deleted by [`ensure`] and reported.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::ResourceType;
use orchestrate_aws::{aws_error, error_code, retry_eventual};
use orchestrate_core::{Action, Change, Context, FieldChange, Phase, Readiness, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{Owner, delete_patiently, owned, owned_by, required, tag_spec};
use crate::{COMPONENT_INTERNET_GATEWAY, KIND_INTERNET_GATEWAY};

/// Attempts for calls that may see a just-created gateway or VPC as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

/// What the internet gateway should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetGatewayDesired {
    /// `<name>-igw`.
    pub name: String,
    /// Tags given to CreateInternetGateway.
    pub tags: Tags,
}

impl InternetGatewayDesired {
    /// The gateway of `owner` (pure).
    pub fn new(owner: &Owner) -> Self {
        let name = owner.names.prefixed("igw");
        Self {
            tags: owner.tags(COMPONENT_INTERNET_GATEWAY, &name),
            name,
        }
    }
}

/// The internet gateway as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetGatewayObserved {
    /// The gateway kept.
    pub internet_gateway_id: String,
    /// VPCs it is attached to (at most one).
    pub attached_vpcs: Vec<String>,
    /// Other tagged, unattached gateways of this deployment (lost-response duplicates).
    pub duplicates: Vec<String>,
}

/// Every tagged internet gateway of this deployment, as (id, attached VPCs), sorted by id.
async fn list(client: &Client, cx: &Context) -> Result<Vec<(String, Vec<String>)>> {
    let out = client
        .describe_internet_gateways()
        .set_filters(Some(owned(cx, COMPONENT_INTERNET_GATEWAY)))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeInternetGateway(aws_error(
                "describe internet gateways",
                cx.names.deployment(),
                e,
            ))
        })?;
    let mut found: Vec<(String, Vec<String>)> = out
        .internet_gateways()
        .iter()
        .filter(|g| owned_by(g.tags(), cx, COMPONENT_INTERNET_GATEWAY, None))
        .filter_map(|g| {
            let vpcs = g
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(str::to_string))
                .collect();
            Some((g.internet_gateway_id()?.to_string(), vpcs))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Finds the deployment's internet gateway by its tags (read-only). When `vpc_id` is given,
/// the gateway attached to it is preferred.
///
/// # Errors
/// [`Error::DescribeInternetGateway`] when the call fails.
pub async fn find(
    client: &Client,
    cx: &Context,
    vpc_id: Option<&str>,
) -> Result<Option<InternetGatewayObserved>> {
    let found = list(client, cx).await?;
    let keep = found
        .iter()
        .position(|(_, vpcs)| vpc_id.is_some_and(|v| vpcs.iter().any(|a| a == v)))
        .or_else(|| found.iter().position(|(_, vpcs)| !vpcs.is_empty()))
        .unwrap_or(0);
    let Some((id, vpcs)) = found.get(keep).cloned() else {
        return Ok(None);
    };
    let duplicates = found
        .iter()
        .enumerate()
        .filter(|(i, (_, vpcs))| *i != keep && vpcs.is_empty())
        .map(|(_, (id, _))| id.clone())
        .collect();
    Ok(Some(InternetGatewayObserved {
        internet_gateway_id: id,
        attached_vpcs: vpcs,
        duplicates,
    }))
}

/// What `up` would do to the gateway (pure). `vpc_id`: the VPC it must be attached to, when
/// the VPC exists.
pub fn diff(
    desired: &InternetGatewayDesired,
    observed: Option<&InternetGatewayObserved>,
    vpc_id: Option<&str>,
) -> Vec<Change> {
    let Some(observed) = observed else {
        return vec![Change::new(
            Phase::Storage,
            KIND_INTERNET_GATEWAY,
            &desired.name,
            Action::Create,
        )];
    };
    let attached = vpc_id.is_some_and(|v| observed.attached_vpcs.iter().any(|a| a == v));
    let action = if attached {
        Action::NoChange
    } else {
        Action::Update {
            fields: vec![FieldChange::new(
                "Attachment",
                observed.attached_vpcs.first().cloned(),
                Some(vpc_id.unwrap_or("(new VPC)").to_string()),
            )],
        }
    };
    let mut changes = vec![Change::new(
        Phase::Storage,
        KIND_INTERNET_GATEWAY,
        &desired.name,
        action,
    )];
    for dup in &observed.duplicates {
        changes.push(Change::new(
            Phase::Storage,
            KIND_INTERNET_GATEWAY,
            dup,
            Action::Delete,
        ));
    }
    changes
}

/// Deletes the unattached duplicates `observed` lists; returns the gateway kept and whether
/// it is attached.
///
/// # Errors
/// [`Error::Conflict`] when the kept gateway is attached to another VPC; AWS failures.
async fn settle(
    client: &Client,
    cx: &Context,
    desired: &InternetGatewayDesired,
    vpc_id: &str,
    observed: InternetGatewayObserved,
) -> Result<(String, bool)> {
    for dup in &observed.duplicates {
        cx.reporter.note(
            KIND_INTERNET_GATEWAY,
            format!(
                "found duplicate internet gateway {dup} (a lost create response); keeping {} and deleting the unattached duplicate",
                observed.internet_gateway_id
            ),
        );
        delete_gateway(client, cx, dup).await?;
    }
    if let Some(other) = observed.attached_vpcs.iter().find(|v| *v != vpc_id) {
        return Err(Error::Conflict {
            kind: KIND_INTERNET_GATEWAY.into(),
            name: desired.name.clone(),
            message: format!(
                "internet gateway {} is attached to {other}, not to the deployment's VPC {vpc_id}",
                observed.internet_gateway_id
            ),
        });
    }
    let attached = !observed.attached_vpcs.is_empty();
    Ok((observed.internet_gateway_id, attached))
}

/// Creates or adopts the gateway and attaches it to `vpc_id`; returns its id. No mutating call
/// when it exists attached.
///
/// # Errors
/// [`Error::Conflict`] when the tagged gateway is attached to another VPC; AWS failures.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &InternetGatewayDesired,
    vpc_id: &str,
) -> Result<String> {
    let (id, attached) = match find(client, cx, Some(vpc_id)).await? {
        Some(observed) => settle(client, cx, desired, vpc_id, observed).await?,
        None => {
            cx.reporter
                .applying(KIND_INTERNET_GATEWAY, &desired.name, "create");
            let out = client
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, &desired.tags))
                .send()
                .await
                .map_err(|e| {
                    Error::CreateInternetGateway(aws_error(
                        "create internet gateway",
                        &desired.name,
                        e,
                    ))
                })?;
            let created = required(
                out.internet_gateway().and_then(|g| g.internet_gateway_id()),
                "created internet gateway",
                "InternetGatewayId",
            )?;
            // CreateInternetGateway takes no client token: when its response was lost and the
            // SDK retried, the first attempt's gateway exists too. Look again and settle it
            // like any duplicate, in this run.
            match find(client, cx, Some(vpc_id)).await? {
                Some(observed) => settle(client, cx, desired, vpc_id, observed).await?,
                None => (created, false),
            }
        }
    };
    if !attached {
        cx.reporter
            .applying(KIND_INTERNET_GATEWAY, &desired.name, "attach");
        let result = retry_eventual(
            cx.timing,
            &["InvalidInternetGatewayID.NotFound", "InvalidVpcID.NotFound"],
            EVENTUAL_ATTEMPTS,
            || {
                client
                    .attach_internet_gateway()
                    .internet_gateway_id(&id)
                    .vpc_id(vpc_id)
                    .send()
            },
        )
        .await;
        match result {
            Ok(_) => {}
            // Attached by a previous attempt whose response was lost.
            Err(e) if error_code(&e) == Some("Resource.AlreadyAssociated") => {}
            Err(e) => {
                return Err(Error::AttachInternetGateway(aws_error(
                    "attach internet gateway",
                    &desired.name,
                    e,
                )));
            }
        }
    }
    Ok(id)
}

/// `Ready` once the gateway is attached (`available`) to `vpc_id`.
///
/// # Errors
/// [`Error::DescribeInternetGateway`].
pub async fn ready(client: &Client, _cx: &Context, id: &str, vpc_id: &str) -> Result<Readiness> {
    let out = match client
        .describe_internet_gateways()
        .internet_gateway_ids(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e) == Some("InvalidInternetGatewayID.NotFound") => {
            return Ok(Readiness::pending("not yet visible"));
        }
        Err(e) => {
            return Err(Error::DescribeInternetGateway(aws_error(
                "describe internet gateway",
                id,
                e,
            )));
        }
    };
    let state = out
        .internet_gateways()
        .first()
        .and_then(|g| g.attachments().iter().find(|a| a.vpc_id() == Some(vpc_id)))
        .and_then(|a| a.state().map(|s| s.as_str().to_string()));
    Ok(match state.as_deref() {
        Some("available" | "attached") => Readiness::Ready,
        Some(s) => Readiness::pending(s),
        None => Readiness::pending("detached"),
    })
}

async fn delete_gateway(client: &Client, cx: &Context, id: &str) -> Result<()> {
    delete_patiently(cx, KIND_INTERNET_GATEWAY, id, || async {
        client
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::DeleteInternetGateway(aws_error("delete internet gateway", id, e)))
    })
    .await
}

/// Detaches every tagged gateway of this deployment from its VPCs and deletes it; none is
/// success. Detaching retries `DependencyViolation` (public addresses still mapped).
///
/// # Errors
/// [`Error::DeleteInternetGateway`] or [`Error::Wait`].
pub async fn delete(client: &Client, cx: &Context) -> Result<()> {
    for (id, vpcs) in list(client, cx).await? {
        cx.reporter.applying(KIND_INTERNET_GATEWAY, &id, "delete");
        for vpc in &vpcs {
            delete_patiently(cx, KIND_INTERNET_GATEWAY, &id, || async {
                match client
                    .detach_internet_gateway()
                    .internet_gateway_id(&id)
                    .vpc_id(vpc)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if error_code(&e) == Some("Gateway.NotAttached") => Ok(()),
                    Err(e) => Err(Error::DeleteInternetGateway(aws_error(
                        "detach internet gateway",
                        &id,
                        e,
                    ))),
                }
            })
            .await?;
        }
        delete_gateway(client, cx, &id).await?;
    }
    Ok(())
}
