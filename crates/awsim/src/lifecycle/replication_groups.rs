//! ElastiCache replication group ids can be reused after a deletion (moto 5.2.1 keeps a
//! deleted group `deleting` forever, so a CreateReplicationGroup of the same id answers
//! `ReplicationGroupAlreadyExists`, unlike AWS once the deletion finished).
//!
//! A CreateReplicationGroup of an id awsim saw deleted makes a fresh group in moto under a
//! private id (`<id>--awsim-gen<N>`): every request naming the group (or one of its member
//! clusters, `<id>-001`) is mapped to it and every answer mapped back, so clients only ever
//! see `<id>`. The slow lifecycle (`slow.rs`) already hides a deleted group once it is gone.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::protocol::form_get;

const PARAM: &str = "ReplicationGroupId";
const CLUSTER_PARAM: &str = "CacheClusterId";

/// Deleted and re-created replication groups.
#[derive(Debug, Default)]
pub struct ReplicationGroups {
    /// Lower-cased client id -> generation (1: moto's own id).
    generation: BTreeMap<String, u32>,
    /// Client ids whose current generation was deleted.
    deleted: BTreeSet<String>,
}

use super::cache_groups::moto_name as moto_id;

impl ReplicationGroups {
    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn current(&self, id: &str) -> (String, String) {
        let lower = id.to_ascii_lowercase();
        let generation = self.generation.get(&lower).copied().unwrap_or(1);
        (moto_id(&lower, generation), lower)
    }

    /// The request body to forward when it names a group under another id in moto (a
    /// CreateReplicationGroup of a deleted id starts a new generation); `None` keeps it.
    pub fn request(
        &mut self,
        operation: &str,
        form: &[(String, String)],
        body: &Bytes,
    ) -> Option<Bytes> {
        if let Some(id) = form_get(form, PARAM) {
            let lower = id.to_ascii_lowercase();
            if operation == "CreateReplicationGroup" && self.deleted.remove(&lower) {
                *self.generation.entry(lower).or_insert(1) += 1;
            }
        }
        let text = std::str::from_utf8(body).ok()?;
        let mut changed = false;
        let mapped: Vec<String> = text
            .split('&')
            .map(|kv| {
                let Some((key, value)) = kv.split_once('=') else {
                    return kv.to_string();
                };
                let target = match key {
                    PARAM => Some(self.current(value).0),
                    CLUSTER_PARAM => self.generation.iter().find_map(|(id, g)| {
                        let rest = value.strip_prefix(id.as_str())?.strip_prefix('-')?;
                        (*g > 1).then(|| format!("{}-{rest}", moto_id(id, *g)))
                    }),
                    _ => None,
                };
                match target {
                    Some(t) if t != value => {
                        changed = true;
                        format!("{key}={t}")
                    }
                    _ => kv.to_string(),
                }
            })
            .collect();
        changed.then(|| Bytes::from(mapped.join("&")))
    }

    /// Records a successful deletion and maps private ids in an answer back to the client's.
    pub fn response(
        &mut self,
        operation: &str,
        form: &[(String, String)],
        success: bool,
        body: &str,
    ) -> Option<String> {
        if operation == "DeleteReplicationGroup"
            && success
            && let Some(id) = form_get(form, PARAM)
        {
            self.deleted.insert(id.to_ascii_lowercase());
        }
        // Earlier generations are deleted groups moto keeps `deleting` forever: AWS lists
        // them no more once gone.
        let mut out = if operation == "DescribeReplicationGroups" && success {
            let old: BTreeSet<String> = self
                .generation
                .iter()
                .flat_map(|(id, g)| (1..*g).map(move |old| moto_id(id, old)))
                .collect();
            if old.is_empty() {
                body.to_string()
            } else {
                crate::xml::rewrite_records(body, "ReplicationGroup", PARAM, &[], |id| {
                    if old.contains(id) {
                        crate::xml::Edit::Remove
                    } else {
                        crate::xml::Edit::Keep
                    }
                })
            }
        } else {
            body.to_string()
        };
        for (id, generation) in &self.generation {
            for g in (2..=*generation).rev() {
                out = out.replace(&moto_id(id, g), id);
            }
        }
        (out != body).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(id: &str) -> Vec<(String, String)> {
        vec![(PARAM.to_string(), id.to_string())]
    }

    #[test]
    fn a_deleted_id_is_reusable_under_a_private_id_mapped_both_ways() {
        let mut groups = ReplicationGroups::default();
        let create = Bytes::from("Action=CreateReplicationGroup&ReplicationGroupId=app-broker");
        assert_eq!(
            groups.request("CreateReplicationGroup", &form("app-broker"), &create),
            None,
            "first generation: moto's own id"
        );
        assert_eq!(
            groups.response("DeleteReplicationGroup", &form("app-broker"), true, "<ok/>"),
            None
        );
        let mapped = groups
            .request("CreateReplicationGroup", &form("app-broker"), &create)
            .expect("mapped");
        assert_eq!(
            mapped,
            Bytes::from("Action=CreateReplicationGroup&ReplicationGroupId=app-broker--awsim-gen2")
        );
        let describe = Bytes::from("Action=DescribeCacheClusters&CacheClusterId=app-broker-001");
        assert_eq!(
            groups.request("DescribeCacheClusters", &[], &describe),
            Some(Bytes::from(
                "Action=DescribeCacheClusters&CacheClusterId=app-broker--awsim-gen2-001"
            ))
        );
        let back = groups
            .response(
                "DescribeCacheClusters",
                &[],
                true,
                "<Id>app-broker--awsim-gen2</Id><C>app-broker--awsim-gen2-001</C>",
            )
            .expect("mapped back");
        assert_eq!(back, "<Id>app-broker</Id><C>app-broker-001</C>");
        let listed = "<R><ReplicationGroups>\
            <ReplicationGroup><ReplicationGroupId>app-broker</ReplicationGroupId><Status>deleting</Status></ReplicationGroup>\
            <ReplicationGroup><ReplicationGroupId>app-broker--awsim-gen2</ReplicationGroupId><Status>available</Status></ReplicationGroup>\
            </ReplicationGroups></R>";
        let shown = groups
            .response("DescribeReplicationGroups", &[], true, listed)
            .expect("rewritten");
        assert_eq!(
            shown
                .matches("<ReplicationGroupId>app-broker</ReplicationGroupId>")
                .count(),
            1
        );
        assert!(
            shown.contains("available") && !shown.contains("deleting"),
            "{shown}"
        );
    }
}
