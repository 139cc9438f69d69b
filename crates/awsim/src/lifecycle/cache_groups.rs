//! ElastiCache cache subnet groups can be deleted (moto 5.2.1 has no DeleteCacheSubnetGroup
//! nor ModifyCacheSubnetGroup: it answers 500).
//!
//! awsim answers DeleteCacheSubnetGroup itself and hides the deleted group from then on
//! (DescribeCacheSubnetGroups lists it no more; naming it answers
//! `CacheSubnetGroupNotFoundFault`). Creating the name again makes a fresh group in moto
//! under a private name (`<name>--awsim-gen<N>`): every request naming the group is mapped to
//! it and every answer mapped back, so clients only ever see `<name>`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode};

use crate::backend::Backend;
use crate::protocol::{Protocol, Rendered, form_get, render_error};
use crate::xml::{self, Edit};

const PARAM: &str = "CacheSubnetGroupName";

/// Deleted and re-created cache subnet groups.
#[derive(Debug, Default)]
pub struct CacheGroups {
    /// Lower-cased client name -> generation (1: moto's own name).
    generation: BTreeMap<String, u32>,
    /// moto names of deleted groups.
    deleted: BTreeSet<String>,
}

/// The name moto knows generation `generation` of client name `name` by (1: the name itself).
pub(crate) fn moto_name(name: &str, generation: u32) -> String {
    if generation <= 1 {
        name.to_string()
    } else {
        format!("{name}--awsim-gen{generation}")
    }
}

fn not_found(name: &str, request_id: &str) -> Rendered {
    render_error(
        Protocol::Query,
        StatusCode::BAD_REQUEST,
        "CacheSubnetGroupNotFoundFault",
        &format!("Cache subnet group {name} not found."),
        request_id,
    )
}

impl CacheGroups {
    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// moto's name for client name `name` now.
    pub fn current(&self, name: &str) -> String {
        let lower = name.to_ascii_lowercase();
        let generation = self.generation.get(&lower).copied().unwrap_or(1);
        moto_name(&lower, generation)
    }

    /// The request body to forward when it names a group under another name in moto (a
    /// CreateCacheSubnetGroup of a deleted name starts a new generation); `None` keeps it.
    pub fn request(
        &mut self,
        operation: &str,
        form: &[(String, String)],
        body: &Bytes,
    ) -> Option<Bytes> {
        let name = form_get(form, PARAM)?;
        let lower = name.to_ascii_lowercase();
        if operation == "CreateCacheSubnetGroup" && self.deleted.contains(&self.current(&lower)) {
            *self.generation.entry(lower.clone()).or_insert(1) += 1;
        }
        let target = self.current(&lower);
        if target == name {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        let original = format!("{PARAM}={name}");
        let mapped: Vec<String> = text
            .split('&')
            .map(|kv| {
                if kv == original {
                    format!("{PARAM}={target}")
                } else {
                    kv.to_string()
                }
            })
            .collect();
        Some(Bytes::from(mapped.join("&")))
    }

    /// Answers DeleteCacheSubnetGroup (`exists`: moto has the group's current name).
    pub fn delete(
        &mut self,
        form: &[(String, String)],
        exists: bool,
        request_id: &str,
    ) -> Option<Rendered> {
        let name = form_get(form, PARAM)?;
        let current = self.current(name);
        if !exists || self.deleted.contains(&current) {
            return Some(not_found(name, request_id));
        }
        self.deleted.insert(current);
        Some(Rendered {
            status: StatusCode::OK,
            content_type: "text/xml",
            headers: vec![],
            body: Bytes::from(format!(
                "<DeleteCacheSubnetGroupResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\"><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DeleteCacheSubnetGroupResponse>"
            )),
        })
    }

    /// Hides deleted groups from moto's answer and maps private names back.
    pub fn response(
        &self,
        operation: &str,
        form: &[(String, String)],
        status: StatusCode,
        body: &Bytes,
        request_id: &str,
    ) -> Option<Rendered> {
        if self.generation.is_empty() && self.deleted.is_empty() {
            return None;
        }
        if operation == "DescribeCacheSubnetGroups"
            && let Some(name) = form_get(form, PARAM)
            && self.deleted.contains(&self.current(name))
        {
            return Some(not_found(name, request_id));
        }
        let text = std::str::from_utf8(body).ok()?;
        let mut out = if operation == "DescribeCacheSubnetGroups" && status.is_success() {
            xml::rewrite_records(text, "CacheSubnetGroup", PARAM, &[], |id| {
                if self.deleted.contains(id) {
                    Edit::Remove
                } else {
                    Edit::Keep
                }
            })
        } else {
            text.to_string()
        };
        for (name, generation) in &self.generation {
            for g in (2..=*generation).rev() {
                out = out.replace(&moto_name(name, g), name);
            }
        }
        (out != text).then(|| Rendered {
            status,
            content_type: "text/xml",
            headers: vec![],
            body: Bytes::from(out),
        })
    }
}

/// Whether moto has cache subnet group `moto_name`.
pub async fn exists(backend: &Backend, region: &str, moto_name: &str) -> bool {
    let mut h = HeaderMap::new();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDAWSIM/20260101/{region}/elasticache/aws4_request, SignedHeaders=host, Signature=0"
    );
    let Ok(auth) = HeaderValue::from_str(&auth) else {
        return false;
    };
    h.insert("authorization", auth);
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let body = format!("Action=DescribeCacheSubnetGroups&Version=2015-02-02&{PARAM}={moto_name}");
    backend
        .send(Method::POST, "/", &h, Bytes::from(body))
        .await
        .is_ok_and(|r| r.status.is_success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str) -> Vec<(String, String)> {
        vec![(PARAM.to_string(), name.to_string())]
    }

    #[test]
    fn a_deleted_group_is_hidden_and_a_new_one_gets_a_private_name() {
        let mut groups = CacheGroups::default();
        let body = Bytes::from("Action=CreateCacheSubnetGroup&CacheSubnetGroupName=app-cache");
        assert_eq!(
            groups.request("CreateCacheSubnetGroup", &form("app-cache"), &body),
            None
        );
        let deleted = groups
            .delete(&form("app-cache"), true, "r")
            .expect("answered");
        assert_eq!(deleted.status, StatusCode::OK);
        let again = groups
            .delete(&form("app-cache"), true, "r")
            .expect("answered");
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        let listed = Bytes::from(
            "<R><CacheSubnetGroups><CacheSubnetGroup><CacheSubnetGroupName>app-cache</CacheSubnetGroupName></CacheSubnetGroup></CacheSubnetGroups></R>",
        );
        let hidden = groups
            .response(
                "DescribeCacheSubnetGroups",
                &[],
                StatusCode::OK,
                &listed,
                "r",
            )
            .expect("rewritten");
        assert!(!String::from_utf8_lossy(&hidden.body).contains("app-cache"));

        let mapped = groups
            .request("CreateCacheSubnetGroup", &form("app-cache"), &body)
            .expect("mapped");
        assert_eq!(
            mapped,
            Bytes::from("Action=CreateCacheSubnetGroup&CacheSubnetGroupName=app-cache--awsim-gen2")
        );
        let created = Bytes::from(
            "<R><CacheSubnetGroup><CacheSubnetGroupName>app-cache--awsim-gen2</CacheSubnetGroupName></CacheSubnetGroup></R>",
        );
        let back = groups
            .response("CreateCacheSubnetGroup", &[], StatusCode::OK, &created, "r")
            .expect("mapped back");
        assert_eq!(
            String::from_utf8_lossy(&back.body),
            "<R><CacheSubnetGroup><CacheSubnetGroupName>app-cache</CacheSubnetGroupName></CacheSubnetGroup></R>"
        );
    }
}
