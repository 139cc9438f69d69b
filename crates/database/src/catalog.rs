//! What RDS offers in the region, for `orchestrate verify` (read-only): the PostgreSQL engine
//! versions available and whether an instance class is orderable for a version.
//!
//! # Guarantees
//! - Read-only: DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions only.
//! - Each call makes at most [`VERIFY_ATTEMPTS`] attempts: a check that cannot read is a
//!   warning for the caller, not worth the SDK's full retry budget (an endpoint that lacks the
//!   API answers HTTP 500, which the SDK would retry for a minute).
//! - Versions are matched as RDS's CreateDBInstance reads them: a major version (`16`) is any
//!   available `16.x` (RDS picks the minor), a full version (`16.4`) only itself.

use aws_sdk_rds::Client;
use orchestrate_aws::aws_error;

use crate::error::{Error, Result};
use crate::instance::ENGINE;

/// Attempts per read (the first one included).
pub const VERIFY_ATTEMPTS: u32 = 3;

fn few_retries() -> aws_sdk_rds::config::Builder {
    aws_sdk_rds::config::Builder::default().retry_config(
        aws_sdk_rds::config::retry::RetryConfig::standard().with_max_attempts(VERIFY_ATTEMPTS),
    )
}

/// The DB parameter group family of a PostgreSQL major version (`postgres16`).
pub fn parameter_group_family(version: &str) -> String {
    format!("{ENGINE}{}", crate::instance::major(version))
}

/// The available PostgreSQL versions of `version`'s major version in the region
/// (DescribeDBEngineVersions, Engine `postgres`, DBParameterGroupFamily `postgres<major>`;
/// RDS lists only available versions unless asked for all), sorted oldest first. Without
/// `version`: every available PostgreSQL version (several pages on AWS; read only to name
/// the majors offered when the spec's is not).
///
/// # Errors
/// [`Error::DescribeEngineVersions`] when the call fails (AccessDenied, an endpoint without
/// the API, ...): the caller decides by its kind whether that is a warning.
pub async fn engine_versions(client: &Client, version: Option<&str>) -> Result<Vec<String>> {
    let family = version.map(parameter_group_family);
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .describe_db_engine_versions()
            .engine(ENGINE)
            .set_db_parameter_group_family(family.clone())
            .set_marker(marker.take())
            .customize()
            .config_override(few_retries())
            .send()
            .await
            .map_err(|e| {
                Error::DescribeEngineVersions(aws_error(
                    "describe DB engine versions",
                    family.as_deref().unwrap_or(ENGINE),
                    e,
                ))
            })?;
        versions.extend(
            out.db_engine_versions()
                .iter()
                .filter(|v| v.engine().is_none_or(|e| e == ENGINE))
                .filter(|v| v.status().is_none_or(|s| s == "available"))
                .filter_map(|v| v.engine_version().map(str::to_string)),
        );
        match out.marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
            _ => break,
        }
    }
    sort_versions(&mut versions);
    Ok(versions)
}

/// Sorts dotted versions numerically (`16.10` after `16.9`), dropping duplicates.
pub fn sort_versions(versions: &mut Vec<String>) {
    let key = |v: &String| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    versions.sort_by_key(key);
    versions.dedup();
}

/// The version of `available` the spec's `wanted` resolves to (pure): itself when it is a
/// full version RDS offers, the newest offered minor of a major version, `None` when RDS
/// offers no match.
pub fn resolve_version<'a>(wanted: &str, available: &'a [String]) -> Option<&'a str> {
    if wanted.contains('.') {
        available
            .iter()
            .find(|v| v.as_str() == wanted)
            .map(String::as_str)
    } else {
        available
            .iter()
            .rev()
            .find(|v| crate::instance::major(v) == wanted)
            .map(String::as_str)
    }
}

/// The instance classes orderable for PostgreSQL `version` (DescribeOrderableDBInstanceOptions
/// with Engine and EngineVersion), restricted to `class` when given (one small page), sorted
/// and deduplicated. Without `class`, at most `limit` rows are read (one page): enough to name
/// alternatives.
///
/// # Errors
/// [`Error::DescribeOrderable`] when the call fails.
pub async fn orderable_classes(
    client: &Client,
    version: &str,
    class: Option<&str>,
    limit: i32,
) -> Result<Vec<String>> {
    let out = client
        .describe_orderable_db_instance_options()
        .engine(ENGINE)
        .engine_version(version)
        .set_db_instance_class(class.map(str::to_string))
        .max_records(limit.clamp(20, 100))
        .customize()
        .config_override(few_retries())
        .send()
        .await
        .map_err(|e| {
            Error::DescribeOrderable(aws_error(
                "describe orderable DB instance options",
                class.unwrap_or(version),
                e,
            ))
        })?;
    let mut classes: Vec<String> = out
        .orderable_db_instance_options()
        .iter()
        .filter(|o| o.engine().is_none_or(|e| e == ENGINE))
        .filter(|o| o.engine_version().is_none_or(|v| v == version))
        .filter_map(|o| o.db_instance_class().map(str::to_string))
        .filter(|c| class.is_none_or(|wanted| wanted == c))
        .collect();
    classes.sort();
    classes.dedup();
    Ok(classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_major_resolves_to_its_newest_minor_and_a_full_version_to_itself() {
        let mut available = list(&["16.10", "16.3", "16.9"]);
        sort_versions(&mut available);
        assert_eq!(available, list(&["16.3", "16.9", "16.10"]));
        assert_eq!(resolve_version("16", &available), Some("16.10"));
        assert_eq!(resolve_version("16.9", &available), Some("16.9"));
        assert_eq!(resolve_version("16.4", &available), None);
        assert_eq!(resolve_version("17", &available), None);
        assert_eq!(resolve_version("1", &available), None);
        assert_eq!(parameter_group_family("16.4"), "postgres16");
        assert_eq!(parameter_group_family("17"), "postgres17");
    }
}
