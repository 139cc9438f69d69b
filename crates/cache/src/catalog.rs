//! What ElastiCache offers in the region, for `orchestrate verify` (read-only): the Valkey
//! engine versions.
//!
//! # Guarantees
//! - Read-only: DescribeCacheEngineVersions only, at most [`VERIFY_ATTEMPTS`] attempts (a
//!   check that cannot read is a warning for the caller).
//! - The node type is not checked here: ElastiCache has no "orderable node types" API (see
//!   docs/verify.md); a node type the region lacks is refused by CreateReplicationGroup.

use aws_sdk_elasticache::Client;
use orchestrate_aws::aws_error;

use crate::error::{Error, Result};
use crate::replication_group::ENGINE;

/// Attempts per read (the first one included).
pub const VERIFY_ATTEMPTS: u32 = 3;

/// The Valkey versions ElastiCache offers in the region (DescribeCacheEngineVersions,
/// Engine `valkey`), sorted oldest first.
///
/// # Errors
/// [`Error::DescribeEngineVersions`] when the call fails: the caller decides by its kind
/// whether that is a warning.
pub async fn engine_versions(client: &Client) -> Result<Vec<String>> {
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .describe_cache_engine_versions()
            .engine(ENGINE)
            .set_marker(marker.take())
            .customize()
            .config_override(
                aws_sdk_elasticache::config::Builder::default().retry_config(
                    aws_sdk_elasticache::config::retry::RetryConfig::standard()
                        .with_max_attempts(VERIFY_ATTEMPTS),
                ),
            )
            .send()
            .await
            .map_err(|e| {
                Error::DescribeEngineVersions(aws_error(
                    "describe cache engine versions",
                    ENGINE,
                    e,
                ))
            })?;
        versions.extend(
            out.cache_engine_versions()
                .iter()
                .filter(|v| v.engine().is_none_or(|e| e == ENGINE))
                .filter_map(|v| v.engine_version().map(str::to_string)),
        );
        match out.marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
            _ => break,
        }
    }
    let key = |v: &String| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    versions.sort_by_key(key);
    versions.dedup();
    Ok(versions)
}

/// True when ElastiCache's `available` versions contain the spec's `wanted` (pure): the same
/// version, or with a major version only (`8`), any `8.x`.
pub fn offers(wanted: &str, available: &[String]) -> bool {
    available
        .iter()
        .any(|v| v == wanted || (!wanted.contains('.') && v.split('.').next() == Some(wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_offered_exactly_or_by_its_major() {
        let available: Vec<String> = ["7.2", "8.0", "8.1"].map(String::from).to_vec();
        assert!(offers("8.0", &available));
        assert!(offers("8", &available));
        assert!(!offers("7.1", &available));
        assert!(!offers("9", &available));
        assert!(!offers("8.2", &available));
    }
}
