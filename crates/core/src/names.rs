//! Deterministic resource names and the tags every resource is created with.
//!
//! AWS is the state: a resource is found again by the name derived here (or, where AWS has no
//! names, by the tags). Every name fits its service's limits for any deployment name that
//! passes validation (`[a-z][a-z0-9-]{1,20}`, at most 21 characters).

use std::collections::BTreeMap;

use crate::phase::Phase;

/// Tag key naming the deployment.
pub const TAG_DEPLOYMENT: &str = "orchestrate:deployment";
/// Tag key naming the component (`network/vpc`, `ecs/worker`, ...).
pub const TAG_COMPONENT: &str = "orchestrate:component";
/// Tag key naming the phase number.
pub const TAG_PHASE: &str = "orchestrate:phase";
/// Tag key marking resources this tool manages.
pub const TAG_MANAGED_BY: &str = "managed-by";
/// Value of [`TAG_MANAGED_BY`].
pub const MANAGED_BY: &str = "orchestrate";

/// Longest deployment name.
pub const MAX_NAME_LEN: usize = 21;

/// The names of one deployment's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    deployment: String,
}

impl Names {
    /// Names for deployment `deployment` (already validated).
    pub fn new(deployment: &str) -> Self {
        Self {
            deployment: deployment.to_string(),
        }
    }

    /// The deployment name itself.
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// `<name>-<suffix>`: the generic form (VPC, subnets, SGs, roles, ...).
    pub fn prefixed(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.deployment)
    }

    /// Secrets Manager secret name for `key` (`db`, `fernet-key`, ...).
    pub fn secret(&self, key: &str) -> String {
        format!("orchestrate/{}/{key}", self.deployment)
    }

    /// Prefix shared by every secret of the deployment (for IAM scoping).
    pub fn secret_prefix(&self) -> String {
        format!("orchestrate/{}/", self.deployment)
    }

    /// Prefix (without the trailing `/`) under which Airflow's secrets backend finds the
    /// connections (`kind` = `connections`) or variables (`variables`) of the deployment:
    /// `orchestrate/<name>/<kind>`. A connection `my_db` is the secret
    /// `orchestrate/<name>/connections/my_db`.
    pub fn airflow_secrets_prefix(&self, kind: &str) -> String {
        format!("orchestrate/{}/{kind}", self.deployment)
    }

    /// CloudWatch log group.
    pub fn log_group(&self) -> String {
        format!("/orchestrate/{}", self.deployment)
    }

    /// ECR repository for `image` (`airflow`, `git-sync`).
    pub fn repository(&self, image: &str) -> String {
        format!("{}/{image}", self.deployment)
    }

    /// RDS instance identifier (63 max).
    pub fn db_instance(&self) -> String {
        self.prefixed("metadata")
    }

    /// RDS / ElastiCache subnet group name.
    pub fn subnet_group(&self, kind: &str) -> String {
        self.prefixed(kind)
    }

    /// ElastiCache replication group id (40 max, lowercase).
    pub fn replication_group(&self) -> String {
        self.prefixed("broker")
    }

    /// Cloud Map private DNS namespace.
    pub fn namespace(&self) -> String {
        format!("{}.orchestrate.internal", self.deployment)
    }

    /// ECS cluster.
    pub fn cluster(&self) -> String {
        self.deployment.clone()
    }

    /// ECS service / task definition family of an Airflow component.
    pub fn service(&self, component: &str) -> String {
        self.prefixed(component)
    }

    /// ALB name (32 max).
    pub fn load_balancer(&self) -> String {
        self.prefixed("alb")
    }

    /// Target group name (32 max).
    pub fn target_group(&self) -> String {
        self.prefixed("api")
    }

    /// IAM role name (64 max): `<name>-<kind>-<region>`.
    ///
    /// IAM is global: a role named after the deployment alone would be shared (and its
    /// policies rewritten) by a deployment of the same name in another region. The region in
    /// the name keeps each region's roles its own. (The longest deployment name, the longest
    /// kind and the longest region make 50 characters.)
    pub fn role(&self, kind: &str, region: &str) -> String {
        format!("{}-{kind}-{region}", self.deployment)
    }
}

/// The tags of one resource, built once and passed to the create call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags(BTreeMap<String, String>);

impl Tags {
    /// orchestrate's own tags plus the user's.
    pub fn new(
        deployment: &str,
        component: &str,
        phase: Phase,
        user: &BTreeMap<String, String>,
    ) -> Self {
        let mut tags = user.clone();
        tags.insert(TAG_DEPLOYMENT.into(), deployment.into());
        tags.insert(TAG_COMPONENT.into(), component.into());
        tags.insert(TAG_PHASE.into(), phase.number().to_string());
        tags.insert(TAG_MANAGED_BY.into(), MANAGED_BY.into());
        Self(tags)
    }

    /// Adds one tag (e.g. `Name`).
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// Iterates key/value pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Keys of `self` that `observed` lacks or holds with another value.
    pub fn missing_from<'a>(
        &'a self,
        observed: &BTreeMap<String, String>,
    ) -> Vec<(&'a str, &'a str)> {
        self.iter()
            .filter(|(k, v)| observed.get(*k).map(String::as_str) != Some(*v))
            .collect()
    }

    /// The tags as a map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_name_fits_every_aws_limit() {
        let names = Names::new(&"a".repeat(MAX_NAME_LEN));
        assert!(names.load_balancer().len() <= 32);
        assert!(names.target_group().len() <= 32);
        assert!(names.replication_group().len() <= 40);
        assert!(names.db_instance().len() <= 63);
        assert!(names.role("ecs-execution", "ap-southeast-5").len() <= 64);
        assert!(names.service("dag-processor").len() <= 255);
    }

    #[test]
    fn role_names_differ_per_region() {
        let names = Names::new("demo");
        assert_eq!(
            names.role("ecs-execution", "us-east-1"),
            "demo-ecs-execution-us-east-1"
        );
        assert_ne!(
            names.role("ecs-task", "us-east-1"),
            names.role("ecs-task", "eu-west-1")
        );
    }

    #[test]
    fn tags_carry_deployment_component_phase_and_user_tags() {
        let user = BTreeMap::from([("team".to_string(), "data".to_string())]);
        let tags = Tags::new("demo", "network/vpc", Phase::Storage, &user).with("Name", "demo-vpc");
        assert_eq!(tags.get(TAG_DEPLOYMENT), Some("demo"));
        assert_eq!(tags.get(TAG_COMPONENT), Some("network/vpc"));
        assert_eq!(tags.get(TAG_PHASE), Some("1"));
        assert_eq!(tags.get(TAG_MANAGED_BY), Some("orchestrate"));
        assert_eq!(tags.get("team"), Some("data"));
        let observed = BTreeMap::from([("team".to_string(), "data".to_string())]);
        assert_eq!(tags.missing_from(&observed).len(), 5);
    }
}
