//! What the IAM roles may read and do beyond images and logs, computed from the spec (pure).
//! Called by [`crate::graph::Graph::iam`] only: the graph is where every desired value is
//! computed once.

use orchestrate_airflow::{Component, SecretKey};
use orchestrate_core::access::{CONNECTIONS, SecretStore, VARIABLES, parse_secret_ref};
use orchestrate_core::{Context, Spec};

/// The roles' [`orchestrate_iam::Access`] for `spec`:
/// - the execution role reads the deployment's secrets the task definitions reference (every
///   [`SecretKey`]), the git-sync credentials and each component's `secrets` by ARN;
/// - the task role reads the secrets backend's two prefixes (when on), and gets the spec's
///   `[task_role]` statements and managed policies.
pub fn iam_access(spec: &Spec, cx: &Context) -> orchestrate_iam::Access {
    let mut access = orchestrate_iam::Access {
        deployment_secrets: SecretKey::ALL
            .iter()
            .map(|key| cx.names.secret(key.key()))
            .collect(),
        user_secret_arns: spec
            .git_sync
            .credentials_secret_arn
            .iter()
            .cloned()
            .collect(),
        managed_policy_arns: spec.task_role.managed_policy_arns.clone(),
        user_policy: orchestrate_core::validate::user_policy_document(spec),
        ..orchestrate_iam::Access::default()
    };
    for component in Component::ALL {
        for value in component.spec(spec).secrets.values() {
            // Validation refuses any other form; an unparsable value grants nothing.
            match parse_secret_ref(value) {
                Some(r) if r.store == SecretStore::SecretsManager => {
                    access.user_secret_arns.push(r.resource_arn);
                }
                Some(r) => access.user_parameter_arns.push(r.resource_arn),
                None => {}
            }
        }
    }
    if spec.airflow.secrets_backend {
        access.task_secret_prefixes = [CONNECTIONS, VARIABLES]
            .iter()
            .map(|kind| cx.names.airflow_secrets_prefix(kind))
            .collect();
    }
    access
}
