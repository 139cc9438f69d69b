//! EC2 security groups: a group another group's rule references cannot be deleted.
//!
//! AWS answers DeleteSecurityGroup of a group named in another group's ingress or egress rule
//! with `DependencyViolation` (a group that only references itself can go); moto deletes it
//! and leaves a dangling reference. awsim asks moto (DescribeSecurityGroups) before
//! forwarding and refuses as AWS does, so a teardown must revoke those rules first.

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode};

use crate::backend::Backend;
use crate::protocol::{Protocol, Rendered, form_get, render_error};
use crate::xml;

/// Ids of the groups (other than `target`) whose rules reference `target`, from a
/// DescribeSecurityGroups answer.
pub fn referencing_groups(text: &str, target: &str) -> Vec<String> {
    let elems = xml::scan(text);
    let Some(info) = elems.iter().position(|e| e.name == "securityGroupInfo") else {
        return Vec::new();
    };
    let needle = format!("<groupId>{target}</groupId>");
    elems
        .iter()
        .enumerate()
        .filter(|(_, e)| e.parent == Some(info) && e.name == "item")
        .filter_map(|(i, _)| {
            let own = xml::child_text(text, &elems, i, "groupId")?;
            let rules = elems.iter().filter(|r| {
                r.parent == Some(i)
                    && matches!(r.name.as_str(), "ipPermissions" | "ipPermissionsEgress")
            });
            let mut rules = rules.map(|r| &text[r.inner_start..r.inner_end]);
            (own != target && rules.any(|r| r.contains(&needle))).then(|| own.to_string())
        })
        .collect()
}

/// `Some(DependencyViolation)` for DeleteSecurityGroup of a group another group references.
pub async fn before(
    backend: &Backend,
    region: &str,
    operation: &str,
    form: &[(String, String)],
    request_id: &str,
) -> Option<Rendered> {
    if operation != "DeleteSecurityGroup" {
        return None;
    }
    let target = form_get(form, "GroupId")?;
    let mut h = HeaderMap::new();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDAWSIM/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0"
    );
    h.insert("authorization", HeaderValue::from_str(&auth).ok()?);
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let r = backend
        .send(
            Method::POST,
            "/",
            &h,
            Bytes::from_static(b"Action=DescribeSecurityGroups&Version=2016-11-15"),
        )
        .await
        .ok()?;
    if !r.status.is_success() {
        return None;
    }
    let text = std::str::from_utf8(&r.body).ok()?;
    let users = referencing_groups(text, target);
    let first = users.first()?;
    Some(render_error(
        Protocol::Ec2Query,
        StatusCode::BAD_REQUEST,
        "DependencyViolation",
        &format!("resource {target} has a dependent object ({first} references it)"),
        request_id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIBED: &str = r#"<DescribeSecurityGroupsResponse><securityGroupInfo>
<item><ownerId>1</ownerId><groupId>sg-a</groupId><groupName>a</groupName>
  <ipPermissions><item><groups><item><groupId>sg-a</groupId></item></groups></item></ipPermissions>
  <ipPermissionsEgress/></item>
<item><ownerId>1</ownerId><groupId>sg-b</groupId><groupName>b</groupName>
  <ipPermissions><item><groups><item><groupId>sg-a</groupId></item></groups></item></ipPermissions>
  <ipPermissionsEgress/></item>
<item><ownerId>1</ownerId><groupId>sg-c</groupId><groupName>c</groupName>
  <ipPermissions/><ipPermissionsEgress><item><groups><item><groupId>sg-b</groupId></item></groups></item></ipPermissionsEgress></item>
</securityGroupInfo></DescribeSecurityGroupsResponse>"#;

    #[test]
    fn a_group_referenced_by_another_groups_rule_is_in_use() {
        assert_eq!(referencing_groups(DESCRIBED, "sg-a"), vec!["sg-b"]);
        assert_eq!(referencing_groups(DESCRIBED, "sg-b"), vec!["sg-c"]);
    }

    #[test]
    fn a_self_reference_or_no_reference_is_not() {
        assert!(referencing_groups(DESCRIBED, "sg-c").is_empty());
        assert!(referencing_groups("<x/>", "sg-a").is_empty());
    }
}
