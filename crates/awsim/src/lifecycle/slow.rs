//! Slow resources: RDS instances, ElastiCache replication groups, NAT gateways and ALBs take
//! (scaled) time to become available and to go away. moto makes them available at once, so the
//! proxy remembers when each was created or deleted and rewrites the status fields of moto's
//! XML responses per resource identifier.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::StatusCode;

use crate::clock::{Clock, SimMs};
use crate::protocol::{Protocol, Rendered, form_get, render_error};
use crate::scenario::Durations;
use crate::xml::{self, Edit};

/// Kinds of slow resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// RDS DB instance (`DBInstanceIdentifier`, lower-cased).
    Rds,
    /// ElastiCache replication group (`ReplicationGroupId`, lower-cased).
    Cache,
    /// EC2 NAT gateway (`nat-...`).
    Nat,
    /// ELBv2 load balancer (ARN).
    Alb,
}

#[derive(Debug, Clone, Default)]
struct Res {
    created: SimMs,
    deleted: Option<SimMs>,
    snapshot: Option<String>,
    /// What it holds on to until it is gone: a NAT gateway its subnet, VPC and allocation ids
    /// (until `deleted`); an RDS instance or a replication group its subnet group and
    /// security groups.
    holds: Vec<String>,
}

/// Where a resource is in its life at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Status(&'static str),
    Gone,
}

/// Tracks slow resources created or deleted through the proxy.
#[derive(Debug, Default)]
pub struct Slow {
    map: HashMap<(Kind, String), Res>,
}

impl Slow {
    /// Forgets everything.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    fn phase(&self, kind: Kind, id: &str, now: SimMs, d: &Durations) -> Option<Phase> {
        let r = self.map.get(&(kind, id.to_string()))?;
        let since = |t: SimMs| now.saturating_sub(t);
        if let Some(del) = r.deleted {
            let dur = Clock::ms(match kind {
                Kind::Rds => d.rds_delete,
                Kind::Cache => d.cache_delete,
                Kind::Nat => d.nat_delete,
                Kind::Alb => 0.0,
            });
            return Some(match (since(del) < dur, kind) {
                (true, _) => Phase::Status("deleting"),
                (false, Kind::Nat) => Phase::Status("deleted"),
                (false, _) => Phase::Gone,
            });
        }
        let age = since(r.created);
        Some(match kind {
            Kind::Rds => {
                let total = Clock::ms(d.rds_create);
                if age < total * 4 / 5 {
                    Phase::Status("creating")
                } else if age < total {
                    Phase::Status("backing-up")
                } else {
                    Phase::Status("available")
                }
            }
            Kind::Cache if age < Clock::ms(d.cache_create) => Phase::Status("creating"),
            Kind::Cache => Phase::Status("available"),
            Kind::Nat if age < Clock::ms(d.nat_create) => Phase::Status("pending"),
            Kind::Nat => Phase::Status("available"),
            Kind::Alb if age < Clock::ms(d.alb_create) => Phase::Status("provisioning"),
            Kind::Alb => Phase::Status("active"),
        })
    }

    /// The status of the replication group `id` (lower-cased) now: `None` when awsim did not
    /// see it created or it is gone.
    pub fn cache_status(&self, id: &str, now: SimMs, d: &Durations) -> Option<&'static str> {
        match self.phase(Kind::Cache, id, now, d)? {
            Phase::Status(s) => Some(s),
            Phase::Gone => None,
        }
    }

    fn created(&mut self, kind: Kind, id: String, now: SimMs) {
        self.map.insert(
            (kind, id),
            Res {
                created: now,
                ..Res::default()
            },
        );
    }

    fn deleted(&mut self, kind: Kind, id: String, now: SimMs, snapshot: Option<String>) {
        let r = self.map.entry((kind, id)).or_default();
        r.deleted = Some(now);
        r.snapshot = snapshot;
    }

    /// True when a resource of `kind` that is not gone yet holds on to `target`.
    fn held_by(&self, kind: Kind, target: &str, now: SimMs, d: &Durations) -> Option<String> {
        self.map
            .iter()
            .filter(|((k, _), r)| *k == kind && r.holds.iter().any(|h| h == target))
            .find(|((_, id), _)| match self.phase(kind, id, now, d) {
                Some(Phase::Gone) | None => false,
                Some(Phase::Status(s)) => kind != Kind::Nat || s != "deleted",
            })
            .map(|((_, id), _)| id.clone())
    }

    /// Refuses, before moto sees them, calls that real AWS refuses while something still
    /// depends on their target and moto (which forgets dependencies the instant a delete
    /// returns) would accept:
    /// - EC2: DeleteSubnet / DeleteVpc / DetachInternetGateway / ReleaseAddress while a NAT
    ///   gateway holds the subnet, VPC or address (until it is `deleted`); DeleteSecurityGroup
    ///   while an RDS instance or a replication group uses the group (until it is gone);
    /// - RDS: DeleteDBInstance of an instance already `deleting`
    ///   (`InvalidDBInstanceState`) or without `FinalDBSnapshotIdentifier` nor
    ///   `SkipFinalSnapshot=true` (`InvalidParameterCombination`); DeleteDBSubnetGroup while
    ///   an instance uses it (`InvalidDBSubnetGroupStateFault`);
    /// - ElastiCache: DeleteReplicationGroup of a group already `deleting`
    ///   (`InvalidReplicationGroupState`); DeleteCacheSubnetGroup while a group uses it
    ///   (`CacheSubnetGroupInUse`).
    pub fn before(
        &self,
        service: &str,
        operation: &str,
        form: &[(String, String)],
        now: SimMs,
        d: &Durations,
        request_id: &str,
    ) -> Option<Rendered> {
        let refuse = |protocol: Protocol, code: &str, message: String| {
            Some(render_error(
                protocol,
                StatusCode::BAD_REQUEST,
                code,
                &message,
                request_id,
            ))
        };
        match (service, operation) {
            ("ec2", "DeleteSecurityGroup") => {
                let group = form_get(form, "GroupId")?;
                self.held_by(Kind::Rds, group, now, d)
                    .or_else(|| self.held_by(Kind::Cache, group, now, d))?;
                return refuse(
                    Protocol::Ec2Query,
                    "DependencyViolation",
                    format!("resource {group} has a dependent object"),
                );
            }
            ("ec2", _) => {}
            ("rds", "DeleteDBInstance") => {
                let id = form_get(form, "DBInstanceIdentifier")?;
                if self.phase(Kind::Rds, &id.to_ascii_lowercase(), now, d)
                    == Some(Phase::Status("deleting"))
                {
                    return refuse(
                        Protocol::Query,
                        "InvalidDBInstanceState",
                        format!("Instance {id} is already being deleted."),
                    );
                }
                let skip = form_get(form, "SkipFinalSnapshot")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                if !skip && form_get(form, "FinalDBSnapshotIdentifier").is_none() {
                    return refuse(
                        Protocol::Query,
                        "InvalidParameterCombination",
                        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
                            .to_string(),
                    );
                }
                return None;
            }
            ("rds", "DeleteDBSubnetGroup") => {
                let group = form_get(form, "DBSubnetGroupName")?;
                let user = self.held_by(Kind::Rds, &group.to_ascii_lowercase(), now, d)?;
                return refuse(
                    Protocol::Query,
                    "InvalidDBSubnetGroupStateFault",
                    format!(
                        "Cannot delete the subnet group '{group}' because at least one database instance: {user} is still using it."
                    ),
                );
            }
            ("elasticache", "DeleteReplicationGroup") => {
                let id = form_get(form, "ReplicationGroupId")?;
                if self.phase(Kind::Cache, &id.to_ascii_lowercase(), now, d)
                    == Some(Phase::Status("deleting"))
                {
                    return refuse(
                        Protocol::Query,
                        "InvalidReplicationGroupState",
                        format!(
                            "Replication group {id} has status deleting which is not valid for deletion."
                        ),
                    );
                }
                return None;
            }
            ("elasticache", "DeleteCacheSubnetGroup") => {
                let group = form_get(form, "CacheSubnetGroupName")?;
                self.held_by(Kind::Cache, &group.to_ascii_lowercase(), now, d)?;
                return refuse(
                    Protocol::Query,
                    "CacheSubnetGroupInUse",
                    format!("Cache subnet group {group} is currently in use by a cache cluster."),
                );
            }
            _ => return None,
        }
        let (param, code, message): (&str, &str, fn(&str) -> String) = match operation {
            "DeleteSubnet" => ("SubnetId", "DependencyViolation", |x| {
                format!("The subnet '{x}' has dependencies and cannot be deleted.")
            }),
            "DeleteVpc" => ("VpcId", "DependencyViolation", |x| {
                format!("The vpc '{x}' has dependencies and cannot be deleted.")
            }),
            "DetachInternetGateway" => ("VpcId", "DependencyViolation", |x| {
                format!(
                    "Network {x} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
                )
            }),
            "ReleaseAddress" => ("AllocationId", "InvalidIPAddress.InUse", |x| {
                format!("Address {x} is in use.")
            }),
            _ => return None,
        };
        let target = form_get(form, param)?;
        self.held_by(Kind::Nat, target, now, d)?;
        refuse(Protocol::Ec2Query, code, message(target))
    }

    /// Records what a new RDS instance or replication group holds on to: its subnet group
    /// (lower-cased, as AWS stores it) and its security groups.
    fn hold(&mut self, kind: Kind, id: &str, form: &[(String, String)]) {
        let (group_param, sg_prefix) = match kind {
            Kind::Rds => ("DBSubnetGroupName", "VpcSecurityGroupIds."),
            Kind::Cache => ("CacheSubnetGroupName", "SecurityGroupIds."),
            _ => return,
        };
        let mut holds: Vec<String> = form
            .iter()
            .filter(|(k, _)| k.starts_with(sg_prefix))
            .map(|(_, v)| v.clone())
            .collect();
        holds.extend(form_get(form, group_param).map(str::to_ascii_lowercase));
        if let Some(r) = self.map.get_mut(&(kind, id.to_string())) {
            r.holds = holds;
        }
    }

    /// Rewrites a backend response if it concerns a slow resource. Returns the new
    /// (status, body) when something changed.
    #[allow(clippy::too_many_arguments)]
    pub fn after(
        &mut self,
        service: &str,
        operation: &str,
        form: &[(String, String)],
        status: StatusCode,
        body: &Bytes,
        now: SimMs,
        d: &Durations,
        request_id: &str,
    ) -> Option<Rendered> {
        let text = std::str::from_utf8(body).ok()?;
        let lower = |k: &str| form_get(form, k).map(str::to_ascii_lowercase);
        let ok = status.is_success();
        let out: String = match (service, operation) {
            ("rds", "CreateDBInstance") if ok => {
                let id = lower("DBInstanceIdentifier")?;
                self.created(Kind::Rds, id.clone(), now);
                self.hold(Kind::Rds, &id, form);
                self.rewrite(Kind::Rds, text, now, d)
            }
            ("rds", "DeleteDBInstance") if ok => {
                let id = lower("DBInstanceIdentifier")?;
                let snap = xml::extract_record(text, "DBInstance", "DBInstanceIdentifier", &id);
                self.deleted(Kind::Rds, id, now, snap);
                return None;
            }
            ("rds", "DescribeDBInstances") => {
                if let Some(id) = lower("DBInstanceIdentifier")
                    && !ok
                    && self.phase(Kind::Rds, &id, now, d) == Some(Phase::Status("deleting"))
                {
                    let snap = self.map.get(&(Kind::Rds, id))?.snapshot.clone()?;
                    let body = format!(
                        "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBInstancesResult><DBInstances>{snap}</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"
                    );
                    return Some(xml_ok(body));
                }
                if !ok {
                    return None;
                }
                let mut out = self.rewrite(Kind::Rds, text, now, d);
                if form_get(form, "DBInstanceIdentifier").is_none()
                    && !form.iter().any(|(k, _)| k.starts_with("Filters"))
                {
                    let extra: String = self
                        .map
                        .iter()
                        .filter(|((k, id), _)| {
                            *k == Kind::Rds
                                && !text.contains(&format!(
                                    "<DBInstanceIdentifier>{id}</DBInstanceIdentifier>"
                                ))
                        })
                        .filter(|((_, id), _)| {
                            self.phase(Kind::Rds, id, now, d) == Some(Phase::Status("deleting"))
                        })
                        .filter_map(|(_, r)| r.snapshot.clone())
                        .collect();
                    if !extra.is_empty() {
                        out = xml::insert_into(&out, "DBInstances", &extra);
                    }
                }
                out
            }
            ("elasticache", "CreateReplicationGroup") if ok => {
                let id = lower("ReplicationGroupId")?;
                self.created(Kind::Cache, id.clone(), now);
                self.hold(Kind::Cache, &id, form);
                self.rewrite(Kind::Cache, text, now, d)
            }
            ("elasticache", "DeleteReplicationGroup") if ok => {
                self.deleted(Kind::Cache, lower("ReplicationGroupId")?, now, None);
                return None;
            }
            ("elasticache", "DescribeReplicationGroups") if ok => {
                if let Some(id) = lower("ReplicationGroupId")
                    && self.phase(Kind::Cache, &id, now, d) == Some(Phase::Gone)
                {
                    return Some(render_error(
                        Protocol::Query,
                        StatusCode::NOT_FOUND,
                        "ReplicationGroupNotFoundFault",
                        &format!("Replication group {id} not found."),
                        request_id,
                    ));
                }
                self.rewrite(Kind::Cache, text, now, d)
            }
            ("ec2", "CreateNatGateway") if ok => {
                let elems = xml::scan(text);
                let id = elems
                    .iter()
                    .find(|e| e.name == "natGatewayId")
                    .map(|e| text[e.inner_start..e.inner_end].to_string())?;
                let holds = elems
                    .iter()
                    .filter(|e| matches!(e.name.as_str(), "subnetId" | "vpcId" | "allocationId"))
                    .map(|e| text[e.inner_start..e.inner_end].to_string())
                    .collect();
                self.created(Kind::Nat, id.clone(), now);
                if let Some(r) = self.map.get_mut(&(Kind::Nat, id)) {
                    r.holds = holds;
                }
                self.rewrite(Kind::Nat, text, now, d)
            }
            ("ec2", "DeleteNatGateway") if ok => {
                self.deleted(
                    Kind::Nat,
                    form_get(form, "NatGatewayId")?.to_string(),
                    now,
                    None,
                );
                return None;
            }
            ("ec2", "DescribeNatGateways") if ok => self.rewrite(Kind::Nat, text, now, d),
            ("elasticloadbalancing", "CreateLoadBalancer") if ok => {
                let elems = xml::scan(text);
                let arn = elems
                    .iter()
                    .find(|e| e.name == "LoadBalancerArn")
                    .map(|e| text[e.inner_start..e.inner_end].to_string())?;
                self.created(Kind::Alb, arn, now);
                self.rewrite(Kind::Alb, text, now, d)
            }
            ("elasticloadbalancing", "DeleteLoadBalancer") if ok => {
                self.map
                    .remove(&(Kind::Alb, form_get(form, "LoadBalancerArn")?.to_string()));
                return None;
            }
            ("elasticloadbalancing", "DescribeLoadBalancers") if ok => {
                self.rewrite(Kind::Alb, text, now, d)
            }
            _ => return None,
        };
        (out != text).then(|| xml_ok(out))
    }

    fn rewrite(&self, kind: Kind, text: &str, now: SimMs, d: &Durations) -> String {
        let decide = |id: &str| {
            let key = match kind {
                Kind::Rds | Kind::Cache => id.to_ascii_lowercase(),
                _ => id.to_string(),
            };
            match self.phase(kind, &key, now, d) {
                None => Edit::Keep,
                Some(Phase::Status(s)) => Edit::Set(s.to_string()),
                Some(Phase::Gone) if kind == Kind::Cache => Edit::Remove,
                Some(Phase::Gone) => Edit::Keep,
            }
        };
        match kind {
            Kind::Rds => xml::rewrite_records(
                text,
                "DBInstance",
                "DBInstanceIdentifier",
                &[&["DBInstanceStatus"]],
                decide,
            ),
            Kind::Cache => xml::rewrite_records(
                text,
                "ReplicationGroup",
                "ReplicationGroupId",
                &[&["Status"], &["NodeGroups", "NodeGroup", "Status"]],
                decide,
            ),
            Kind::Nat => {
                let once =
                    xml::rewrite_records(text, "natGateway", "natGatewayId", &[&["state"]], decide);
                xml::rewrite_records(&once, "item", "natGatewayId", &[&["state"]], decide)
            }
            Kind::Alb => xml::rewrite_records(
                text,
                "member",
                "LoadBalancerArn",
                &[&["State", "Code"]],
                decide,
            ),
        }
    }
}

fn xml_ok(body: String) -> Rendered {
    Rendered {
        status: StatusCode::OK,
        content_type: "text/xml",
        headers: vec![],
        body: Bytes::from(body),
    }
}
