//! The load balancer's listeners: HTTP:80 forwarding to the api-server, or, with a
//! certificate, HTTPS:443 forwarding and HTTP:80 redirecting to HTTPS.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{Certificate, ProtocolEnum};
use orchestrate_aws::{aws_error, is_not_found_code, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::names::TAG_DEPLOYMENT;
use orchestrate_core::{Context, Phase, Readiness, ReporterExt};

mod action;

pub use action::ObservedAction;
use action::{sdk_action, show_action, show_desired_action};

use crate::error::{Error, Result};
use crate::util::{EVENTUAL_ATTEMPTS, sdk_tags};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "elbv2/listener";
/// `orchestrate:component` tag of a listener.
pub const COMPONENT: &str = "loadbalancer/listener";
/// TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// What a listener does with every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultAction {
    /// Forward to the target group with this ARN.
    Forward {
        /// The target group.
        target_group_arn: String,
    },
    /// Redirect to `https://#{host}:443/#{path}?#{query}` with HTTP 301.
    RedirectToHttps,
}

/// One listener as the spec wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerDesired {
    /// Port (80 or 443).
    pub port: i32,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    /// TLS policy (HTTPS only).
    pub ssl_policy: Option<String>,
    /// ACM certificate ARN (HTTPS only).
    pub certificate_arn: Option<String>,
    /// The default action.
    pub action: DefaultAction,
}

/// Every listener the load balancer should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenersDesired {
    /// The load balancer's name (listener names in plans are `<lb>:<port>`).
    pub load_balancer_name: String,
    /// The listeners, HTTPS first (so that HTTP never redirects to a missing listener).
    pub listeners: Vec<ListenerDesired>,
}

impl ListenersDesired {
    /// HTTP:80 forwarding to `target_group_arn`; with `certificate_arn`, HTTPS:443 forwarding
    /// and HTTP:80 redirecting to it.
    pub fn new(
        load_balancer_name: &str,
        target_group_arn: &str,
        certificate_arn: Option<&str>,
    ) -> Self {
        let forward = DefaultAction::Forward {
            target_group_arn: target_group_arn.to_string(),
        };
        let listeners = match certificate_arn {
            None => vec![ListenerDesired {
                port: 80,
                protocol: "HTTP".into(),
                ssl_policy: None,
                certificate_arn: None,
                action: forward,
            }],
            Some(cert) => vec![
                ListenerDesired {
                    port: 443,
                    protocol: "HTTPS".into(),
                    ssl_policy: Some(SSL_POLICY.into()),
                    certificate_arn: Some(cert.to_string()),
                    action: forward,
                },
                ListenerDesired {
                    port: 80,
                    protocol: "HTTP".into(),
                    ssl_policy: None,
                    certificate_arn: None,
                    action: DefaultAction::RedirectToHttps,
                },
            ],
        };
        Self {
            load_balancer_name: load_balancer_name.to_string(),
            listeners,
        }
    }

    /// The name shown for the listener on `port`.
    pub fn listener_name(&self, port: i32) -> String {
        format!("{}:{port}", self.load_balancer_name)
    }

    fn wants_port(&self, port: i32) -> bool {
        self.listeners.iter().any(|l| l.port == port)
    }
}

/// What AWS reports about one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerObserved {
    /// Its ARN.
    pub arn: String,
    /// Port.
    pub port: i32,
    /// Protocol.
    pub protocol: Option<String>,
    /// TLS policy.
    pub ssl_policy: Option<String>,
    /// Certificate ARNs (the default one first).
    pub certificate_arns: Vec<String>,
    /// Default actions, in AWS's order.
    pub actions: Vec<ObservedAction>,
    /// Whether it carries this deployment's `orchestrate:deployment` tag. Read only for
    /// listeners on ports the spec no longer wants (to decide whether to delete them); `None`
    /// when not read.
    pub ours: Option<bool>,
}

/// Lists the listeners of `load_balancer_arn` and, for those on ports `desired` does not want,
/// whether they are ours (DescribeTags). A missing load balancer has no listeners.
///
/// # Errors
/// [`Error::DescribeListeners`].
pub async fn find(
    client: &Client,
    cx: &Context,
    load_balancer_arn: &str,
    desired: &ListenersDesired,
) -> Result<Vec<ListenerObserved>> {
    let name = desired.load_balancer_name.as_str();
    let mut observed = list(client, name, load_balancer_arn).await?;
    let extra: Vec<String> = observed
        .iter()
        .filter(|l| !desired.wants_port(l.port))
        .map(|l| l.arn.clone())
        .collect();
    if extra.is_empty() {
        return Ok(observed);
    }
    let tags = client
        .describe_tags()
        .set_resource_arns(Some(extra))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeListeners(aws_error("describe tags of listeners of", name, e))
        })?;
    for listener in observed.iter_mut().filter(|l| !desired.wants_port(l.port)) {
        let ours = tags
            .tag_descriptions()
            .iter()
            .filter(|d| d.resource_arn() == Some(listener.arn.as_str()))
            .flat_map(|d| d.tags())
            .any(|t| t.key() == Some(TAG_DEPLOYMENT) && t.value() == Some(cx.names.deployment()));
        listener.ours = Some(ours);
    }
    Ok(observed)
}

/// DescribeListeners of a load balancer (all pages). `LoadBalancerNotFound` reads as none; a
/// listener without an ARN is skipped, one without a port is an incomplete answer.
pub(crate) async fn list(
    client: &Client,
    name: &str,
    load_balancer_arn: &str,
) -> Result<Vec<ListenerObserved>> {
    let mut listeners = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = match client
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => {
                return Ok(Vec::new());
            }
            Err(e) => {
                return Err(Error::DescribeListeners(aws_error(
                    "describe listeners of",
                    name,
                    e,
                )));
            }
        };
        for l in out.listeners() {
            let Some(arn) = l.listener_arn() else {
                tracing::debug!(
                    load_balancer = name,
                    "skipping a listener without an ARN: nothing could act on it"
                );
                continue;
            };
            // Listeners are matched to the wanted ones by port: one without a port could be
            // neither adopted nor safely deleted.
            let port = *required(
                l.port().as_ref(),
                "describe listeners of",
                name,
                "Listeners[].Port",
            )
            .map_err(Error::DescribeListeners)?;
            listeners.push(ListenerObserved {
                arn: arn.to_string(),
                port,
                protocol: l.protocol().map(|p| p.as_str().to_string()),
                ssl_policy: l.ssl_policy().map(str::to_string),
                certificate_arns: l
                    .certificates()
                    .iter()
                    .filter_map(|c| c.certificate_arn().map(str::to_string))
                    .collect(),
                actions: l
                    .default_actions()
                    .iter()
                    .map(ObservedAction::from_sdk)
                    .collect(),
                ours: None,
            });
        }
        match out.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
            _ => return Ok(listeners),
        }
    }
}

/// The fields of `observed` that differ from `desired`. TLS policy and certificate are only
/// compared on HTTPS listeners (AWS may report a policy on an HTTP listener; it means nothing).
fn listener_drift(desired: &ListenerDesired, observed: &ListenerObserved) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if observed.protocol.as_deref() != Some(desired.protocol.as_str()) {
        fields.push(FieldChange::new(
            "Protocol",
            observed.protocol.clone(),
            desired.protocol.clone(),
        ));
    }
    if desired.protocol == "HTTPS" {
        if observed.ssl_policy != desired.ssl_policy {
            fields.push(FieldChange::new(
                "SslPolicy",
                observed.ssl_policy.clone(),
                desired.ssl_policy.clone(),
            ));
        }
        if observed.certificate_arns.first() != desired.certificate_arn.as_ref() {
            fields.push(FieldChange::new(
                "Certificates",
                observed.certificate_arns.first().cloned(),
                desired.certificate_arn.clone(),
            ));
        }
    }
    let action_ok = observed.actions.len() == 1 && observed.actions[0].matches(&desired.action);
    if !action_ok {
        fields.push(FieldChange::new(
            "DefaultActions",
            observed
                .actions
                .iter()
                .map(show_action)
                .collect::<Vec<_>>()
                .join("; "),
            show_desired_action(&desired.action),
        ));
    }
    fields
}

/// Pure diff: one change per wanted listener, plus a deletion for each listener of ours on a
/// port no longer wanted. `observed` is `None` when the load balancer does not exist yet.
pub fn diff(desired: &ListenersDesired, observed: Option<&[ListenerObserved]>) -> Vec<Change> {
    let observed = observed.unwrap_or_default();
    let mut changes: Vec<Change> = desired
        .listeners
        .iter()
        .map(|want| {
            let name = desired.listener_name(want.port);
            let action = match observed.iter().find(|l| l.port == want.port) {
                None => Action::Create,
                Some(have) => {
                    let fields = listener_drift(want, have);
                    if fields.is_empty() {
                        Action::NoChange
                    } else {
                        Action::Update { fields }
                    }
                }
            };
            Change::new(Phase::ApiServer, KIND, &name, action)
        })
        .collect();
    for extra in observed
        .iter()
        .filter(|l| !desired.wants_port(l.port) && l.ours == Some(true))
    {
        changes.push(Change::new(
            Phase::ApiServer,
            KIND,
            &desired.listener_name(extra.port),
            Action::Delete,
        ));
    }
    changes
}

fn sdk_certificates(desired: &ListenerDesired) -> Option<Vec<Certificate>> {
    desired
        .certificate_arn
        .as_ref()
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// Creates the missing listeners (with their tags), modifies the drifted ones, deletes the
/// listeners of ours on ports no longer wanted. Returns the listener ARNs in `desired` order.
///
/// # Errors
/// [`Error::DescribeListeners`], [`Error::CreateListener`], [`Error::UpdateListener`],
/// [`Error::DeleteListener`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    load_balancer_arn: &str,
    desired: &ListenersDesired,
) -> Result<Vec<String>> {
    let mut observed = find(client, cx, load_balancer_arn, desired).await?;
    let mut arns = Vec::with_capacity(desired.listeners.len());
    for want in &desired.listeners {
        let name = desired.listener_name(want.port);
        let have = match observed.iter().find(|l| l.port == want.port) {
            Some(have) => have.clone(),
            None => match create(client, cx, load_balancer_arn, &name, want).await? {
                Some(arn) => {
                    arns.push(arn);
                    continue;
                }
                // DuplicateListener: created meanwhile (a lost answer); read it again.
                None => {
                    observed = list(client, &desired.load_balancer_name, load_balancer_arn).await?;
                    observed
                        .iter()
                        .find(|l| l.port == want.port)
                        .cloned()
                        .ok_or_else(|| Error::MissingField {
                            what: format!("listener {name} after a duplicate-listener answer"),
                            field: "Listeners",
                        })?
                }
            },
        };
        if !listener_drift(want, &have).is_empty() {
            cx.reporter.applying(KIND, &name, "update");
            // The whole listener is sent, actions included (moto 5.2.1 answers 500 to a
            // ModifyListener without DefaultActions).
            client
                .modify_listener()
                .listener_arn(&have.arn)
                .port(want.port)
                .protocol(ProtocolEnum::from(want.protocol.as_str()))
                .set_ssl_policy(want.ssl_policy.clone())
                .set_certificates(sdk_certificates(want))
                .default_actions(sdk_action(&want.action))
                .send()
                .await
                .map_err(|e| Error::UpdateListener(aws_error("modify listener", &name, e)))?;
        }
        arns.push(have.arn);
    }
    for extra in observed
        .iter()
        .filter(|l| !desired.wants_port(l.port) && l.ours == Some(true))
    {
        delete_one(client, cx, &desired.listener_name(extra.port), &extra.arn).await?;
    }
    Ok(arns)
}

/// CreateListener with tags, retrying the not-found codes of a load balancer or target group
/// created a moment ago. `Ok(None)` on `DuplicateListener`.
async fn create(
    client: &Client,
    cx: &Context,
    load_balancer_arn: &str,
    name: &str,
    want: &ListenerDesired,
) -> Result<Option<String>> {
    cx.reporter.applying(KIND, name, "create");
    let tags = sdk_tags(&cx.tags(COMPONENT, Phase::ApiServer, name));
    let created = retry_eventual(
        cx.timing,
        &["LoadBalancerNotFound", "TargetGroupNotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            client
                .create_listener()
                .load_balancer_arn(load_balancer_arn)
                .port(want.port)
                .protocol(ProtocolEnum::from(want.protocol.as_str()))
                .set_ssl_policy(want.ssl_policy.clone())
                .set_certificates(sdk_certificates(want))
                .default_actions(sdk_action(&want.action))
                .set_tags(Some(tags.clone()))
                .send()
        },
    )
    .await;
    match created {
        Ok(out) => out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(|arn| Some(arn.to_string()))
            .ok_or_else(|| Error::MissingField {
                what: format!("listener {name}"),
                field: "ListenerArn",
            }),
        Err(e) if orchestrate_aws::error_code(&e) == Some("DuplicateListener") => Ok(None),
        Err(e) => Err(Error::CreateListener(aws_error("create listener", name, e))),
    }
}

/// DeleteListener; `ListenerNotFound` is success.
async fn delete_one(client: &Client, cx: &Context, name: &str, arn: &str) -> Result<()> {
    cx.reporter.applying(KIND, name, "delete");
    match client.delete_listener().listener_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(()),
        Err(e) => Err(Error::DeleteListener(aws_error("delete listener", name, e))),
    }
}

/// A listener is usable as soon as it exists: always [`Readiness::Ready`].
pub fn ready() -> Readiness {
    Readiness::Ready
}

/// Deletes every listener of `load_balancer_arn` (they are all ours: the load balancer is).
///
/// # Errors
/// [`Error::DescribeListeners`], [`Error::DeleteListener`].
pub async fn delete(
    client: &Client,
    cx: &Context,
    lb_name: &str,
    load_balancer_arn: &str,
) -> Result<()> {
    for listener in list(client, lb_name, load_balancer_arn).await? {
        delete_one(
            client,
            cx,
            &format!("{lb_name}:{}", listener.port),
            &listener.arn,
        )
        .await?;
    }
    Ok(())
}
