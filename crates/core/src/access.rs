//! What the spec grants beyond orchestrate's own needs, in one place for validation, the IAM
//! policies and the task definitions: the team's secrets by ARN
//! (`[components.<name>] secrets`), the Airflow secrets backend's prefixes, the names
//! orchestrate reserves for its own variables, and the shape of connection and variable ids.
//!
//! Pure: no AWS call.

use std::sync::LazyLock;

use regex::Regex;

/// Where a `[components.*] secrets` value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStore {
    /// A Secrets Manager secret (`secretsmanager:GetSecretValue`).
    SecretsManager,
    /// An SSM Parameter Store parameter (`ssm:GetParameters`).
    Parameter,
}

/// A parsed `[components.*] secrets` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Secrets Manager or SSM.
    pub store: SecretStore,
    /// The ARN an IAM policy names: the secret's ARN without ECS's
    /// `:json-key:version-stage:version-id` suffix, or the parameter's ARN.
    pub resource_arn: String,
}

fn regex(pattern: &str) -> Regex {
    // Every pattern is a constant of this module, compiled by the tests.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("constant pattern compiles")
}

/// A Secrets Manager secret ARN (name with its six-character suffix), optionally followed by
/// ECS's `:json-key:version-stage:version-id` (each part may be empty).
static SECRET_REF: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^(arn:aws(?:-cn|-us-gov)?:secretsmanager:[a-z]{2}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})(?::[^:\s]*:[^:\s]*:[^:\s]*)?$",
    )
});

/// An SSM parameter ARN (`parameter/NAME`, hierarchies allowed).
static PARAMETER_REF: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^arn:aws(?:-cn|-us-gov)?:ssm:[a-z]{2}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]{1,2048}$",
    )
});

/// An environment variable name a container can be given.
static VARIABLE_NAME: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$"));

/// A connection id or variable key stored under the secrets backend's prefix: characters
/// Secrets Manager allows in a name, no `/` (it would nest under the prefix).
static AIRFLOW_SECRET_ID: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[A-Za-z0-9_][A-Za-z0-9_.@+=-]{0,249}$"));

/// Parses a `[components.*] secrets` value; `None` when it is neither form.
pub fn parse_secret_ref(value: &str) -> Option<SecretRef> {
    if let Some(c) = SECRET_REF.captures(value) {
        return c.get(1).map(|m| SecretRef {
            store: SecretStore::SecretsManager,
            resource_arn: m.as_str().to_string(),
        });
    }
    PARAMETER_REF.is_match(value).then(|| SecretRef {
        store: SecretStore::Parameter,
        resource_arn: value.to_string(),
    })
}

/// True when `name` is a valid container environment variable name.
pub fn is_variable_name(name: &str) -> bool {
    VARIABLE_NAME.is_match(name)
}

/// True when `id` may name a connection or variable (`connections set <id>`).
pub fn is_airflow_secret_id(id: &str) -> bool {
    AIRFLOW_SECRET_ID.is_match(id)
}

/// The secrets backend's class (the Amazon provider, shipped in the apache/airflow image).
pub const SECRETS_BACKEND_CLASS: &str =
    "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend";

/// The two variables that switch the secrets backend on.
pub const SECRETS_BACKEND_VARIABLES: [&str; 2] = [
    "AIRFLOW__SECRETS__BACKEND",
    "AIRFLOW__SECRETS__BACKEND_KWARGS",
];

/// Kind of the secrets under the connections prefix.
pub const CONNECTIONS: &str = "connections";
/// Kind of the secrets under the variables prefix.
pub const VARIABLES: &str = "variables";

/// Every variable orchestrate sets itself in some Airflow container (environment or
/// secrets). A `[components.*] secrets` entry may not use one of these names: ECS would get
/// the name twice, and orchestrate's value is the one the deployment needs. The airflow
/// crate's tests check that every rendered name is listed here.
pub const RESERVED_VARIABLES: &[&str] = &[
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__LOGGING__DELETE_LOCAL_LOGS",
    "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER",
    "AIRFLOW__LOGGING__REMOTE_LOGGING",
    "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    "AIRFLOW__SECRETS__BACKEND",
    "AIRFLOW__SECRETS__BACKEND_KWARGS",
    "AWS_DEFAULT_REGION",
    "DUMB_INIT_SETSID",
    "_AIRFLOW_ADMIN_PASSWORD",
    "_AIRFLOW_ADMIN_USERNAME",
];

/// Characters of the task role's inline policies AWS allows in total (all inline policies of
/// a role together, whitespace not counted).
pub const ROLE_INLINE_POLICY_LIMIT: usize = 10_240;

/// Of [`ROLE_INLINE_POLICY_LIMIT`], what is kept for orchestrate's own task policy
/// (`orchestrate-task`, about 1 100 characters with the secrets backend on); the spec's
/// `[task_role] statements` may use the rest.
pub const TASK_POLICY_RESERVE: usize = 2_048;

/// Name of the task role's inline policy that holds the spec's `[task_role] statements`.
pub const USER_POLICY: &str = "orchestrate-user";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_refs_of_each_form_parse_to_the_arn_iam_names() {
        let base = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/db-AbC123";
        for value in [
            base.to_string(),
            format!("{base}:password::"),
            format!("{base}:password:AWSCURRENT:"),
            format!("{base}::AWSPREVIOUS:"),
        ] {
            let parsed = parse_secret_ref(&value).expect(&value);
            assert_eq!(parsed.store, SecretStore::SecretsManager, "{value}");
            assert_eq!(parsed.resource_arn, base, "{value}");
        }
        let parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/team/api-token";
        assert_eq!(
            parse_secret_ref(parameter),
            Some(SecretRef {
                store: SecretStore::Parameter,
                resource_arn: parameter.to_string()
            })
        );
        for bad in [
            "team/db",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:x-AbC123",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x:password",
            "arn:aws:s3:::bucket",
            "arn:aws:ssm:eu-west-1:123456789012:document/x",
            "",
        ] {
            assert_eq!(parse_secret_ref(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_ids() {
        assert!(is_variable_name("SMTP_PASSWORD") && is_variable_name("_x1"));
        assert!(!is_variable_name("1X") && !is_variable_name("A-B") && !is_variable_name(""));
        assert!(is_airflow_secret_id("my_db") && is_airflow_secret_id("aws.default-2"));
        for bad in ["", "a/b", "-x", "a b", "x\n", &"a".repeat(251)] {
            assert!(!is_airflow_secret_id(bad), "{bad:?}");
        }
        let mut sorted = RESERVED_VARIABLES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESERVED_VARIABLES, "kept sorted");
    }
}
