//! Default actions: what AWS reports, how it compares with what the spec wants, and the
//! SDK shape sent in CreateListener / ModifyListener.

use aws_sdk_elasticloadbalancingv2::types::{
    Action as SdkAction, ActionTypeEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use super::DefaultAction;

/// Redirect host/path/query that keep the request's own (AWS's defaults, sent explicitly).
const REDIRECT_HOST: &str = "#{host}";
const REDIRECT_PATH: &str = "/#{path}";
const REDIRECT_QUERY: &str = "#{query}";

/// A default action as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedAction {
    /// Forward to these target groups.
    Forward {
        /// Target group ARNs (from `TargetGroupArn` and `ForwardConfig`, de-duplicated).
        target_group_arns: Vec<String>,
    },
    /// Redirect.
    Redirect {
        /// Protocol.
        protocol: Option<String>,
        /// Port.
        port: Option<String>,
        /// Host.
        host: Option<String>,
        /// Path.
        path: Option<String>,
        /// Query.
        query: Option<String>,
        /// `HTTP_301` / `HTTP_302`.
        status_code: Option<String>,
    },
    /// Anything else (fixed response, authentication, ...).
    Other {
        /// The action type.
        kind: String,
    },
}

impl ObservedAction {
    pub(super) fn from_sdk(action: &SdkAction) -> Self {
        match action.r#type() {
            Some(ActionTypeEnum::Forward) => {
                let mut arns: Vec<String> = action
                    .target_group_arn()
                    .map(str::to_string)
                    .into_iter()
                    .collect();
                if let Some(config) = action.forward_config() {
                    for tg in config.target_groups() {
                        if let Some(arn) = tg.target_group_arn()
                            && !arns.iter().any(|a| a == arn)
                        {
                            arns.push(arn.to_string());
                        }
                    }
                }
                Self::Forward {
                    target_group_arns: arns,
                }
            }
            Some(ActionTypeEnum::Redirect) => {
                let c = action.redirect_config();
                Self::Redirect {
                    protocol: c.and_then(|c| c.protocol()).map(str::to_string),
                    port: c.and_then(|c| c.port()).map(str::to_string),
                    host: c.and_then(|c| c.host()).map(str::to_string),
                    path: c.and_then(|c| c.path()).map(str::to_string),
                    query: c.and_then(|c| c.query()).map(str::to_string),
                    status_code: c
                        .and_then(|c| c.status_code())
                        .map(|s| s.as_str().to_string()),
                }
            }
            other => Self::Other {
                kind: other.map_or_else(|| "(none)".into(), |t| t.as_str().to_string()),
            },
        }
    }

    pub(super) fn matches(&self, desired: &DefaultAction) -> bool {
        match (self, desired) {
            (Self::Forward { target_group_arns }, DefaultAction::Forward { target_group_arn }) => {
                target_group_arns.len() == 1 && target_group_arns[0] == *target_group_arn
            }
            (
                Self::Redirect {
                    protocol,
                    port,
                    host,
                    path,
                    query,
                    status_code,
                },
                DefaultAction::RedirectToHttps,
            ) => {
                protocol.as_deref() == Some("HTTPS")
                    && port.as_deref() == Some("443")
                    && status_code.as_deref() == Some("HTTP_301")
                    && host.as_deref().unwrap_or(REDIRECT_HOST) == REDIRECT_HOST
                    && path.as_deref().unwrap_or(REDIRECT_PATH) == REDIRECT_PATH
                    && query.as_deref().unwrap_or(REDIRECT_QUERY) == REDIRECT_QUERY
            }
            _ => false,
        }
    }
}

pub(super) fn show_action(action: &ObservedAction) -> String {
    match action {
        ObservedAction::Forward { target_group_arns } => {
            format!("forward {}", target_group_arns.join(","))
        }
        ObservedAction::Redirect {
            protocol,
            port,
            status_code,
            ..
        } => format!(
            "redirect {}:{} {}",
            protocol.as_deref().unwrap_or("#{protocol}"),
            port.as_deref().unwrap_or("#{port}"),
            status_code.as_deref().unwrap_or("")
        ),
        ObservedAction::Other { kind } => kind.clone(),
    }
}

pub(super) fn show_desired_action(action: &DefaultAction) -> String {
    match action {
        DefaultAction::Forward { target_group_arn } => format!("forward {target_group_arn}"),
        DefaultAction::RedirectToHttps => "redirect HTTPS:443 HTTP_301".into(),
    }
}

pub(super) fn sdk_action(action: &DefaultAction) -> SdkAction {
    match action {
        DefaultAction::Forward { target_group_arn } => SdkAction::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(target_group_arn)
            .build(),
        DefaultAction::RedirectToHttps => SdkAction::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .host(REDIRECT_HOST)
                    .path(REDIRECT_PATH)
                    .query(REDIRECT_QUERY)
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    }
}
