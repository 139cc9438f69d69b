//! Security groups, least privilege, found by VPC + group name (`<name>-alb`,
//! `<name>-api-server`, `<name>-components`, `<name>-database`, `<name>-cache`).
//!
//! | group | ingress | egress |
//! |---|---|---|
//! | alb | TCP 80, 443 from each `load_balancer.ingress_cidrs` | all |
//! | api-server | TCP 8080 from alb and components (UI, Execution API) | all |
//! | components | TCP 8793-8794 from api-server (live task logs of workers/triggerers) | all |
//! | database | TCP 5432 from api-server and components | none |
//! | cache | TCP 6379 from api-server and components | none |
//!
//! "all" egress is the VPC default (`-1` to `0.0.0.0/0`): tasks pull images, reach git and
//! AWS APIs through the NAT gateway. Rules are reconciled exactly: missing ones authorized,
//! extra ones revoked, no call when equal. Rule descriptions are set on authorize but never
//! compared.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, UserIdGroupPair,
};
use orchestrate_aws::{aws_error, error_code, retry_eventual};
use orchestrate_core::{Action, Change, Context, FieldChange, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{Owner, delete_patiently, filter, owned, required, tag_spec};
use crate::{COMPONENT_SECURITY_GROUP, KIND_SECURITY_GROUP};

/// Attempts for calls that may see a just-created group as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

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

    fn description(self) -> &'static str {
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
    fn from_map(ids: &BTreeMap<SgRole, String>) -> Self {
        let get = |r: SgRole| ids.get(&r).cloned().unwrap_or_default();
        Self {
            alb: get(SgRole::Alb),
            api_server: get(SgRole::ApiServer),
            components: get(SgRole::Components),
            database: get(SgRole::Database),
            cache: get(SgRole::Cache),
        }
    }
}

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

/// The VPC default egress rule.
pub fn allow_all() -> Rule {
    Rule {
        protocol: "-1".into(),
        from_port: None,
        to_port: None,
        peer: Peer::Cidr("0.0.0.0/0".into()),
    }
}

/// A group as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupObserved {
    /// Its id.
    pub group_id: String,
    /// Its name.
    pub name: String,
    /// Ingress rules.
    pub ingress: BTreeSet<Rule>,
    /// Egress rules.
    pub egress: BTreeSet<Rule>,
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

fn observe(g: &SecurityGroup) -> Option<SecurityGroupObserved> {
    Some(SecurityGroupObserved {
        group_id: g.group_id()?.to_string(),
        name: g.group_name().unwrap_or_default().to_string(),
        ingress: flatten(g.ip_permissions()),
        egress: flatten(g.ip_permissions_egress()),
    })
}

/// Finds the group `name` in `vpc_id` (group names are unique per VPC).
///
/// # Errors
/// [`Error::DescribeSecurityGroup`].
pub async fn find(
    client: &Client,
    vpc_id: &str,
    name: &str,
) -> Result<Option<SecurityGroupObserved>> {
    let out = client
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", name))
        .send()
        .await
        .map_err(|e| Error::DescribeSecurityGroup(aws_error("describe security group", name, e)))?;
    Ok(out
        .security_groups()
        .iter()
        .filter(|g| g.group_name() == Some(name))
        .find_map(observe))
}

/// (rules to add, rules to remove).
fn delta(want: &BTreeMap<Rule, String>, have: &BTreeSet<Rule>) -> (Vec<Rule>, Vec<Rule>) {
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

fn rule_fields(direction: &str, add: &[Rule], remove: &[Rule]) -> Option<FieldChange> {
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

/// What `up` would do to the group (pure). `ids`: the groups that exist already.
pub fn diff(
    desired: &SecurityGroupDesired,
    observed: Option<&SecurityGroupObserved>,
    ids: &BTreeMap<SgRole, String>,
    owner: &Owner,
) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) => {
            let (ia, ir) = delta(&desired.ingress_rules(ids, owner), &o.ingress);
            let (ea, er) = delta(&desired.egress_rules(), &o.egress);
            let fields: Vec<FieldChange> = [
                rule_fields("ingress", &ia, &ir),
                rule_fields("egress", &ea, &er),
            ]
            .into_iter()
            .flatten()
            .collect();
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND_SECURITY_GROUP, &desired.name, action)
}

/// Finds or creates the group (no rules yet). A freshly created group is observed with the
/// VPC defaults: no ingress, egress `-1` to `0.0.0.0/0`.
async fn find_or_create(
    client: &Client,
    cx: &Context,
    desired: &SecurityGroupDesired,
    vpc_id: &str,
) -> Result<SecurityGroupObserved> {
    if let Some(found) = find(client, vpc_id, &desired.name).await? {
        return Ok(found);
    }
    cx.reporter
        .applying(KIND_SECURITY_GROUP, &desired.name, "create");
    let created = retry_eventual(
        cx.timing,
        &["InvalidVpcID.NotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            client
                .create_security_group()
                .group_name(&desired.name)
                .description(&desired.description)
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &desired.tags))
                .send()
        },
    )
    .await;
    match created {
        Ok(out) => Ok(SecurityGroupObserved {
            group_id: required(out.group_id(), "created security group", "GroupId")?,
            name: desired.name.clone(),
            ingress: BTreeSet::new(),
            egress: BTreeSet::from([allow_all()]),
        }),
        // Created by an attempt whose response was lost: adopt it.
        Err(e) if error_code(&e) == Some("InvalidGroup.Duplicate") => {
            match find(client, vpc_id, &desired.name).await? {
                Some(found) => Ok(found),
                None => Err(Error::CreateSecurityGroup(aws_error(
                    "create security group",
                    &desired.name,
                    e,
                ))),
            }
        }
        Err(e) => Err(Error::CreateSecurityGroup(aws_error(
            "create security group",
            &desired.name,
            e,
        ))),
    }
}

/// Authorizes missing and revokes extra rules of one group. No call when equal.
async fn reconcile(
    client: &Client,
    cx: &Context,
    desired: &SecurityGroupDesired,
    observed: &SecurityGroupObserved,
    ids: &BTreeMap<SgRole, String>,
    owner: &Owner,
) -> Result<()> {
    let want_in = desired.ingress_rules(ids, owner);
    let want_out = desired.egress_rules();
    let (ia, ir) = delta(&want_in, &observed.ingress);
    let (ea, er) = delta(&want_out, &observed.egress);
    if ia.is_empty() && ir.is_empty() && ea.is_empty() && er.is_empty() {
        return Ok(());
    }
    cx.reporter
        .applying(KIND_SECURITY_GROUP, &desired.name, "update");
    let group = observed.group_id.as_str();
    macro_rules! fail {
        ($what:expr, $e:expr) => {
            Error::UpdateSecurityGroupRules(aws_error($what, &desired.name, $e))
        };
    }
    let perms = |rules: &[Rule], descriptions: &BTreeMap<Rule, String>| -> Vec<IpPermission> {
        rules
            .iter()
            .map(|r| permission(r, descriptions.get(r).map(String::as_str)))
            .collect()
    };
    let none = BTreeMap::new();
    let eventual = ["InvalidGroup.NotFound"];
    if !ir.is_empty() {
        match client
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(perms(&ir, &none)))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.NotFound") => {}
            Err(e) => return Err(fail!("revoke ingress rules of security group", e)),
        }
    }
    if !er.is_empty() {
        match client
            .revoke_security_group_egress()
            .group_id(group)
            .set_ip_permissions(Some(perms(&er, &none)))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.NotFound") => {}
            Err(e) => return Err(fail!("revoke egress rules of security group", e)),
        }
    }
    if !ia.is_empty() {
        let p = perms(&ia, &want_in);
        let r = retry_eventual(cx.timing, &eventual, EVENTUAL_ATTEMPTS, || {
            client
                .authorize_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(p.clone()))
                .send()
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.Duplicate") => {}
            Err(e) => return Err(fail!("authorize ingress rules of security group", e)),
        }
    }
    if !ea.is_empty() {
        let p = perms(&ea, &want_out);
        let r = retry_eventual(cx.timing, &eventual, EVENTUAL_ATTEMPTS, || {
            client
                .authorize_security_group_egress()
                .group_id(group)
                .set_ip_permissions(Some(p.clone()))
                .send()
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.Duplicate") => {}
            Err(e) => return Err(fail!("authorize egress rules of security group", e)),
        }
    }
    Ok(())
}

/// Creates or adopts every group in `vpc_id`, then reconciles every group's rules (rules
/// reference each other's ids, so all groups exist first). No mutating call when all match.
///
/// # Errors
/// AWS failures per step.
pub async fn ensure_all(
    client: &Client,
    cx: &Context,
    desired: &[SecurityGroupDesired],
    vpc_id: &str,
) -> Result<SecurityGroupIds> {
    let owner = Owner::from_context(cx);
    let mut observed = Vec::with_capacity(desired.len());
    let mut ids = BTreeMap::new();
    for d in desired {
        let o = find_or_create(client, cx, d, vpc_id).await?;
        ids.insert(d.role, o.group_id.clone());
        observed.push(o);
    }
    for (d, o) in desired.iter().zip(&observed) {
        reconcile(client, cx, d, o, &ids, &owner).await?;
    }
    Ok(SecurityGroupIds::from_map(&ids))
}

/// Creates or adopts one group and reconciles its rules; `ids` must hold every group its
/// rules reference.
///
/// # Errors
/// AWS failures per step.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &SecurityGroupDesired,
    vpc_id: &str,
    ids: &BTreeMap<SgRole, String>,
) -> Result<String> {
    let o = find_or_create(client, cx, desired, vpc_id).await?;
    let mut ids = ids.clone();
    ids.insert(desired.role, o.group_id.clone());
    reconcile(client, cx, desired, &o, &ids, &Owner::from_context(cx)).await?;
    Ok(o.group_id)
}

/// Deletes every group of this deployment in `vpc_id`: first revokes every rule that
/// references another group (groups that reference each other cannot be deleted otherwise),
/// then deletes each, retrying `DependencyViolation` while network interfaces of deleted
/// tasks, databases and load balancers linger. None is success.
///
/// # Errors
/// [`Error::DescribeSecurityGroup`], [`Error::UpdateSecurityGroupRules`],
/// [`Error::DeleteSecurityGroup`], [`Error::Wait`].
pub async fn delete_all(client: &Client, cx: &Context, vpc_id: &str) -> Result<()> {
    let mut filters = owned(cx, COMPONENT_SECURITY_GROUP);
    filters.push(filter("vpc-id", vpc_id));
    let out = client
        .describe_security_groups()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeSecurityGroup(aws_error("describe security groups of", vpc_id, e))
        })?;
    let groups: Vec<SecurityGroupObserved> = out
        .security_groups()
        .iter()
        .filter(|g| g.group_name() != Some("default"))
        .filter_map(observe)
        .collect();
    for g in &groups {
        let refs: Vec<IpPermission> = g
            .ingress
            .iter()
            .filter(|r| matches!(r.peer, Peer::Group(_)))
            .map(|r| permission(r, None))
            .collect();
        if refs.is_empty() {
            continue;
        }
        match client
            .revoke_security_group_ingress()
            .group_id(&g.group_id)
            .set_ip_permissions(Some(refs))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("InvalidPermission.NotFound" | "InvalidGroup.NotFound")
                ) => {}
            Err(e) => {
                return Err(Error::UpdateSecurityGroupRules(aws_error(
                    "revoke cross-group rules of security group",
                    &g.name,
                    e,
                )));
            }
        }
    }
    for g in &groups {
        cx.reporter.applying(KIND_SECURITY_GROUP, &g.name, "delete");
        delete_patiently(cx, KIND_SECURITY_GROUP, &g.name, || async {
            client
                .delete_security_group()
                .group_id(&g.group_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    Error::DeleteSecurityGroup(aws_error("delete security group", &g.name, e))
                })
        })
        .await?;
    }
    Ok(())
}
