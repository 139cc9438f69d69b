//! Small helpers shared by the resource modules: tag conversion, ARN parsing, and the
//! classification of IAM-propagation errors for [`orchestrate_aws::retry_eventual`].

use std::collections::BTreeMap;

use aws_sdk_ecs::types::Tag;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orchestrate_aws::{HasCode, error_code};
use orchestrate_core::Tags;

/// Shown for a status AWS's answer does not give (a deployment's, a service's, a task's):
/// never an empty string.
pub const UNKNOWN: &str = "UNKNOWN";

/// Synthetic code under which [`Eventual`] reports an IAM role (or the ECS service-linked
/// role) that exists but is not yet usable by ECS.
pub(crate) const ROLE_NOT_READY: &str = "RoleNotReady";

/// Synthetic code for a target group that ELB has not yet associated with its load balancer
/// (the listener was created a moment ago).
pub(crate) const TARGET_GROUP_NOT_READY: &str = "TargetGroupNotReady";

/// Attempts for IAM-propagation retries: with `retry_eventual`'s 2 s growing to 10 s pauses,
/// about 80 s, longer than IAM usually takes to propagate a new role.
pub(crate) const EVENTUAL_ATTEMPTS: u32 = 10;

/// A deterministic idempotency token of `parts` (32 hex characters, within CreateService's
/// 36-character limit): two FNV-1a 64-bit hashes with different offsets. The same inputs give
/// the same token in every run, so a run re-started after a crash reuses it.
pub(crate) fn stable_token(parts: &[&str]) -> String {
    let hash = |offset: u64| {
        parts.iter().fold(offset, |h, part| {
            part.bytes()
                .chain(std::iter::once(0))
                .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
        })
    };
    format!(
        "{:016x}{:016x}",
        hash(0xcbf2_9ce4_8422_2325),
        hash(0x6c62_272e_07bb_0142)
    )
}

/// ECS tags of `tags`.
pub(crate) fn ecs_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// `tags` as a map (entries without a key are dropped).
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            // AWS allows an empty tag value: a tag with a key and no value has that value.
            t.key()
                .map(|k| (k.to_string(), t.value().unwrap_or("").to_string()))
        })
        .collect()
}

/// The last `/`-separated segment of an ARN (a task id, `family:revision`, a service name).
pub fn arn_tail(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `family:revision` of a task definition ARN (or the input when it is already short).
pub fn revision_label(task_definition: &str) -> &str {
    arn_tail(task_definition)
}

/// An SDK error whose [`HasCode::code`] says [`ROLE_NOT_READY`] when ECS could not (yet)
/// assume a role, so that `retry_eventual` retries exactly that and nothing else.
#[derive(Debug)]
pub(crate) struct Eventual<E, R>(pub SdkError<E, R>);

impl<E: ProvideErrorMetadata, R> HasCode for Eventual<E, R> {
    fn code(&self) -> Option<&str> {
        let code = error_code(&self.0);
        let message = match &self.0 {
            SdkError::ServiceError(s) => s.err().message(),
            _ => None,
        };
        match code {
            Some("ClientException" | "InvalidParameterException")
                if message.is_some_and(is_role_propagation) =>
            {
                Some(ROLE_NOT_READY)
            }
            Some("InvalidParameterException")
                if message.is_some_and(is_target_group_propagation) =>
            {
                Some(TARGET_GROUP_NOT_READY)
            }
            other => other,
        }
    }
}

/// Messages ECS gives for a role it cannot assume yet: RegisterTaskDefinition's
/// `Role is not valid`, CreateService/RunTask's `ECS was unable to assume the role ...`, and
/// a brand-new account's `Unable to assume the service linked role`.
pub(crate) fn is_role_propagation(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("role is not valid")
        || m.contains("unable to assume")
        || m.contains("cannot be assumed")
        || m.contains("could not be assumed")
}

/// CreateService's message for a target group whose listener is seconds old.
pub(crate) fn is_target_group_propagation(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .contains("does not have an associated load balancer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parts() {
        assert_eq!(
            revision_label("arn:aws:ecs:us-east-1:1:task-definition/demo-worker:7"),
            "demo-worker:7"
        );
        assert_eq!(
            arn_tail("arn:aws:ecs:us-east-1:1:task/demo/abc123"),
            "abc123"
        );
        assert_eq!(arn_tail("plain"), "plain");
    }

    #[test]
    fn role_messages() {
        assert!(is_role_propagation("Role is not valid"));
        assert!(is_role_propagation(
            "ECS was unable to assume the role 'arn:aws:iam::1:role/x' that was provided for this task."
        ));
        assert!(is_role_propagation(
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
        ));
        assert!(!is_role_propagation("Container.image should not be null"));
        assert!(is_target_group_propagation(
            "The target group with targetGroupArn arn:x does not have an associated load balancer."
        ));
    }
}
