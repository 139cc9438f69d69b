//! Shared helpers: ownership (names + tags), SDK tag/filter conversion, and the patient
//! delete loop for resources that other resources still depend on for a while.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};
use orchestrate_core::{Context, Names, Phase, Readiness, ReporterExt, Spec, Tags, WaitError};

use crate::error::{Error, Result};

/// How long a delete may keep failing with a dependency error (ENIs of deleted tasks, load
/// balancers or databases linger for minutes) before it gives up.
pub const DEPENDENCY_WAIT: Duration = Duration::from_secs(15 * 60);

/// Codes that mean "something still uses it; try again shortly" on delete/release.
pub(crate) const DEPENDENCY_CODES: &[&str] = &["DependencyViolation", "InvalidIPAddress.InUse"];

/// Who owns the network resources: the deployment's names and the user's extra tags.
///
/// Pure: built from the spec (or a [`Context`]), so every `Desired` is testable without AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Resource names of the deployment.
    pub names: Names,
    /// The user's extra tags.
    pub user_tags: BTreeMap<String, String>,
}

impl Owner {
    /// The owner described by a spec.
    pub fn from_spec(spec: &Spec) -> Self {
        Self {
            names: Names::new(&spec.deployment.name),
            user_tags: spec.deployment.tags.clone(),
        }
    }

    /// The owner described by a context.
    pub fn from_context(cx: &Context) -> Self {
        Self {
            names: cx.names.clone(),
            user_tags: cx.user_tags.clone(),
        }
    }

    /// The tags of a phase-1 resource of `component` named `name` (same as [`Context::tags`]).
    pub fn tags(&self, component: &str, name: &str) -> Tags {
        Tags::new(
            self.names.deployment(),
            component,
            Phase::Storage,
            &self.user_tags,
        )
        .with("Name", name)
    }
}

/// A TagSpecification carrying `tags` for a resource of type `resource_type`.
pub(crate) fn tag_spec(resource_type: ResourceType, tags: &Tags) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource_type);
    for (key, value) in tags.iter() {
        spec = spec.tags(Tag::builder().key(key).value(value).build());
    }
    spec.build()
}

/// SDK tags as a map (tests inspect create requests with it).
#[cfg(test)]
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// The `Name` tag, if any.
pub(crate) fn name_tag(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value().map(str::to_string))
}

/// A Describe* filter.
pub(crate) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Filters selecting this deployment's resources of `component`.
pub(crate) fn owned(cx: &Context, component: &str) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{TAG_DEPLOYMENT}"), cx.names.deployment()),
        filter(&format!("tag:{TAG_COMPONENT}"), component),
    ]
}

/// Filters selecting this deployment's resource of `component` whose `Name` tag is `name`.
pub(crate) fn owned_named(cx: &Context, component: &str, name: &str) -> Vec<Filter> {
    let mut filters = owned(cx, component);
    filters.push(filter("tag:Name", name));
    filters
}

/// True when `tags` mark a resource of this deployment's `component` (and `Name` = `name`
/// when given). Describe filters already select on the same tags; this re-check keeps a
/// lenient endpoint (moto ignores tag filters on DescribeNatGateways) from widening them.
pub(crate) fn owned_by(tags: &[Tag], cx: &Context, component: &str, name: Option<&str>) -> bool {
    let get = |k: &str| {
        tags.iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
    };
    get(TAG_DEPLOYMENT) == Some(cx.names.deployment())
        && get(TAG_COMPONENT) == Some(component)
        && name.is_none_or(|n| get("Name") == Some(n))
}

/// The letter(s) that distinguish an AZ within its region: `us-east-1a` -> `a`.
pub fn az_suffix(az: &str) -> &str {
    match az.rfind(|c: char| c.is_ascii_digit()) {
        Some(i) if i + 1 < az.len() => &az[i + 1..],
        _ => az,
    }
}

/// An id AWS must have returned.
pub(crate) fn required(value: Option<&str>, what: &str, field: &'static str) -> Result<String> {
    value
        .map(str::to_string)
        .ok_or_else(|| Error::MissingField {
            what: what.to_string(),
            field,
        })
}

/// Calls `call` until it succeeds, AWS says the resource is gone, or the dependency error
/// persists past [`DEPENDENCY_WAIT`] (scaled). Only [`DEPENDENCY_CODES`] are retried.
pub(crate) async fn delete_patiently<F, Fut>(
    cx: &Context,
    kind: &str,
    name: &str,
    mut call: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let what = format!("{kind} {name} to be deleted");
    let result = cx
        .timing
        .poller(DEPENDENCY_WAIT)
        .wait(
            &what,
            || {
                let attempt = call();
                async move {
                    match attempt.await {
                        Ok(()) => Ok(Readiness::Ready),
                        Err(e) => match e.aws() {
                            Some(a) if a.is_not_found() => Ok(Readiness::Ready),
                            Some(a) if DEPENDENCY_CODES.contains(&a.code.as_str()) => {
                                Ok(Readiness::pending(format!("{}: {}", a.code, a.message)))
                            }
                            _ => Err(e),
                        },
                    }
                }
            },
            |state| cx.reporter.waiting(kind, name, state),
        )
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(WaitError::Probe { source, .. }) => Err(source),
        Err(source) => Err(Error::Wait {
            what,
            source: Box::new(source),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn az_suffix_is_the_trailing_letters() {
        assert_eq!(az_suffix("us-east-1a"), "a");
        assert_eq!(az_suffix("ap-southeast-2c"), "c");
        assert_eq!(az_suffix("zone"), "zone");
        assert_eq!(az_suffix("eu-west-1"), "eu-west-1");
    }

    #[test]
    fn tag_spec_carries_every_tag() {
        let owner = Owner::from_spec(&Spec::minimal("demo", "us-east-1"));
        let spec = tag_spec(ResourceType::Vpc, &owner.tags("network/vpc", "demo-vpc"));
        let tags = tag_map(spec.tags());
        assert_eq!(tags.get(TAG_DEPLOYMENT).map(String::as_str), Some("demo"));
        assert_eq!(
            tags.get(TAG_COMPONENT).map(String::as_str),
            Some("network/vpc")
        );
        assert_eq!(tags.get("Name").map(String::as_str), Some("demo-vpc"));
        assert_eq!(spec.resource_type(), Some(&ResourceType::Vpc));
    }
}
