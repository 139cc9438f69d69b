//! Rules of `[load_balancer]`'s HTTPS-on-a-domain keys: `domain`, `hosted_zone_id`, and how
//! they combine with `certificate_arn` and `scheme`.

use super::Findings;
use crate::spec::Spec;

/// Longest DNS name (RFC 1035, without the trailing dot) ACM and Route 53 accept.
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest label of a DNS name.
pub const MAX_LABEL_LEN: usize = 63;
/// Longest Route 53 hosted zone id (`ResourceId` in the Route 53 API model: max 32).
pub const MAX_ZONE_ID_LEN: usize = 32;

/// Why `domain` is not a host name orchestrate can request a certificate for and point at the
/// ALB, or `None` when it is one: lowercase letters, digits and hyphens, labels of 1-63
/// characters not starting or ending with a hyphen, at least two labels, the last not all
/// digits, at most 253 characters, no trailing dot, no wildcard.
pub fn domain_problem(domain: &str) -> Option<String> {
    if domain.is_empty() {
        return Some("is empty".into());
    }
    if domain.len() > MAX_DOMAIN_LEN {
        return Some(format!(
            "is {} characters, over DNS's {MAX_DOMAIN_LEN}",
            domain.len()
        ));
    }
    if domain.starts_with("*.") {
        return Some("is a wildcard; orchestrate serves one host name".into());
    }
    if domain.ends_with('.') {
        return Some("ends with a dot".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Some("has a single label; a host name in a hosted zone has at least two".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Some("has an empty label (two dots in a row)".into());
        }
        if label.len() > MAX_LABEL_LEN {
            return Some(format!(
                "has the label '{label}' of {} characters, over DNS's {MAX_LABEL_LEN}",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Some(format!(
                "holds {}; use lowercase letters, digits and hyphens",
                crate::escape::escape_control(&format!("'{c}'"))
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!(
                "has the label '{label}' starting or ending with '-'"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Some("ends with an all-digit label (an IP address is not a domain)".into());
    }
    None
}

/// True when `id` looks like a Route 53 hosted zone id: uppercase letters and digits, at most
/// 32 characters (the `/hostedzone/` prefix of API answers is not part of it). AWS's ids start
/// with `Z`, but its API model promises only the length, so the first letter is not checked
/// (moto's ids start with any letter).
pub fn is_hosted_zone_id(id: &str) -> bool {
    id.len() >= 2
        && id.len() <= MAX_ZONE_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The rules.
pub(super) fn check(spec: &Spec, f: &mut Findings) {
    let lb = &spec.load_balancer;
    if let Some(domain) = &lb.domain
        && let Some(problem) = domain_problem(domain)
    {
        f.error(
            "alb-domain",
            "load_balancer.domain",
            format!("'{domain}' {problem}"),
            "write the host name Airflow is served on, e.g. airflow.example.com (lowercase, no scheme, no trailing dot)",
        );
    }
    if let Some(zone) = &lb.hosted_zone_id {
        if !is_hosted_zone_id(zone) {
            f.error(
                "alb-hosted-zone",
                "load_balancer.hosted_zone_id",
                format!("'{zone}' is not a Route 53 hosted zone id"),
                "copy the zone's id from `aws route53 list-hosted-zones` without /hostedzone/, e.g. Z0123456789ABCDEFGHIJ",
            );
        }
        if lb.domain.is_none() {
            f.error(
                "alb-hosted-zone",
                "load_balancer.hosted_zone_id",
                "a hosted zone without a domain: orchestrate would write no record in it",
                "set load_balancer.domain to the host name in that zone, or remove hosted_zone_id",
            );
        }
    }
    if lb.domain.is_some() && lb.hosted_zone_id.is_none() && lb.certificate_arn.is_none() {
        f.error(
            "alb-domain-certificate",
            "load_balancer.domain",
            "a domain needs a certificate: without hosted_zone_id orchestrate cannot validate one it requests, and no certificate_arn is given",
            "set load_balancer.hosted_zone_id (orchestrate requests an ACM certificate, validates it by DNS and adds the alias), or certificate_arn of an ISSUED certificate covering the domain",
        );
    }
    if lb.domain.is_some() && lb.hosted_zone_id.is_none() && lb.certificate_arn.is_some() {
        f.warning(
            "alb-domain-dns",
            "load_balancer.domain",
            "no hosted_zone_id: orchestrate writes no DNS record; the domain resolves only once you point it at the ALB yourself",
            "set load_balancer.hosted_zone_id to have orchestrate add the alias record, or add a CNAME/alias to the ALB's DNS name (shown by `orchestrate status`)",
        );
    }
}
