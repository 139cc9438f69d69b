//! orchestrate-loadbalancer: the public Application Load Balancer in front of the Airflow
//! api-server (phase 2).
//!
//! Owns three kinds of Elastic Load Balancing v2 resources per deployment:
//! - the ALB [`Names::load_balancer`](orchestrate_core::Names::load_balancer)
//!   (`<name>-alb`): `application`, `ipv4`, internet-facing in the public subnets or
//!   (`load_balancer.scheme = "internal"`) internal in the private subnets, behind the
//!   ALB security group, with the spec's idle timeout and `drop_invalid_header_fields` on
//!   ([`alb`]);
//! - the target group [`Names::target_group`](orchestrate_core::Names::target_group)
//!   (`<name>-api`): HTTP:8080, target type `ip`, health check `GET /api/v2/version` (Airflow's
//!   advice: `/api/v2/monitor/health` fails whenever the scheduler is down), deregistration
//!   delay 30 s ([`target_group`]);
//! - the listeners: HTTP:80 forwarding to the target group, or, with
//!   `load_balancer.certificate_arn`, HTTPS:443 (`ELBSecurityPolicy-TLS13-1-2-2021-06`)
//!   forwarding and HTTP:80 redirecting to HTTPS with a 301 ([`listener`]).
//!
//! Every resource is created with its tags in the create call (`orchestrate:component` =
//! `loadbalancer/alb`, `loadbalancer/target-group`, `loadbalancer/listener`, phase 2).
//!
//! # Guarantees
//! - Found by deterministic name: DescribeLoadBalancers / DescribeTargetGroups with `Names`
//!   (`LoadBalancerNotFound` / `TargetGroupNotFound` are `Ok(None)`); listeners by
//!   DescribeListeners of the load balancer, keyed by port. Names are unique per account and
//!   region, so no duplicate can exist; a create whose answer was lost and is retried answers
//!   `DuplicateLoadBalancerName` / `DuplicateTargetGroupName` / `DuplicateListener`, and the
//!   existing resource is adopted.
//! - [`ensure_load_balancer`] makes no mutating call when nothing differs. Otherwise it updates
//!   only what drifted: subnets (SetSubnets), security groups (SetSecurityGroups), IP address
//!   type (SetIpAddressType), attributes (ModifyLoadBalancerAttributes with only the differing
//!   keys), health check (ModifyTargetGroup with only the differing settings), deregistration
//!   delay (ModifyTargetGroupAttributes), a listener's protocol, TLS policy, certificate or
//!   default action (ModifyListener). A listener tagged with this deployment on a port no
//!   longer wanted (443 after the certificate was removed) is deleted; a listener someone else
//!   added on another port is left alone.
//! - What AWS cannot change in place (a target group's protocol, port, VPC or target type; a
//!   load balancer's scheme or type) is never ignored: [`ensure_load_balancer`] fails with
//!   [`Error::ReplacementNeeded`] naming the fields, and `plan` shows them as
//!   `(requires replacement)`.
//! - [`delete_load_balancer`] is idempotent: listeners, then the load balancer (waiting until it
//!   is gone), then the target group; whatever is already gone is skipped.
//!
//! # Waits
//! [`ensure_load_balancer`] does not wait: the engine polls [`ready`] (the ALB's state: `active`
//! is ready, `provisioning` and `active_impaired` pending, `failed` a failure).
//! [`delete_load_balancer`] waits until DescribeLoadBalancers no longer lists the ALB, for at
//! most 5 minutes (scaled by [`orchestrate_core::Timing`]).
//!
//! # Retries
//! Throttling and 5xx are the SDK's retry policy's job. This crate retries, through
//! [`orchestrate_aws::retry_eventual`] with a bounded budget, only:
//! - `LoadBalancerNotFound` / `TargetGroupNotFound` on the calls that follow a create
//!   (attributes, CreateListener): a resource created a moment ago may not be visible yet;
//! - `ResourceInUse` on DeleteTargetGroup: a load balancer being deleted still holds its target
//!   group for a short while.
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`].

pub mod alb;
mod error;
pub mod listener;
pub mod target_group;
mod util;

#[cfg(test)]
mod tests;

pub use alb::{AlbDesired, AlbObserved, AlbOutputs, ready};
pub use aws_sdk_elasticloadbalancingv2::Client;
pub use error::{Error, Result};
pub use listener::{DefaultAction, ListenerDesired, ListenerObserved, ListenersDesired};
pub use target_group::{
    HealthCheck, ObservedHealthCheck, TargetGroupDesired, TargetGroupObserved, TargetHealthInfo,
    target_health,
};

use orchestrate_core::{Change, Context, Spec};

/// Shown as the forward target in a plan when the target group does not exist yet.
const NEW_TARGET_GROUP: &str = "(target group to be created)";

/// The load balancer, its target group and its listeners as the spec wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerDesired {
    /// The ALB.
    pub alb: AlbDesired,
    /// The api-server target group.
    pub target_group: TargetGroupDesired,
    /// ACM certificate ARN: HTTPS:443 plus an HTTP:80 redirect when set, HTTP:80 otherwise.
    pub certificate_arn: Option<String>,
    /// `load_balancer.domain`: Airflow's URL is `https://<domain>` when set.
    pub domain: Option<String>,
}

impl LoadBalancerDesired {
    /// Everything from the spec and the network's outputs (pure). `subnet_ids` are the public
    /// subnets, or the private ones for an internal ALB (the caller decides). The certificate
    /// is the spec's `certificate_arn`; a certificate orchestrate requests for
    /// `load_balancer.domain` is set by the caller once known ([`Self::with_certificate`]).
    pub fn from_spec(
        spec: &Spec,
        subnet_ids: &[String],
        alb_security_group_id: &str,
        vpc_id: &str,
    ) -> Self {
        Self {
            alb: AlbDesired::from_spec(spec, subnet_ids, alb_security_group_id),
            target_group: TargetGroupDesired::from_spec(spec, vpc_id),
            certificate_arn: spec.load_balancer.certificate_arn.clone(),
            domain: spec.load_balancer.domain.clone(),
        }
    }

    /// The same, with the HTTPS listener on `certificate_arn`.
    pub fn with_certificate(mut self, certificate_arn: Option<String>) -> Self {
        self.certificate_arn = certificate_arn;
        self
    }

    /// The listeners, forwarding to `target_group_arn`.
    pub fn listeners(&self, target_group_arn: &str) -> ListenersDesired {
        ListenersDesired::new(
            &self.alb.name,
            target_group_arn,
            self.certificate_arn.as_deref(),
        )
    }

    /// `https://<domain>` with a domain, else `http://<dns>`, or `https://<dns>` with a
    /// certificate.
    pub fn url(&self, dns_name: &str) -> String {
        match &self.domain {
            Some(domain) => url(domain, true),
            None => url(dns_name, self.certificate_arn.is_some()),
        }
    }
}

/// Where Airflow answers behind the ALB: `https://<dns>` when the listener has a certificate,
/// else `http://<dns>`.
pub fn url(dns_name: &str, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{dns_name}")
}

/// What [`status`] read: the rows, and the ALB's DNS name while it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerStatus {
    /// The ALB, the target group and the listeners.
    pub rows: Vec<orchestrate_core::StatusRow>,
    /// The ALB's public DNS name (`None` when there is no ALB).
    pub dns_name: Option<String>,
}

/// What later phases (the api-server service) and `status` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerOutputs {
    /// The ALB's ARN.
    pub load_balancer_arn: String,
    /// The ALB's public DNS name.
    pub dns_name: String,
    /// The Route 53 hosted zone of the DNS name (for an alias record).
    pub hosted_zone_id: String,
    /// The target group the api-server service registers with.
    pub target_group_arn: String,
    /// Listener ARNs (HTTPS first when there is one).
    pub listener_arns: Vec<String>,
    /// Where Airflow's UI and API answer.
    pub url: String,
}

/// Converges the target group and the ALB (concurrently), then the listeners. Does not wait
/// for the ALB to become active; poll [`ready`] for that.
///
/// # Errors
/// See [`alb::ensure`], [`target_group::ensure`], [`listener::ensure`].
pub async fn ensure_load_balancer(
    client: &Client,
    cx: &Context,
    desired: &LoadBalancerDesired,
) -> Result<LoadBalancerOutputs> {
    let base = ensure_base(client, cx, desired).await?;
    ensure_listeners(client, cx, desired, &base).await
}

/// The ALB and its target group, converged, before their listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerBase {
    /// The ALB.
    pub alb: AlbOutputs,
    /// The api-server target group's ARN.
    pub target_group_arn: String,
}

/// Converges the target group and the ALB (concurrently), not the listeners: the first half
/// of [`ensure_load_balancer`], for a caller that gets the listener's certificate meanwhile.
///
/// # Errors
/// See [`alb::ensure`], [`target_group::ensure`].
pub async fn ensure_base(
    client: &Client,
    cx: &Context,
    desired: &LoadBalancerDesired,
) -> Result<LoadBalancerBase> {
    let (alb, target_group_arn) = tokio::try_join!(
        alb::ensure(client, cx, &desired.alb),
        target_group::ensure(client, cx, &desired.target_group),
    )?;
    Ok(LoadBalancerBase {
        alb,
        target_group_arn,
    })
}

/// Converges the listeners of `base` (the second half of [`ensure_load_balancer`]).
///
/// # Errors
/// See [`listener::ensure`].
pub async fn ensure_listeners(
    client: &Client,
    cx: &Context,
    desired: &LoadBalancerDesired,
    base: &LoadBalancerBase,
) -> Result<LoadBalancerOutputs> {
    let listener_arns = listener::ensure(
        client,
        cx,
        &base.alb.arn,
        &desired.listeners(&base.target_group_arn),
    )
    .await?;
    Ok(LoadBalancerOutputs {
        url: desired.url(&base.alb.dns_name),
        load_balancer_arn: base.alb.arn.clone(),
        dns_name: base.alb.dns_name.clone(),
        hosted_zone_id: base.alb.hosted_zone_id.clone(),
        target_group_arn: base.target_group_arn.clone(),
        listener_arns,
    })
}

/// What [`ensure_load_balancer`] would do: one change for the ALB (`elbv2/load-balancer`), one
/// for the target group (`elbv2/target-group`), one per listener (`elbv2/listener`), plus a
/// deletion per listener of ours that is no longer wanted. Read-only.
///
/// # Errors
/// The describe calls' errors.
pub async fn plan_load_balancer(
    client: &Client,
    cx: &Context,
    desired: &LoadBalancerDesired,
) -> Result<Vec<Change>> {
    let (alb, tg) = tokio::try_join!(
        alb::find(client, &desired.alb.name),
        target_group::find(client, &desired.target_group.name),
    )?;
    let tg_arn = tg.as_ref().map_or(NEW_TARGET_GROUP, |t| t.arn.as_str());
    let listeners_desired = desired.listeners(tg_arn);
    let listeners = match &alb {
        Some(alb) => Some(listener::find(client, cx, &alb.arn, &listeners_desired).await?),
        None => None,
    };
    let mut changes = vec![
        alb::diff(&desired.alb, alb.as_ref()),
        target_group::diff(&desired.target_group, tg.as_ref()),
    ];
    changes.extend(listener::diff(&listeners_desired, listeners.as_deref()));
    Ok(changes)
}

/// The ALB (with its state and DNS name), the target group and the listeners, in at most
/// three calls.
/// Read-only.
///
/// # Errors
/// [`Error::DescribeLoadBalancer`], [`Error::DescribeTargetGroup`],
/// [`Error::DescribeListeners`].
pub async fn status(client: &Client, cx: &Context) -> Result<LoadBalancerStatus> {
    use orchestrate_core::{Phase, StatusRow};
    let alb_name = cx.names.load_balancer();
    let tg_name = cx.names.target_group();
    let (alb, target_group) = tokio::try_join!(
        alb::describe(client, &alb_name),
        target_group::describe(client, &tg_name)
    )?;
    let mut rows = Vec::new();
    match &alb {
        Some(a) => {
            let state = a.state.clone().unwrap_or_else(|| "unknown".into());
            let healthy = state == "active";
            rows.push(StatusRow::new(
                Phase::ApiServer,
                alb::KIND,
                &alb_name,
                format!("{state} {}", a.dns_name),
                healthy,
            ));
        }
        None => rows.push(StatusRow::absent(Phase::ApiServer, alb::KIND, &alb_name)),
    }
    rows.push(match &target_group {
        Some(_) => StatusRow::new(Phase::ApiServer, target_group::KIND, &tg_name, "ok", true),
        None => StatusRow::absent(Phase::ApiServer, target_group::KIND, &tg_name),
    });
    if let Some(a) = &alb {
        for l in listener::list(client, &alb_name, &a.arn).await? {
            rows.push(StatusRow::new(
                Phase::ApiServer,
                listener::KIND,
                &format!("{alb_name}:{}", l.port),
                l.protocol.clone().unwrap_or_else(|| "ok".into()),
                true,
            ));
        }
    }
    Ok(LoadBalancerStatus {
        rows,
        dns_name: alb.map(|a| a.dns_name),
    })
}

/// Deletes the listeners, the ALB (waiting until it is gone) and the target group (retrying
/// `ResourceInUse` while the deleted ALB still holds it). Idempotent.
///
/// # Errors
/// [`Error::DescribeLoadBalancer`], [`Error::DescribeListeners`], [`Error::DeleteListener`],
/// [`Error::DeleteLoadBalancer`], [`Error::DeleteWait`], [`Error::DescribeTargetGroup`],
/// [`Error::DeleteTargetGroup`].
pub async fn delete_load_balancer(client: &Client, cx: &Context) -> Result<()> {
    let name = cx.names.load_balancer();
    if let Some(alb) = alb::describe(client, &name).await? {
        listener::delete(client, cx, &name, &alb.arn).await?;
        alb::delete(client, cx, &name, &alb.arn).await?;
    }
    target_group::delete(client, cx).await
}
