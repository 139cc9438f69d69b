//! The member cache clusters of ElastiCache replication groups (moto 5.2.1 lists a group's
//! `MemberClusters` but has no cache cluster behind them: DescribeCacheClusters of
//! `<group>-001` answers `CacheClusterNotFound`, where AWS answers the member with its engine,
//! engine version, node type, subnet group and security groups).
//!
//! awsim records what CreateReplicationGroup asked for (and what a successful
//! ModifyReplicationGroup changed) and answers DescribeCacheClusters of a member itself, with
//! the group's status from the slow lifecycle ([`crate::lifecycle::slow`]). A group awsim did
//! not see created (or saw deleted) is left to moto.

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::StatusCode;

use crate::protocol::{Rendered, form_get, xml_escape};

/// What a member cluster reports, as its group was created or last modified.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    /// The client's id (as sent, for the answers).
    id: String,
    engine: String,
    engine_version: String,
    node_type: String,
    subnet_group: String,
    security_groups: Vec<String>,
    transit_encryption: bool,
    at_rest_encryption: bool,
    auth_token: bool,
    members: u32,
}

/// Replication groups created through awsim, by region and lower-cased id.
#[derive(Debug, Default)]
pub struct CacheMembers {
    groups: BTreeMap<(String, String), Group>,
}

/// The values of a query list parameter (`SecurityGroupIds.SecurityGroupId.1`, ...), in order.
fn list(form: &[(String, String)], prefix: &str) -> Option<Vec<String>> {
    let mut items: Vec<(u32, String)> = form
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
            let index = rest.rsplit('.').next()?.parse().ok()?;
            Some((index, v.clone()))
        })
        .collect();
    if items.is_empty() {
        return None;
    }
    items.sort();
    Some(items.into_iter().map(|(_, v)| v).collect())
}

fn flag(form: &[(String, String)], key: &str) -> bool {
    form_get(form, key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

impl CacheMembers {
    /// Forgets everything.
    pub fn clear(&mut self) {
        self.groups.clear();
    }

    /// Records a successful CreateReplicationGroup or ModifyReplicationGroup (`form`: the
    /// client's parameters). A deleted group's members are `deleting` and then gone with it:
    /// [`CacheMembers::answer`] takes the group's status from the slow lifecycle.
    pub fn after(
        &mut self,
        region: &str,
        operation: &str,
        form: &[(String, String)],
        success: bool,
    ) {
        let Some(id) = form_get(form, "ReplicationGroupId") else {
            return;
        };
        if !success {
            return;
        }
        let key = (region.to_string(), id.to_ascii_lowercase());
        match operation {
            "CreateReplicationGroup" => {
                let members = form_get(form, "NumCacheClusters")
                    .and_then(|n| n.parse().ok())
                    .or_else(|| {
                        form_get(form, "ReplicasPerNodeGroup")
                            .and_then(|n| n.parse::<u32>().ok())
                            .map(|r| r + 1)
                    })
                    .unwrap_or(1);
                self.groups.insert(
                    key,
                    Group {
                        id: id.to_string(),
                        engine: form_get(form, "Engine").unwrap_or("redis").to_string(),
                        engine_version: form_get(form, "EngineVersion")
                            .unwrap_or("7.1")
                            .to_string(),
                        node_type: form_get(form, "CacheNodeType")
                            .unwrap_or("cache.t4g.micro")
                            .to_string(),
                        subnet_group: form_get(form, "CacheSubnetGroupName")
                            .unwrap_or("default")
                            .to_ascii_lowercase(),
                        security_groups: list(form, "SecurityGroupIds").unwrap_or_default(),
                        transit_encryption: flag(form, "TransitEncryptionEnabled"),
                        at_rest_encryption: flag(form, "AtRestEncryptionEnabled"),
                        auth_token: form_get(form, "AuthToken").is_some(),
                        members,
                    },
                );
            }
            "ModifyReplicationGroup" => {
                let Some(group) = self.groups.get_mut(&key) else {
                    return;
                };
                if let Some(v) = form_get(form, "Engine") {
                    group.engine = v.to_string();
                }
                if let Some(v) = form_get(form, "EngineVersion") {
                    group.engine_version = v.to_string();
                }
                if let Some(v) = form_get(form, "CacheNodeType") {
                    group.node_type = v.to_string();
                }
                if let Some(v) = list(form, "SecurityGroupIds") {
                    group.security_groups = v;
                }
            }
            _ => {}
        }
    }

    /// The group of `region` that `cluster` is a member of (`<group>-001` ...
    /// `<group>-<members>`).
    fn group_of(&self, region: &str, cluster: &str) -> Option<(&Group, u32)> {
        let (group, number) =
            cluster
                .to_ascii_lowercase()
                .rsplit_once('-')
                .and_then(|(g, n)| {
                    let n: u32 = n.parse().ok().filter(|_| n.len() == 3)?;
                    Some((g.to_string(), n))
                })?;
        let found = self.groups.get(&(region.to_string(), group))?;
        (1..=found.members)
            .contains(&number)
            .then_some((found, number))
    }

    /// DescribeCacheClusters of one member cluster of a group awsim recorded, answered as AWS
    /// does; `status`: the group's status now (`None`: the group is gone). Anything else is
    /// `None` (left to moto).
    pub fn answer(
        &self,
        form: &[(String, String)],
        region: &str,
        status: impl Fn(&str) -> Option<&'static str>,
        request_id: &str,
    ) -> Option<Rendered> {
        let cluster = form_get(form, "CacheClusterId")?;
        let (group, number) = self.group_of(region, cluster)?;
        let status = status(&group.id.to_ascii_lowercase())?;
        let id = format!("{}-{number:03}", group.id.to_ascii_lowercase());
        let security_groups: String = group
            .security_groups
            .iter()
            .map(|sg| {
                format!(
                    "<member><SecurityGroupId>{}</SecurityGroupId><Status>active</Status></member>",
                    xml_escape(sg)
                )
            })
            .collect();
        let body = format!(
            "<DescribeCacheClustersResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
             <DescribeCacheClustersResult><CacheClusters><CacheCluster>\
             <CacheClusterId>{id}</CacheClusterId>\
             <CacheNodeType>{node_type}</CacheNodeType>\
             <Engine>{engine}</Engine>\
             <EngineVersion>{engine_version}</EngineVersion>\
             <CacheClusterStatus>{status}</CacheClusterStatus>\
             <NumCacheNodes>1</NumCacheNodes>\
             <CacheSubnetGroupName>{subnet_group}</CacheSubnetGroupName>\
             <SecurityGroups>{security_groups}</SecurityGroups>\
             <ReplicationGroupId>{group_id}</ReplicationGroupId>\
             <AuthTokenEnabled>{auth_token}</AuthTokenEnabled>\
             <TransitEncryptionEnabled>{transit}</TransitEncryptionEnabled>\
             <AtRestEncryptionEnabled>{at_rest}</AtRestEncryptionEnabled>\
             <ARN>arn:aws:elasticache:{region}:123456789012:cluster:{id}</ARN>\
             </CacheCluster></CacheClusters></DescribeCacheClustersResult>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
             </DescribeCacheClustersResponse>",
            id = xml_escape(&id),
            node_type = xml_escape(&group.node_type),
            engine = xml_escape(&group.engine),
            engine_version = xml_escape(&group.engine_version),
            subnet_group = xml_escape(&group.subnet_group),
            group_id = xml_escape(&group.id.to_ascii_lowercase()),
            auth_token = group.auth_token,
            transit = group.transit_encryption,
            at_rest = group.at_rest_encryption,
            region = xml_escape(region),
        );
        Some(Rendered {
            status: StatusCode::OK,
            content_type: "text/xml",
            headers: vec![],
            body: Bytes::from(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn body(r: &Rendered) -> String {
        String::from_utf8(r.body.to_vec()).expect("utf-8")
    }

    #[test]
    fn a_member_reports_what_its_group_was_created_and_modified_with() {
        let mut members = CacheMembers::default();
        let create = form(&[
            ("ReplicationGroupId", "App-Broker"),
            ("Engine", "valkey"),
            ("EngineVersion", "8.0"),
            ("CacheNodeType", "cache.t4g.micro"),
            ("NumCacheClusters", "2"),
            ("CacheSubnetGroupName", "App-Cache"),
            ("SecurityGroupIds.SecurityGroupId.2", "sg-2"),
            ("SecurityGroupIds.SecurityGroupId.1", "sg-1"),
            ("TransitEncryptionEnabled", "true"),
        ]);
        let describe = |id: &str| form(&[("CacheClusterId", id)]);
        let available = |_: &str| Some("available");

        // Nothing recorded while the create failed.
        members.after("us-east-1", "CreateReplicationGroup", &create, false);
        assert!(
            members
                .answer(&describe("app-broker-001"), "us-east-1", available, "r")
                .is_none()
        );

        members.after("us-east-1", "CreateReplicationGroup", &create, true);
        assert!(
            members
                .answer(&describe("app-broker-001"), "eu-west-1", available, "r")
                .is_none(),
            "a group is a region's"
        );
        let answer = members
            .answer(&describe("app-broker-002"), "us-east-1", available, "r")
            .expect("a member is answered");
        let text = body(&answer);
        for expected in [
            "<CacheClusterId>app-broker-002</CacheClusterId>",
            "<ReplicationGroupId>app-broker</ReplicationGroupId>",
            "<Engine>valkey</Engine>",
            "<EngineVersion>8.0</EngineVersion>",
            "<CacheClusterStatus>available</CacheClusterStatus>",
            "<CacheSubnetGroupName>app-cache</CacheSubnetGroupName>",
            "<member><SecurityGroupId>sg-1</SecurityGroupId><Status>active</Status></member>\
             <member><SecurityGroupId>sg-2</SecurityGroupId>",
            "<TransitEncryptionEnabled>true</TransitEncryptionEnabled>",
            "<AtRestEncryptionEnabled>false</AtRestEncryptionEnabled>",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        assert!(
            members
                .answer(&describe("app-broker-003"), "us-east-1", available, "r")
                .is_none(),
            "only NumCacheClusters members exist"
        );
        assert!(
            members
                .answer(&describe("other-001"), "us-east-1", available, "r")
                .is_none()
        );
        assert!(
            members
                .answer(&describe("app-broker-001"), "us-east-1", |_| None, "r")
                .is_none(),
            "a group that is gone has no members"
        );

        members.after(
            "us-east-1",
            "ModifyReplicationGroup",
            &form(&[
                ("ReplicationGroupId", "app-broker"),
                ("EngineVersion", "8.1"),
                ("SecurityGroupIds.SecurityGroupId.1", "sg-3"),
            ]),
            true,
        );
        let text = body(
            &members
                .answer(&describe("app-broker-001"), "us-east-1", available, "r")
                .expect("answered"),
        );
        assert!(
            text.contains("<EngineVersion>8.1</EngineVersion>"),
            "{text}"
        );
        assert!(text.contains("sg-3") && !text.contains("sg-1"), "{text}");

        let deleting = members
            .answer(
                &describe("app-broker-001"),
                "us-east-1",
                |_| Some("deleting"),
                "r",
            )
            .expect("a member of a group being deleted");
        assert!(body(&deleting).contains("<CacheClusterStatus>deleting</CacheClusterStatus>"));
    }
}
