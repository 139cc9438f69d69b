//! Small helpers shared by the resource modules.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::Tag;
use orchestrate_core::Tags;

/// How many times a call that may hit eventual consistency right after a create is tried.
pub(crate) const EVENTUAL_ATTEMPTS: u32 = 8;

/// The tags in the SDK's shape, for a create call.
pub(crate) fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// True when both lists hold the same values, in any order.
pub(crate) fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// A list shown in a plan: sorted, comma-separated.
pub(crate) fn show_list(values: &[String]) -> String {
    let sorted: BTreeSet<&String> = values.iter().collect();
    sorted
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A sorted, de-duplicated copy.
pub(crate) fn sorted(values: &[String]) -> Vec<String> {
    values
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
