//! The Application Load Balancer: desired shape, find, diff, ensure, ready, delete.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerStateEnum, LoadBalancerTypeEnum,
};
use orchestrate_aws::{AwsError, aws_error, is_not_found_code, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Names, Phase, Readiness, ReporterExt, Spec};

use crate::error::{Error, Result};
use crate::util::{EVENTUAL_ATTEMPTS, same_set, sdk_tags, show_list, sorted};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "elbv2/load-balancer";
/// `orchestrate:component` tag of the load balancer.
pub const COMPONENT: &str = "loadbalancer/alb";
/// Attribute key of the idle timeout.
pub const ATTR_IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
/// Attribute key of "drop invalid header fields" (request smuggling hardening).
pub const ATTR_DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
/// The default scheme (`load_balancer.scheme`): public subnets, public addresses.
pub const SCHEME: &str = "internet-facing";
/// The other scheme: private subnets, reachable only from the VPC and what routes into it.
pub const SCHEME_INTERNAL: &str = "internal";
/// The only load balancer type this crate creates.
pub const TYPE: &str = "application";
/// The only IP address type this crate creates.
pub const IP_ADDRESS_TYPE: &str = "ipv4";

/// How long a deleted load balancer may stay visible.
const GONE_WITHIN: Duration = Duration::from_secs(300);

/// What the load balancer should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbDesired {
    /// Its name ([`Names::load_balancer`], at most 32 characters).
    pub name: String,
    /// Subnet ids, one per AZ (sorted): the public ones, or the private ones when internal.
    pub subnet_ids: Vec<String>,
    /// `internet-facing` or `internal` ([`SCHEME`], [`SCHEME_INTERNAL`]).
    pub scheme: String,
    /// Security group ids (the ALB security group).
    pub security_group_ids: Vec<String>,
    /// `idle_timeout.timeout_seconds`.
    pub idle_timeout_seconds: i32,
    /// `routing.http.drop_invalid_header_fields.enabled` (always true).
    pub drop_invalid_header_fields: bool,
}

impl AlbDesired {
    /// The ALB of the spec's deployment in `subnet_ids` (public ones, or private ones for an
    /// internal ALB: the caller picks, from `load_balancer.scheme`) behind
    /// `security_group_id`.
    pub fn from_spec(spec: &Spec, subnet_ids: &[String], security_group_id: &str) -> Self {
        Self {
            name: Names::new(&spec.deployment.name).load_balancer(),
            subnet_ids: sorted(subnet_ids),
            scheme: spec.load_balancer.scheme.as_str().to_string(),
            security_group_ids: vec![security_group_id.to_string()],
            idle_timeout_seconds: spec.load_balancer.idle_timeout_seconds,
            drop_invalid_header_fields: true,
        }
    }

    /// The attributes this crate manages, as AWS spells them.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                ATTR_IDLE_TIMEOUT.to_string(),
                self.idle_timeout_seconds.to_string(),
            ),
            (
                ATTR_DROP_INVALID_HEADERS.to_string(),
                self.drop_invalid_header_fields.to_string(),
            ),
        ])
    }
}

/// What AWS reports about the load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbObserved {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Public DNS name.
    pub dns_name: String,
    /// Route 53 hosted zone of the DNS name (for alias records).
    pub hosted_zone_id: String,
    /// `internet-facing` / `internal`.
    pub scheme: Option<String>,
    /// `application` / `network` / `gateway`.
    pub lb_type: Option<String>,
    /// `ipv4` / `dualstack` / ...
    pub ip_address_type: Option<String>,
    /// `provisioning` / `active` / `active_impaired` / `failed`.
    pub state: Option<String>,
    /// AWS's reason for the state, if any.
    pub state_reason: Option<String>,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// Subnet ids (sorted).
    pub subnet_ids: Vec<String>,
    /// Security group ids (sorted).
    pub security_group_ids: Vec<String>,
    /// Every attribute AWS reported (empty when not read).
    pub attributes: BTreeMap<String, String>,
}

/// What later resources need of the load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbOutputs {
    /// Its ARN.
    pub arn: String,
    /// Public DNS name.
    pub dns_name: String,
    /// Route 53 hosted zone id of the DNS name.
    pub hosted_zone_id: String,
    /// True when the read that produced these outputs saw the load balancer `active`: a
    /// caller may skip its wait for readiness (no other read would say more).
    pub active: bool,
}

impl AlbObserved {
    /// The load balancer `name` as `action` answered it; `failed` wraps an incomplete answer
    /// (no ARN, DNS name or hosted zone id: the outputs later resources act on).
    fn from_sdk(
        lb: &LoadBalancer,
        name: &str,
        action: &str,
        failed: fn(AwsError) -> Error,
    ) -> Result<Self> {
        let need = |value, field| required(value, action, name, field).map_err(failed);
        Ok(Self {
            arn: need(lb.load_balancer_arn(), "LoadBalancerArn")?.to_string(),
            name: lb.load_balancer_name().unwrap_or(name).to_string(),
            dns_name: need(lb.dns_name(), "DNSName")?.to_string(),
            hosted_zone_id: need(lb.canonical_hosted_zone_id(), "CanonicalHostedZoneId")?
                .to_string(),
            scheme: lb.scheme().map(|s| s.as_str().to_string()),
            lb_type: lb.r#type().map(|t| t.as_str().to_string()),
            ip_address_type: lb.ip_address_type().map(|t| t.as_str().to_string()),
            state: lb
                .state()
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_string()),
            state_reason: lb.state().and_then(|s| s.reason()).map(str::to_string),
            vpc_id: lb.vpc_id().map(str::to_string),
            subnet_ids: sorted(
                &lb.availability_zones()
                    .iter()
                    .filter_map(|az| az.subnet_id().map(str::to_string))
                    .collect::<Vec<_>>(),
            ),
            security_group_ids: sorted(lb.security_groups()),
            attributes: BTreeMap::new(),
        })
    }

    /// The outputs later resources need.
    pub fn outputs(&self) -> AlbOutputs {
        AlbOutputs {
            arn: self.arn.clone(),
            dns_name: self.dns_name.clone(),
            hosted_zone_id: self.hosted_zone_id.clone(),
            active: readiness(Some(self)) == Readiness::Ready,
        }
    }
}

/// DescribeLoadBalancers by name, without attributes. `Ok(None)` when absent.
pub(crate) async fn describe(client: &Client, name: &str) -> Result<Option<AlbObserved>> {
    match client.describe_load_balancers().names(name).send().await {
        Ok(out) => out
            .load_balancers()
            .iter()
            .find(|lb| lb.load_balancer_name().is_none_or(|n| n == name))
            .map(|lb| {
                AlbObserved::from_sdk(
                    lb,
                    name,
                    "describe load balancer",
                    Error::DescribeLoadBalancer,
                )
            })
            .transpose(),
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(None),
        Err(e) => Err(Error::DescribeLoadBalancer(aws_error(
            "describe load balancer",
            name,
            e,
        ))),
    }
}

/// Finds the load balancer named `name` with its attributes. `Ok(None)` when it does not exist
/// (`LoadBalancerNotFound`, also when it vanishes between the two describes).
///
/// # Errors
/// [`Error::DescribeLoadBalancer`], also when AWS's answer lacks the load balancer's ARN,
/// DNS name or hosted zone id ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn find(client: &Client, name: &str) -> Result<Option<AlbObserved>> {
    let Some(mut observed) = describe(client, name).await? else {
        return Ok(None);
    };
    match client
        .describe_load_balancer_attributes()
        .load_balancer_arn(&observed.arn)
        .send()
        .await
    {
        Ok(out) => {
            observed.attributes = out
                .attributes()
                .iter()
                .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
                .collect();
            Ok(Some(observed))
        }
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(None),
        Err(e) => Err(Error::DescribeLoadBalancer(aws_error(
            "describe attributes of load balancer",
            name,
            e,
        ))),
    }
}

/// Properties that cannot change in place (scheme, type), as `field: observed -> desired`.
fn immutable_drift(desired: &AlbDesired, observed: &AlbObserved) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if observed
        .scheme
        .as_deref()
        .is_some_and(|s| s != desired.scheme)
    {
        fields.push(FieldChange::new(
            "Scheme (requires replacement)",
            observed.scheme.clone(),
            Some(desired.scheme.clone()),
        ));
    }
    if observed.lb_type.as_deref().is_some_and(|t| t != TYPE) {
        fields.push(FieldChange::new(
            "Type (requires replacement)",
            observed.lb_type.clone(),
            Some(TYPE.to_string()),
        ));
    }
    fields
}

/// Managed attributes whose observed value differs (an absent one differs).
fn attribute_drift(desired: &AlbDesired, observed: &AlbObserved) -> BTreeMap<String, String> {
    desired
        .attributes()
        .into_iter()
        .filter(|(k, v)| observed.attributes.get(k) != Some(v))
        .collect()
}

/// Pure diff: what [`ensure`] would do.
pub fn diff(desired: &AlbDesired, observed: Option<&AlbObserved>) -> Change {
    let Some(observed) = observed else {
        return Change::new(Phase::ApiServer, KIND, &desired.name, Action::Create);
    };
    let mut fields = immutable_drift(desired, observed);
    if !same_set(&desired.subnet_ids, &observed.subnet_ids) {
        fields.push(FieldChange::new(
            "Subnets",
            show_list(&observed.subnet_ids),
            show_list(&desired.subnet_ids),
        ));
    }
    if !same_set(&desired.security_group_ids, &observed.security_group_ids) {
        fields.push(FieldChange::new(
            "SecurityGroups",
            show_list(&observed.security_group_ids),
            show_list(&desired.security_group_ids),
        ));
    }
    if observed
        .ip_address_type
        .as_deref()
        .is_some_and(|t| t != IP_ADDRESS_TYPE)
    {
        fields.push(FieldChange::new(
            "IpAddressType",
            observed.ip_address_type.clone(),
            Some(IP_ADDRESS_TYPE.to_string()),
        ));
    }
    for (key, value) in attribute_drift(desired, observed) {
        fields.push(FieldChange::new(
            &key,
            observed.attributes.get(&key).cloned(),
            Some(value),
        ));
    }
    let action = if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update { fields }
    };
    Change::new(Phase::ApiServer, KIND, &desired.name, action)
}

fn attribute_list(attrs: &BTreeMap<String, String>) -> Vec<LoadBalancerAttribute> {
    attrs
        .iter()
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect()
}

/// ModifyLoadBalancerAttributes with `attrs`, retrying `LoadBalancerNotFound` (a load balancer
/// created a moment ago may not be visible yet).
async fn modify_attributes(
    client: &Client,
    cx: &Context,
    name: &str,
    arn: &str,
    attrs: &BTreeMap<String, String>,
) -> Result<()> {
    let list = attribute_list(attrs);
    retry_eventual(
        cx.timing,
        &["LoadBalancerNotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            client
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .set_attributes(Some(list.clone()))
                .send()
        },
    )
    .await
    .map_err(|e| {
        Error::UpdateLoadBalancer(aws_error("modify attributes of load balancer", name, e))
    })?;
    Ok(())
}

/// Creates the load balancer when absent (with its tags, then its attributes), updates subnets,
/// security groups, IP address type and attributes when they drifted, adopts it otherwise.
/// Does not wait for it to become active (see [`ready`]).
///
/// # Errors
/// [`Error::ReplacementNeeded`] when scheme or type differ; the AWS error of the failing call.
pub async fn ensure(client: &Client, cx: &Context, desired: &AlbDesired) -> Result<AlbOutputs> {
    let name = desired.name.as_str();
    let observed = match find(client, name).await? {
        Some(observed) => observed,
        None => match create(client, cx, desired).await? {
            Some(outputs) => return Ok(outputs),
            // DuplicateLoadBalancerName: a create whose response was lost; adopt it.
            None => find(client, name)
                .await?
                .ok_or_else(|| Error::MissingField {
                    what: format!("load balancer {name} after a duplicate-name answer"),
                    field: "LoadBalancers",
                })?,
        },
    };
    converge(client, cx, desired, &observed).await?;
    Ok(observed.outputs())
}

/// CreateLoadBalancer then its attributes. `Ok(None)` when AWS says the name is taken.
async fn create(client: &Client, cx: &Context, desired: &AlbDesired) -> Result<Option<AlbOutputs>> {
    let name = desired.name.as_str();
    cx.reporter.applying(KIND, name, "create");
    let tags = cx.tags(COMPONENT, Phase::ApiServer, name);
    let created = client
        .create_load_balancer()
        .name(name)
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(LoadBalancerSchemeEnum::from(desired.scheme.as_str()))
        .ip_address_type(IpAddressType::Ipv4)
        .set_subnets(Some(desired.subnet_ids.clone()))
        .set_security_groups(Some(desired.security_group_ids.clone()))
        .set_tags(Some(sdk_tags(&tags)))
        .send()
        .await;
    let out = match created {
        Ok(out) => out,
        Err(e) if orchestrate_aws::error_code(&e) == Some("DuplicateLoadBalancerName") => {
            cx.reporter.note(
                KIND,
                format!("{name} already exists (an earlier create's answer was lost); adopting it"),
            );
            return Ok(None);
        }
        Err(e) => {
            return Err(Error::CreateLoadBalancer(aws_error(
                "create load balancer",
                name,
                e,
            )));
        }
    };
    let lb = out
        .load_balancers()
        .first()
        .ok_or_else(|| Error::MissingField {
            what: format!("load balancer {name}"),
            field: "LoadBalancers",
        })?;
    let observed =
        AlbObserved::from_sdk(lb, name, "create load balancer", Error::CreateLoadBalancer)?;
    // A new load balancer has AWS's default attributes (idle timeout 60 s, invalid headers
    // kept): set both, since drop_invalid_header_fields always differs. Setting the idle timeout
    // too also makes moto 5.2.1 report it (it omits the attribute until set).
    modify_attributes(client, cx, name, &observed.arn, &desired.attributes()).await?;
    Ok(Some(observed.outputs()))
}

/// Updates exactly the drifted fields of an existing load balancer; no call when none.
async fn converge(
    client: &Client,
    cx: &Context,
    desired: &AlbDesired,
    observed: &AlbObserved,
) -> Result<()> {
    let name = desired.name.as_str();
    let immutable = immutable_drift(desired, observed);
    if !immutable.is_empty() {
        return Err(Error::ReplacementNeeded {
            kind: KIND.into(),
            name: name.into(),
            fields: show_fields(&immutable),
        });
    }
    let arn = observed.arn.as_str();
    let mut updated = false;
    if !same_set(&desired.subnet_ids, &observed.subnet_ids) {
        cx.reporter.applying(KIND, name, "update");
        updated = true;
        client
            .set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(desired.subnet_ids.clone()))
            .send()
            .await
            .map_err(|e| {
                Error::UpdateLoadBalancer(aws_error("set subnets of load balancer", name, e))
            })?;
    }
    if !same_set(&desired.security_group_ids, &observed.security_group_ids) {
        if !updated {
            cx.reporter.applying(KIND, name, "update");
            updated = true;
        }
        client
            .set_security_groups()
            .load_balancer_arn(arn)
            .set_security_groups(Some(desired.security_group_ids.clone()))
            .send()
            .await
            .map_err(|e| {
                Error::UpdateLoadBalancer(aws_error(
                    "set security groups of load balancer",
                    name,
                    e,
                ))
            })?;
    }
    if observed
        .ip_address_type
        .as_deref()
        .is_some_and(|t| t != IP_ADDRESS_TYPE)
    {
        if !updated {
            cx.reporter.applying(KIND, name, "update");
            updated = true;
        }
        client
            .set_ip_address_type()
            .load_balancer_arn(arn)
            .ip_address_type(IpAddressType::Ipv4)
            .send()
            .await
            .map_err(|e| {
                Error::UpdateLoadBalancer(aws_error(
                    "set IP address type of load balancer",
                    name,
                    e,
                ))
            })?;
    }
    let attrs = attribute_drift(desired, observed);
    if !attrs.is_empty() {
        if !updated {
            cx.reporter.applying(KIND, name, "update");
        }
        modify_attributes(client, cx, name, arn, &attrs).await?;
    }
    Ok(())
}

/// `field: from -> to, ...` for an error message.
pub(crate) fn show_fields(fields: &[FieldChange]) -> String {
    fields
        .iter()
        .map(|f| {
            format!(
                "{}: {} -> {}",
                f.field,
                f.from.as_deref().unwrap_or("(none)"),
                f.to.as_deref().unwrap_or("(none)")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Readiness of an observed state: `active` is ready, `provisioning` and `active_impaired` are
/// pending (the latter with AWS's reason), `failed` is a failure.
pub fn readiness(observed: Option<&AlbObserved>) -> Readiness {
    let Some(observed) = observed else {
        return Readiness::pending("not yet visible");
    };
    let reason = observed
        .state_reason
        .as_deref()
        .unwrap_or("no reason given");
    match observed.state.as_deref().map(LoadBalancerStateEnum::from) {
        Some(LoadBalancerStateEnum::Active) => Readiness::Ready,
        Some(LoadBalancerStateEnum::Provisioning) => Readiness::pending("provisioning"),
        Some(LoadBalancerStateEnum::ActiveImpaired) => {
            Readiness::pending(format!("active_impaired: {reason}"))
        }
        Some(LoadBalancerStateEnum::Failed) => Readiness::Failed {
            reason: format!("load balancer failed: {reason}"),
        },
        Some(other) => Readiness::pending(other.as_str().to_string()),
        None => Readiness::pending("(no state reported)"),
    }
}

/// What the poller waits on: the deployment's load balancer reaching `active`.
///
/// # Errors
/// [`Error::DescribeLoadBalancer`].
pub async fn ready(client: &Client, cx: &Context) -> Result<Readiness> {
    let observed = describe(client, &cx.names.load_balancer()).await?;
    Ok(readiness(observed.as_ref()))
}

/// Deletes the load balancer `arn` and waits (at most 5 min, scaled) until DescribeLoadBalancers
/// no longer lists it. `LoadBalancerNotFound` is success.
///
/// # Errors
/// [`Error::DeleteLoadBalancer`], [`Error::DeleteWait`].
pub(crate) async fn delete(client: &Client, cx: &Context, name: &str, arn: &str) -> Result<()> {
    cx.reporter.applying(KIND, name, "delete");
    match client
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => {}
        Err(e) => {
            return Err(Error::DeleteLoadBalancer(aws_error(
                "delete load balancer",
                name,
                e,
            )));
        }
    }
    cx.timing
        .poller(GONE_WITHIN)
        .wait(
            &format!("load balancer {name} to be deleted"),
            || async {
                Ok::<_, Error>(match describe(client, name).await? {
                    None => Readiness::Ready,
                    Some(o) => Readiness::pending(o.state.unwrap_or_else(|| "deleting".into())),
                })
            },
            |state| cx.reporter.waiting(KIND, name, state),
        )
        .await
        .map_err(|source| Error::DeleteWait {
            name: name.into(),
            source: Box::new(source),
        })
}
