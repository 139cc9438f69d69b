//! The api-server's target group: desired shape, find, diff, ensure, ready, delete, and the
//! health of its registered targets.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use orchestrate_aws::{aws_error, is_not_found_code, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Names, Phase, Readiness, ReporterExt, Spec};

use crate::alb::show_fields;
use crate::error::{Error, Result};
use crate::util::{EVENTUAL_ATTEMPTS, sdk_tags};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "elbv2/target-group";
/// `orchestrate:component` tag of the target group.
pub const COMPONENT: &str = "loadbalancer/target-group";
/// Attribute key of the deregistration delay.
pub const ATTR_DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
/// The api-server's container port.
pub const API_SERVER_PORT: i32 = 8080;
/// The health-check path: Airflow advises probing the version endpoint, because
/// `/api/v2/monitor/health` fails whenever the scheduler is down, which would make the load
/// balancer (and ECS) kill a healthy api-server.
pub const HEALTH_CHECK_PATH: &str = "/api/v2/version";

/// The target group's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Health checks enabled.
    pub enabled: bool,
    /// `HTTP`.
    pub protocol: String,
    /// `traffic-port` or a number.
    pub port: String,
    /// Path probed.
    pub path: String,
    /// Seconds between checks.
    pub interval_seconds: i32,
    /// Seconds before a check times out.
    pub timeout_seconds: i32,
    /// Consecutive successes to become healthy.
    pub healthy_threshold: i32,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold: i32,
    /// HTTP codes counted as success.
    pub matcher: String,
}

impl HealthCheck {
    /// The api-server's health check: `GET /api/v2/version` on the traffic port every 30 s,
    /// 10 s timeout, healthy after 2, unhealthy after 3, expecting 200.
    pub fn api_server() -> Self {
        Self {
            enabled: true,
            protocol: "HTTP".into(),
            port: "traffic-port".into(),
            path: HEALTH_CHECK_PATH.into(),
            interval_seconds: 30,
            timeout_seconds: 10,
            healthy_threshold: 2,
            unhealthy_threshold: 3,
            matcher: "200".into(),
        }
    }

    /// `(field, observed, desired)` for each differing setting, fields named as in
    /// ModifyTargetGroup. A setting AWS did not report differs (`None` as observed).
    pub fn drift(
        &self,
        observed: &ObservedHealthCheck,
    ) -> Vec<(&'static str, Option<String>, String)> {
        let show = |v: Option<i32>| v.map(|v| v.to_string());
        let pairs = [
            (
                "HealthCheckEnabled",
                Some(observed.enabled.to_string()),
                self.enabled.to_string(),
            ),
            (
                "HealthCheckProtocol",
                observed.protocol.clone(),
                self.protocol.clone(),
            ),
            ("HealthCheckPort", observed.port.clone(), self.port.clone()),
            ("HealthCheckPath", observed.path.clone(), self.path.clone()),
            (
                "HealthCheckIntervalSeconds",
                show(observed.interval_seconds),
                self.interval_seconds.to_string(),
            ),
            (
                "HealthCheckTimeoutSeconds",
                show(observed.timeout_seconds),
                self.timeout_seconds.to_string(),
            ),
            (
                "HealthyThresholdCount",
                show(observed.healthy_threshold),
                self.healthy_threshold.to_string(),
            ),
            (
                "UnhealthyThresholdCount",
                show(observed.unhealthy_threshold),
                self.unhealthy_threshold.to_string(),
            ),
            ("Matcher", observed.matcher.clone(), self.matcher.clone()),
        ];
        pairs
            .into_iter()
            .filter(|(_, o, d)| o.as_deref() != Some(d.as_str()))
            .collect()
    }
}

/// The target group's health check as AWS reports it: `None` for a setting the answer does
/// not give (never an empty string or 0), which then differs from any desired value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedHealthCheck {
    /// Health checks enabled (AWS's default, true, when not reported).
    pub enabled: bool,
    /// `HTTP`.
    pub protocol: Option<String>,
    /// `traffic-port` or a number.
    pub port: Option<String>,
    /// Path probed.
    pub path: Option<String>,
    /// Seconds between checks.
    pub interval_seconds: Option<i32>,
    /// Seconds before a check times out.
    pub timeout_seconds: Option<i32>,
    /// Consecutive successes to become healthy.
    pub healthy_threshold: Option<i32>,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold: Option<i32>,
    /// HTTP codes counted as success.
    pub matcher: Option<String>,
}

/// What the target group should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupDesired {
    /// Its name ([`Names::target_group`], at most 32 characters).
    pub name: String,
    /// `HTTP` (TLS ends at the load balancer).
    pub protocol: String,
    /// The api-server's port.
    pub port: i32,
    /// `ip` (Fargate tasks in awsvpc mode).
    pub target_type: String,
    /// The deployment's VPC.
    pub vpc_id: String,
    /// Health check settings.
    pub health_check: HealthCheck,
    /// `deregistration_delay.timeout_seconds`.
    pub deregistration_delay_seconds: i32,
}

impl TargetGroupDesired {
    /// The api-server target group of the spec's deployment in `vpc_id`.
    pub fn from_spec(spec: &Spec, vpc_id: &str) -> Self {
        Self {
            name: Names::new(&spec.deployment.name).target_group(),
            protocol: "HTTP".into(),
            port: API_SERVER_PORT,
            target_type: "ip".into(),
            vpc_id: vpc_id.into(),
            health_check: HealthCheck::api_server(),
            deregistration_delay_seconds: 30,
        }
    }
}

/// What AWS reports about the target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupObserved {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Protocol (`HTTP`).
    pub protocol: Option<String>,
    /// Port.
    pub port: Option<i32>,
    /// Target type (`ip`).
    pub target_type: Option<String>,
    /// VPC id.
    pub vpc_id: Option<String>,
    /// Health check (absent values are `None`).
    pub health_check: ObservedHealthCheck,
    /// Load balancers forwarding to it.
    pub load_balancer_arns: Vec<String>,
    /// Every attribute AWS reported (empty when not read).
    pub attributes: BTreeMap<String, String>,
}

impl TargetGroupObserved {
    /// The target group `name` as DescribeTargetGroups answered it.
    ///
    /// # Errors
    /// [`Error::DescribeTargetGroup`] ([`orchestrate_aws::INCOMPLETE_ANSWER`]) without an ARN.
    fn from_sdk(tg: &TargetGroup, name: &str) -> Result<Self> {
        Ok(Self {
            arn: required(
                tg.target_group_arn(),
                "describe target group",
                name,
                "TargetGroupArn",
            )
            .map_err(Error::DescribeTargetGroup)?
            .to_string(),
            name: tg.target_group_name().unwrap_or(name).to_string(),
            protocol: tg.protocol().map(|p| p.as_str().to_string()),
            port: tg.port(),
            target_type: tg.target_type().map(|t| t.as_str().to_string()),
            vpc_id: tg.vpc_id().map(str::to_string),
            health_check: ObservedHealthCheck {
                enabled: tg.health_check_enabled().unwrap_or(true),
                protocol: tg.health_check_protocol().map(|p| p.as_str().to_string()),
                port: tg.health_check_port().map(str::to_string),
                path: tg.health_check_path().map(str::to_string),
                interval_seconds: tg.health_check_interval_seconds(),
                timeout_seconds: tg.health_check_timeout_seconds(),
                healthy_threshold: tg.healthy_threshold_count(),
                unhealthy_threshold: tg.unhealthy_threshold_count(),
                matcher: tg.matcher().and_then(|m| m.http_code()).map(str::to_string),
            },
            load_balancer_arns: tg.load_balancer_arns().to_vec(),
            attributes: BTreeMap::new(),
        })
    }
}

/// DescribeTargetGroups by name, without attributes. `Ok(None)` when absent.
pub(crate) async fn describe(client: &Client, name: &str) -> Result<Option<TargetGroupObserved>> {
    match client.describe_target_groups().names(name).send().await {
        Ok(out) => out
            .target_groups()
            .iter()
            .find(|tg| tg.target_group_name().is_none_or(|n| n == name))
            .map(|tg| TargetGroupObserved::from_sdk(tg, name))
            .transpose(),
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(None),
        Err(e) => Err(Error::DescribeTargetGroup(aws_error(
            "describe target group",
            name,
            e,
        ))),
    }
}

/// Finds the target group named `name` with its attributes. `Ok(None)` when it does not exist
/// (`TargetGroupNotFound`, also when it vanishes between the two describes).
///
/// # Errors
/// [`Error::DescribeTargetGroup`], also when AWS's answer lacks the target group's ARN
/// ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn find(client: &Client, name: &str) -> Result<Option<TargetGroupObserved>> {
    let Some(mut observed) = describe(client, name).await? else {
        return Ok(None);
    };
    match client
        .describe_target_group_attributes()
        .target_group_arn(&observed.arn)
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
        Err(e) => Err(Error::DescribeTargetGroup(aws_error(
            "describe attributes of target group",
            name,
            e,
        ))),
    }
}

/// Properties a target group cannot change in place.
fn immutable_drift(
    desired: &TargetGroupDesired,
    observed: &TargetGroupObserved,
) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    let mut check = |field: &str, from: Option<String>, to: String| {
        if from.as_deref() != Some(to.as_str()) {
            fields.push(FieldChange::new(
                &format!("{field} (requires replacement)"),
                from,
                Some(to),
            ));
        }
    };
    check(
        "Protocol",
        observed.protocol.clone(),
        desired.protocol.clone(),
    );
    check(
        "Port",
        observed.port.map(|p| p.to_string()),
        desired.port.to_string(),
    );
    check("VpcId", observed.vpc_id.clone(), desired.vpc_id.clone());
    check(
        "TargetType",
        observed.target_type.clone(),
        desired.target_type.clone(),
    );
    fields
}

fn delay_drift(
    desired: &TargetGroupDesired,
    observed: &TargetGroupObserved,
) -> Option<FieldChange> {
    let want = desired.deregistration_delay_seconds.to_string();
    let have = observed.attributes.get(ATTR_DEREGISTRATION_DELAY);
    (have != Some(&want)).then(|| FieldChange::new(ATTR_DEREGISTRATION_DELAY, have.cloned(), want))
}

/// Pure diff: what [`ensure`] would do. Properties that need a replacement are shown with
/// `(requires replacement)`; [`ensure`] refuses them with [`Error::ReplacementNeeded`].
pub fn diff(desired: &TargetGroupDesired, observed: Option<&TargetGroupObserved>) -> Change {
    let Some(observed) = observed else {
        return Change::new(Phase::ApiServer, KIND, &desired.name, Action::Create);
    };
    let mut fields = immutable_drift(desired, observed);
    for (field, from, to) in desired.health_check.drift(&observed.health_check) {
        fields.push(FieldChange::new(field, from, to));
    }
    fields.extend(delay_drift(desired, observed));
    let action = if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update { fields }
    };
    Change::new(Phase::ApiServer, KIND, &desired.name, action)
}

async fn set_delay(
    client: &Client,
    cx: &Context,
    desired: &TargetGroupDesired,
    arn: &str,
) -> Result<()> {
    let attribute = TargetGroupAttribute::builder()
        .key(ATTR_DEREGISTRATION_DELAY)
        .value(desired.deregistration_delay_seconds.to_string())
        .build();
    retry_eventual(
        cx.timing,
        &["TargetGroupNotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            client
                .modify_target_group_attributes()
                .target_group_arn(arn)
                .attributes(attribute.clone())
                .send()
        },
    )
    .await
    .map_err(|e| {
        Error::UpdateTargetGroup(aws_error(
            "modify attributes of target group",
            &desired.name,
            e,
        ))
    })?;
    Ok(())
}

/// Creates the target group when absent (with its tags and health check, then its
/// deregistration delay), updates the health check and the delay when they drifted, adopts it
/// otherwise. Returns its ARN.
///
/// # Errors
/// [`Error::ReplacementNeeded`] when protocol, port, VPC or target type differ; the AWS error
/// of the failing call.
pub async fn ensure(client: &Client, cx: &Context, desired: &TargetGroupDesired) -> Result<String> {
    let name = desired.name.as_str();
    let observed = match find(client, name).await? {
        Some(observed) => observed,
        None => match create(client, cx, desired).await? {
            Some(arn) => return Ok(arn),
            None => find(client, name)
                .await?
                .ok_or_else(|| Error::MissingField {
                    what: format!("target group {name} after a duplicate-name answer"),
                    field: "TargetGroups",
                })?,
        },
    };
    let immutable = immutable_drift(desired, &observed);
    if !immutable.is_empty() {
        return Err(Error::ReplacementNeeded {
            kind: KIND.into(),
            name: name.into(),
            fields: show_fields(&immutable),
        });
    }
    let health = desired.health_check.drift(&observed.health_check);
    let delay = delay_drift(desired, &observed);
    if !health.is_empty() || delay.is_some() {
        cx.reporter.applying(KIND, name, "update");
    }
    if !health.is_empty() {
        let want = &desired.health_check;
        let mut req = client.modify_target_group().target_group_arn(&observed.arn);
        for (field, _, _) in &health {
            req = match *field {
                "HealthCheckEnabled" => req.health_check_enabled(want.enabled),
                "HealthCheckProtocol" => {
                    req.health_check_protocol(ProtocolEnum::from(want.protocol.as_str()))
                }
                "HealthCheckPort" => req.health_check_port(&want.port),
                "HealthCheckPath" => req.health_check_path(&want.path),
                "HealthCheckIntervalSeconds" => {
                    req.health_check_interval_seconds(want.interval_seconds)
                }
                "HealthCheckTimeoutSeconds" => {
                    req.health_check_timeout_seconds(want.timeout_seconds)
                }
                "HealthyThresholdCount" => req.healthy_threshold_count(want.healthy_threshold),
                "UnhealthyThresholdCount" => {
                    req.unhealthy_threshold_count(want.unhealthy_threshold)
                }
                _ => req.matcher(Matcher::builder().http_code(&want.matcher).build()),
            };
        }
        req.send().await.map_err(|e| {
            Error::UpdateTargetGroup(aws_error("modify health check of target group", name, e))
        })?;
    }
    if delay.is_some() {
        set_delay(client, cx, desired, &observed.arn).await?;
    }
    Ok(observed.arn)
}

/// CreateTargetGroup then its attribute. `Ok(None)` when AWS says the name is taken.
async fn create(
    client: &Client,
    cx: &Context,
    desired: &TargetGroupDesired,
) -> Result<Option<String>> {
    let name = desired.name.as_str();
    cx.reporter.applying(KIND, name, "create");
    let hc = &desired.health_check;
    let tags = cx.tags(COMPONENT, Phase::ApiServer, name);
    let created = client
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::from(desired.protocol.as_str()))
        .port(desired.port)
        .vpc_id(&desired.vpc_id)
        .target_type(TargetTypeEnum::from(desired.target_type.as_str()))
        .health_check_enabled(hc.enabled)
        .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
        .health_check_port(&hc.port)
        .health_check_path(&hc.path)
        .health_check_interval_seconds(hc.interval_seconds)
        .health_check_timeout_seconds(hc.timeout_seconds)
        .healthy_threshold_count(hc.healthy_threshold)
        .unhealthy_threshold_count(hc.unhealthy_threshold)
        .matcher(Matcher::builder().http_code(&hc.matcher).build())
        .set_tags(Some(sdk_tags(&tags)))
        .send()
        .await;
    let out = match created {
        Ok(out) => out,
        Err(e) if orchestrate_aws::error_code(&e) == Some("DuplicateTargetGroupName") => {
            cx.reporter.note(
                KIND,
                format!("{name} already exists with other settings; adopting it"),
            );
            return Ok(None);
        }
        Err(e) => {
            return Err(Error::CreateTargetGroup(aws_error(
                "create target group",
                name,
                e,
            )));
        }
    };
    let arn = out
        .target_groups()
        .first()
        .and_then(|tg| tg.target_group_arn())
        .ok_or_else(|| Error::MissingField {
            what: format!("target group {name}"),
            field: "TargetGroupArn",
        })?
        .to_string();
    // A new target group has AWS's default delay (300 s).
    set_delay(client, cx, desired, &arn).await?;
    Ok(Some(arn))
}

/// A target group is usable as soon as it exists.
///
/// # Errors
/// [`Error::DescribeTargetGroup`].
pub async fn ready(client: &Client, cx: &Context) -> Result<Readiness> {
    Ok(match describe(client, &cx.names.target_group()).await? {
        Some(_) => Readiness::Ready,
        None => Readiness::pending("not yet visible"),
    })
}

/// Deletes the deployment's target group, retrying `ResourceInUse` (a load balancer being
/// deleted still holds it) within a bounded budget. Absent is success.
///
/// # Errors
/// [`Error::DescribeTargetGroup`], [`Error::DeleteTargetGroup`].
pub async fn delete(client: &Client, cx: &Context) -> Result<()> {
    let name = cx.names.target_group();
    let Some(observed) = describe(client, &name).await? else {
        return Ok(());
    };
    cx.reporter.applying(KIND, &name, "delete");
    let result = retry_eventual(cx.timing, &["ResourceInUse"], 15, || {
        client
            .delete_target_group()
            .target_group_arn(&observed.arn)
            .send()
    })
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(()),
        Err(e) => Err(Error::DeleteTargetGroup(aws_error(
            "delete target group",
            &name,
            e,
        ))),
    }
}

/// The health of one registered target, as the load balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealthInfo {
    /// Target id (the task's private IP).
    pub id: String,
    /// Target port.
    pub port: Option<i32>,
    /// `initial` / `healthy` / `unhealthy` / `draining` / `unused` / `unavailable`.
    pub state: String,
    /// AWS's reason code (`Target.ResponseCodeMismatch`, ...).
    pub reason: Option<String>,
    /// AWS's description (`Health checks failed with these codes: [503]`).
    pub description: Option<String>,
}

/// Every registered target of `target_group_arn` with its health (for `status` and `doctor`).
///
/// # Errors
/// [`Error::DescribeTargetHealth`], also for a target without its id ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn target_health(
    client: &Client,
    target_group_arn: &str,
) -> Result<Vec<TargetHealthInfo>> {
    let out = client
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| {
            Error::DescribeTargetHealth(aws_error("describe target health of", target_group_arn, e))
        })?;
    out.target_health_descriptions()
        .iter()
        .map(|d| {
            Ok(TargetHealthInfo {
                id: required(
                    d.target().and_then(|t| t.id()),
                    "describe target health of",
                    target_group_arn,
                    "TargetHealthDescriptions[].Target.Id",
                )
                .map_err(Error::DescribeTargetHealth)?
                .to_string(),
                port: d.target().and_then(|t| t.port()),
                state: d
                    .target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "unknown".into()),
                reason: d
                    .target_health()
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_string()),
                description: d
                    .target_health()
                    .and_then(|h| h.description())
                    .map(str::to_string),
            })
        })
        .collect()
}
