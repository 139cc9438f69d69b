//! Security group rules as plain values: flattening AWS permissions, building them back, and
//! the exact difference between two rule sets.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};
use orchestrate_core::FieldChange;

/// The other side of a rule, as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    /// An IPv4 CIDR.
    Cidr(String),
    /// An IPv6 CIDR.
    Ipv6Cidr(String),
    /// A security group id.
    Group(String),
    /// A prefix list id.
    PrefixList(String),
}

/// One rule (direction is implied by where it is kept). Descriptions are not compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    /// First port (`None` for `-1`).
    pub from_port: Option<i32>,
    /// Last port (`None` for `-1`).
    pub to_port: Option<i32>,
    /// Source (ingress) or destination (egress).
    pub peer: Peer,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let peer = match &self.peer {
            Peer::Cidr(c) | Peer::Ipv6Cidr(c) => c,
            Peer::Group(g) | Peer::PrefixList(g) => g,
        };
        match (self.from_port, self.to_port) {
            (Some(a), Some(b)) if a == b => write!(f, "{} {a} {peer}", self.protocol),
            (Some(a), Some(b)) => write!(f, "{} {a}-{b} {peer}", self.protocol),
            _ => write!(f, "{} {peer}", self.protocol),
        }
    }
}

/// The VPC default egress rule.
pub fn allow_all() -> Rule {
    Rule {
        protocol: "-1".into(),
        from_port: None,
        to_port: None,
        peer: Peer::Cidr("0.0.0.0/0".into()),
    }
}

/// Flattens AWS permissions to one [`Rule`] per peer.
pub fn flatten(permissions: &[IpPermission]) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    for p in permissions {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let all = protocol == "-1";
        let rule = |peer| Rule {
            protocol: protocol.clone(),
            from_port: if all { None } else { p.from_port() },
            to_port: if all { None } else { p.to_port() },
            peer,
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                rules.insert(rule(Peer::Cidr(c.to_string())));
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                rules.insert(rule(Peer::Ipv6Cidr(c.to_string())));
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                rules.insert(rule(Peer::Group(id.to_string())));
            }
        }
        for l in p.prefix_list_ids() {
            if let Some(id) = l.prefix_list_id() {
                rules.insert(rule(Peer::PrefixList(id.to_string())));
            }
        }
    }
    rules
}

/// The AWS permission of one rule.
pub fn permission(rule: &Rule, description: Option<&str>) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(&rule.protocol);
    if rule.protocol != "-1" {
        p = p.set_from_port(rule.from_port).set_to_port(rule.to_port);
    }
    p = match &rule.peer {
        Peer::Cidr(c) => p.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.map(str::to_string))
                .build(),
        ),
        Peer::Ipv6Cidr(c) => p.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(description.map(str::to_string))
                .build(),
        ),
        Peer::Group(g) => p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(description.map(str::to_string))
                .build(),
        ),
        Peer::PrefixList(l) => p.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(l)
                .set_description(description.map(str::to_string))
                .build(),
        ),
    };
    p.build()
}

/// (rules to add, rules to remove).
pub(crate) fn delta(
    want: &BTreeMap<Rule, String>,
    have: &BTreeSet<Rule>,
) -> (Vec<Rule>, Vec<Rule>) {
    let add = want
        .keys()
        .filter(|r| !have.contains(*r))
        .cloned()
        .collect();
    let remove = have
        .iter()
        .filter(|r| !want.contains_key(*r))
        .cloned()
        .collect();
    (add, remove)
}

pub(crate) fn rule_fields(direction: &str, add: &[Rule], remove: &[Rule]) -> Option<FieldChange> {
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let show = |rules: &[Rule]| {
        rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(FieldChange::new(
        direction,
        (!remove.is_empty()).then(|| format!("- {}", show(remove))),
        (!add.is_empty()).then(|| format!("+ {}", show(add))),
    ))
}
