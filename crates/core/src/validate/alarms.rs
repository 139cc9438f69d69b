//! `[alarms]`: one destination, a well-formed topic ARN in the deployment's region or e-mail
//! address, thresholds CloudWatch can compare with.

use std::sync::LazyLock;

use regex::Regex;

use super::Findings;
use crate::spec::Spec;

/// An SNS topic ARN (botocore `topicARN`; topic names are 1-256 of `[A-Za-z0-9_-]`, `.fifo`
/// topics cannot be alarm actions). Captures the region.
static TOPIC_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws(?:-cn|-us-gov)?:sns:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:[A-Za-z0-9_-]{1,256}$",
    )
    .unwrap_or_else(|_| unreachable!("a valid pattern"))
});

/// An e-mail address SNS accepts as an `email` endpoint: one `@`, a dotted domain, no spaces.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
        .unwrap_or_else(|_| unreachable!("a valid pattern"))
});

pub(super) fn check(spec: &Spec, f: &mut Findings) {
    let alarms = &spec.alarms;
    if alarms.sns_topic_arn.is_some() && alarms.email.is_some() {
        f.error(
            "alarms-destination",
            "alarms.email",
            "both alarms.sns_topic_arn and alarms.email are set; alarms notify one topic",
            "keep sns_topic_arn (subscribe the address to that topic yourself) or remove it to \
             let orchestrate create <name>-alarms with this address",
        );
    }
    if let Some(arn) = &alarms.sns_topic_arn {
        match TOPIC_ARN.captures(arn) {
            None => f.error(
                "alarms-topic-arn",
                "alarms.sns_topic_arn",
                format!("'{arn}' is not an SNS topic ARN"),
                "use arn:aws:sns:REGION:ACCOUNT:TOPIC (12-digit account; a standard topic, not .fifo)",
            ),
            Some(c) if c.get(1).map(|m| m.as_str()) != Some(spec.deployment.region.as_str()) => {
                f.error(
                    "alarms-topic-arn",
                    "alarms.sns_topic_arn",
                    format!(
                        "the topic is in {} but the deployment is in {}; CloudWatch alarms notify topics of their own region",
                        c.get(1).map_or("another region", |m| m.as_str()),
                        spec.deployment.region
                    ),
                    "create the topic in the deployment's region, or give alarms.email instead",
                )
            }
            Some(_) => {}
        }
    }
    if let Some(email) = &alarms.email
        && (email.len() > 254 || !EMAIL.is_match(email))
    {
        f.error(
            "alarms-email",
            "alarms.email",
            format!("'{email}' is not an e-mail address"),
            "write one address such as oncall@example.com (a list goes on a topic you own: sns_topic_arn)",
        );
    }
    for (key, value) in [
        ("rds_cpu_percent", alarms.rds_cpu_percent),
        ("valkey_memory_percent", alarms.valkey_memory_percent),
        ("worker_cpu_percent", alarms.worker_cpu_percent),
    ] {
        if !(1..=100).contains(&value) {
            f.error(
                "alarms-threshold",
                format!("alarms.{key}"),
                format!("{value}% is not a percentage that can be reached"),
                "use 1 to 100",
            );
        }
    }
    for (key, value) in [
        ("api_5xx_per_minute", alarms.api_5xx_per_minute),
        ("rds_connections", alarms.rds_connections),
    ] {
        if value == 0 {
            f.error(
                "alarms-threshold",
                format!("alarms.{key}"),
                "0 would fire as soon as the metric is reported",
                "use 1 or more",
            );
        }
    }
    let storage = i64::from(spec.database.allocated_storage_gb);
    let free = i64::from(alarms.rds_free_storage_gb);
    if free == 0 || free >= storage {
        f.error(
            "alarms-threshold",
            "alarms.rds_free_storage_gb",
            format!(
                "{free} GiB of free storage against {storage} GiB allocated would never or always fire"
            ),
            format!("use 1 to {} GiB", (storage - 1).max(1)),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use crate::spec::load::parse_with_env;
    use crate::validate::{Severity, validate};

    fn rules(alarms: &str) -> Vec<(&'static str, String)> {
        let text =
            format!("[deployment]\nname = \"demo\"\nregion = \"us-east-1\"\n[alarms]\n{alarms}");
        let loaded =
            parse_with_env(Path::new("o.toml"), text, &BTreeMap::new()).expect("spec parses");
        validate(&loaded.spec)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| (f.rule, f.path))
            .collect()
    }

    #[test]
    fn good_destinations_pass() {
        assert_eq!(rules("email = \"oncall@example.com\"\n"), vec![]);
        assert_eq!(
            rules("sns_topic_arn = \"arn:aws:sns:us-east-1:123456789012:team-pager\"\n"),
            vec![]
        );
        assert_eq!(
            rules("rds_cpu_percent = 100\nrds_free_storage_gb = 19\n"),
            vec![]
        );
    }

    #[test]
    fn both_destinations_are_refused() {
        let found = rules(
            "sns_topic_arn = \"arn:aws:sns:us-east-1:123456789012:team\"\nemail = \"a@example.com\"\n",
        );
        assert_eq!(found, [("alarms-destination", "alarms.email".to_string())]);
    }

    #[test]
    fn malformed_or_foreign_topic_arns_are_refused() {
        for bad in [
            "arn:aws:sns:us-east-1:1234:team",
            "arn:aws:sqs:us-east-1:123456789012:team",
            "team-pager",
            "arn:aws:sns:us-east-1:123456789012:team.fifo",
            "arn:aws:sns:eu-west-1:123456789012:team",
        ] {
            assert_eq!(
                rules(&format!("sns_topic_arn = \"{bad}\"\n")),
                [("alarms-topic-arn", "alarms.sns_topic_arn".to_string())],
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "oncall",
            "on call@example.com",
            "a@b",
            "a@@example.com",
            "a@example.com,b@example.com",
        ] {
            assert_eq!(
                rules(&format!("email = \"{bad}\"\n")),
                [("alarms-email", "alarms.email".to_string())],
                "{bad}"
            );
        }
    }

    #[test]
    fn unreachable_thresholds_are_refused() {
        for (line, path) in [
            ("rds_cpu_percent = 0", "alarms.rds_cpu_percent"),
            (
                "valkey_memory_percent = 101",
                "alarms.valkey_memory_percent",
            ),
            ("worker_cpu_percent = 150", "alarms.worker_cpu_percent"),
            ("api_5xx_per_minute = 0", "alarms.api_5xx_per_minute"),
            ("rds_connections = 0", "alarms.rds_connections"),
            ("rds_free_storage_gb = 20", "alarms.rds_free_storage_gb"),
            ("rds_free_storage_gb = 0", "alarms.rds_free_storage_gb"),
        ] {
            assert_eq!(
                rules(&format!("{line}\n")),
                [("alarms-threshold", path.to_string())],
                "{line}"
            );
        }
    }
}
