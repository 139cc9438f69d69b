//! What the five security groups should be (pure).

use std::collections::BTreeMap;

use orchestrate_core::Tags;

use super::rules::{Peer, Rule, allow_all};
use crate::COMPONENT_SECURITY_GROUP;
use crate::util::Owner;

/// The five groups of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SgRole {
    /// The public ALB.
    Alb,
    /// The api-server tasks.
    ApiServer,
    /// scheduler, dag-processor, triggerer, worker and migration tasks.
    Components,
    /// The RDS instance.
    Database,
    /// The Valkey replication group.
    Cache,
}

impl SgRole {
    /// Every role, in creation order.
    pub const ALL: [SgRole; 5] = [
        SgRole::Alb,
        SgRole::ApiServer,
        SgRole::Components,
        SgRole::Database,
        SgRole::Cache,
    ];

    /// Name suffix: `<name>-<suffix>`.
    pub fn suffix(self) -> &'static str {
        match self {
            SgRole::Alb => "alb",
            SgRole::ApiServer => "api-server",
            SgRole::Components => "components",
            SgRole::Database => "database",
            SgRole::Cache => "cache",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            SgRole::Alb => "orchestrate: public ALB, HTTP/HTTPS from the allowed CIDRs",
            SgRole::ApiServer => {
                "orchestrate: Airflow api-server, 8080 from the ALB and components"
            }
            SgRole::Components => {
                "orchestrate: Airflow components, log servers from the api-server"
            }
            SgRole::Database => "orchestrate: RDS PostgreSQL, 5432 from Airflow only, no egress",
            SgRole::Cache => "orchestrate: Valkey broker, 6379 from Airflow only, no egress",
        }
    }
}

/// Ids of the five groups (an output of the network).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroupIds {
    /// The ALB's group.
    pub alb: String,
    /// The api-server's group.
    pub api_server: String,
    /// The other Airflow components' group.
    pub components: String,
    /// The database's group.
    pub database: String,
    /// The cache's group.
    pub cache: String,
}

impl SecurityGroupIds {
    /// The five groups' ids from what was found or created per role.
    ///
    /// # Errors
    /// [`crate::Error::MissingField`] when a role has no group id (a bug upstream: every
    /// caller finds or creates all five first).
    pub(crate) fn from_map(ids: &BTreeMap<SgRole, String>) -> crate::error::Result<Self> {
        let get = |r: SgRole| {
            ids.get(&r)
                .cloned()
                .ok_or_else(|| crate::Error::MissingField {
                    what: format!("the {r:?} security group"),
                    field: "GroupId",
                })
        };
        Ok(Self {
            alb: get(SgRole::Alb)?,
            api_server: get(SgRole::ApiServer)?,
            components: get(SgRole::Components)?,
            database: get(SgRole::Database)?,
            cache: get(SgRole::Cache)?,
        })
    }
}

/// Where a desired rule's traffic comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A CIDR.
    Cidr(String),
    /// Another of the deployment's groups.
    Group(SgRole),
}

/// A desired TCP ingress rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressSpec {
    /// First port.
    pub from_port: i32,
    /// Last port.
    pub to_port: i32,
    /// Source.
    pub source: Source,
    /// Rule description.
    pub description: String,
}

/// What one group should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupDesired {
    /// Which group.
    pub role: SgRole,
    /// `<name>-<suffix>`.
    pub name: String,
    /// Group description (cannot change after creation).
    pub description: String,
    /// Tags given to CreateSecurityGroup.
    pub tags: Tags,
    /// Ingress rules.
    pub ingress: Vec<IngressSpec>,
    /// Whether egress is the default allow-all (`false`: no egress at all).
    pub egress_all: bool,
}

fn tcp(from_port: i32, to_port: i32, source: Source, description: &str) -> IngressSpec {
    IngressSpec {
        from_port,
        to_port,
        source,
        description: description.to_string(),
    }
}

impl SecurityGroupDesired {
    /// The group `role` of `owner`; `ingress_cidrs` feed the ALB's rules (pure).
    pub fn new(owner: &Owner, role: SgRole, ingress_cidrs: &[String]) -> Self {
        use Source::Group;
        let name = owner.names.prefixed(role.suffix());
        let from_airflow = |port: i32, what: &str| {
            vec![
                tcp(
                    port,
                    port,
                    Group(SgRole::ApiServer),
                    &format!("{what} from api-server"),
                ),
                tcp(
                    port,
                    port,
                    Group(SgRole::Components),
                    &format!("{what} from components"),
                ),
            ]
        };
        let ingress = match role {
            SgRole::Alb => ingress_cidrs
                .iter()
                .flat_map(|c| {
                    [
                        tcp(80, 80, Source::Cidr(c.clone()), "HTTP from allowed CIDR"),
                        tcp(443, 443, Source::Cidr(c.clone()), "HTTPS from allowed CIDR"),
                    ]
                })
                .collect(),
            SgRole::ApiServer => vec![
                tcp(8080, 8080, Group(SgRole::Alb), "api-server from ALB"),
                tcp(
                    8080,
                    8080,
                    Group(SgRole::Components),
                    "Execution API from components",
                ),
            ],
            SgRole::Components => vec![tcp(
                8793,
                8794,
                Group(SgRole::ApiServer),
                "Airflow log servers from api-server",
            )],
            SgRole::Database => from_airflow(5432, "PostgreSQL"),
            SgRole::Cache => from_airflow(6379, "Valkey"),
        };
        Self {
            tags: owner.tags(COMPONENT_SECURITY_GROUP, &name),
            name,
            description: role.description().to_string(),
            role,
            ingress,
            egress_all: matches!(role, SgRole::Alb | SgRole::ApiServer | SgRole::Components),
        }
    }

    /// All five groups (pure).
    pub fn all(owner: &Owner, ingress_cidrs: &[String]) -> Vec<Self> {
        SgRole::ALL
            .iter()
            .map(|r| Self::new(owner, *r, ingress_cidrs))
            .collect()
    }

    /// Desired ingress rules with their descriptions; a group not yet created shows as
    /// `(new <name>)`.
    pub fn ingress_rules(
        &self,
        ids: &BTreeMap<SgRole, String>,
        owner: &Owner,
    ) -> BTreeMap<Rule, String> {
        self.ingress
            .iter()
            .map(|spec| {
                let peer = match &spec.source {
                    Source::Cidr(c) => Peer::Cidr(c.clone()),
                    Source::Group(role) => {
                        Peer::Group(ids.get(role).cloned().unwrap_or_else(|| {
                            format!("(new {})", owner.names.prefixed(role.suffix()))
                        }))
                    }
                };
                let rule = Rule {
                    protocol: "tcp".into(),
                    from_port: Some(spec.from_port),
                    to_port: Some(spec.to_port),
                    peer,
                };
                (rule, spec.description.clone())
            })
            .collect()
    }

    /// Desired egress rules.
    pub fn egress_rules(&self) -> BTreeMap<Rule, String> {
        if self.egress_all {
            BTreeMap::from([(
                allow_all(),
                "all egress (NAT: images, git, AWS APIs)".to_string(),
            )])
        } else {
            BTreeMap::new()
        }
    }
}
