//! Availability zones: which zones of the region the deployment spans.
//!
//! Resolved once by the engine and pinned in the lock file; this module only asks AWS.

use aws_sdk_ec2::Client;
use orchestrate_aws::aws_error;

use crate::error::{Error, Result};
use crate::util::filter;

/// The first `count` zones of the region, by name, that are `available`, of type
/// `availability-zone` (no Local/Wavelength zones) and need no opt-in.
///
/// # Errors
/// [`Error::DescribeZones`] when the call fails, [`Error::NotEnoughZones`] when the region has
/// fewer than `count` such zones.
pub async fn resolve_zones(client: &Client, count: u8) -> Result<Vec<String>> {
    let out = client
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .filters(filter("zone-type", "availability-zone"))
        .filters(filter("opt-in-status", "opt-in-not-required"))
        .send()
        .await
        .map_err(|e| Error::DescribeZones(aws_error("describe availability zones", "region", e)))?;
    let zones = select_zones(
        out.availability_zones().iter().filter_map(|z| {
            // Filters are applied by AWS; re-check so a lenient endpoint cannot widen them.
            let usable = z.state().is_none_or(|s| s.as_str() == "available")
                && z.zone_type().is_none_or(|t| t == "availability-zone")
                && z.opt_in_status()
                    .is_none_or(|o| o.as_str() == "opt-in-not-required");
            usable.then(|| z.zone_name().map(str::to_string)).flatten()
        }),
        usize::from(count),
    )?;
    Ok(zones)
}

/// Sorts, dedups and takes the first `count` zone names (pure).
///
/// # Errors
/// [`Error::NotEnoughZones`] when fewer than `count` are given.
pub fn select_zones(names: impl IntoIterator<Item = String>, count: usize) -> Result<Vec<String>> {
    let mut zones: Vec<String> = names.into_iter().collect();
    zones.sort();
    zones.dedup();
    if zones.len() < count {
        return Err(Error::NotEnoughZones {
            wanted: count,
            found: zones.len(),
            zones: zones.join(", "),
        });
    }
    zones.truncate(count);
    Ok(zones)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
    use aws_sdk_ec2::types::{
        AvailabilityZone, AvailabilityZoneOptInStatus, AvailabilityZoneState,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn zone(name: &str, zone_type: &str) -> AvailabilityZone {
        AvailabilityZone::builder()
            .zone_name(name)
            .state(AvailabilityZoneState::Available)
            .zone_type(zone_type)
            .opt_in_status(AvailabilityZoneOptInStatus::OptInNotRequired)
            .build()
    }

    #[tokio::test]
    async fn sorted_filtered_first_count() {
        let rule = mock!(Client::describe_availability_zones)
            .match_requests(|r| {
                let names: Vec<_> = r.filters().iter().filter_map(|f| f.name()).collect();
                names.contains(&"state")
                    && names.contains(&"zone-type")
                    && names.contains(&"opt-in-status")
            })
            .then_output(|| {
                DescribeAvailabilityZonesOutput::builder()
                    .availability_zones(zone("us-east-1c", "availability-zone"))
                    .availability_zones(zone("us-east-1a", "availability-zone"))
                    .availability_zones(zone("us-east-1-bos-1a", "local-zone"))
                    .availability_zones(zone("us-east-1b", "availability-zone"))
                    .build()
            });
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]);
        let zones = resolve_zones(&client, 2).await.expect("zones");
        assert_eq!(zones, vec!["us-east-1a", "us-east-1b"]);
        assert!(matches!(
            resolve_zones(&client, 4).await,
            Err(Error::NotEnoughZones {
                wanted: 4,
                found: 3,
                ..
            })
        ));
    }
}
