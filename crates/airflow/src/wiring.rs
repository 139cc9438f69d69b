//! What the task definitions need from the rest of the deployment: ARNs, names, image URIs.
//!
//! Phase 1 creates most of it (roles, secrets, log groups, ECR repositories), so before
//! phase 1 exists (`plan` on an empty account, `render task-definitions`) those values are
//! unknown. Each is then a [`Ref::Placeholder`] that renders as
//! `<pending: secretsmanager orchestrate/demo/fernet-key>`: clearly not an ARN, so such a
//! rendering can be read but never be registered by mistake
//! ([`crate::TaskDefinition`]s containing one are refused by [`crate::has_placeholders`]).

use std::fmt;

use orchestrate_core::Spec;
use orchestrate_core::names::Names;

/// Name of the api-server's Cloud Map service; its DNS name is `api-server.<namespace>`.
pub const API_SERVER_DISCOVERY_NAME: &str = "api-server";

/// Prefix of every rendered placeholder.
pub const PLACEHOLDER_PREFIX: &str = "<pending: ";

/// A value another phase produces: known, or a placeholder naming what will provide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// The real value (an ARN, an account id, an image URI).
    Known(String),
    /// Not created yet: `"<service> <name>"`, e.g. `secretsmanager orchestrate/demo/fernet-key`.
    ///
    /// Holds a `String` rather than a `&'static str` because the name carries the deployment's.
    Placeholder(String),
}

impl Ref {
    /// A known value.
    pub fn known(value: impl Into<String>) -> Self {
        Ref::Known(value.into())
    }

    /// A pending value provided by `service`'s resource `name`.
    pub fn pending(service: &str, name: &str) -> Self {
        Ref::Placeholder(format!("{service} {name}"))
    }

    /// True when the value is known.
    pub fn is_known(&self) -> bool {
        matches!(self, Ref::Known(_))
    }

    /// The value, or the marked placeholder `<pending: ...>`.
    pub fn render(&self) -> String {
        match self {
            Ref::Known(value) => value.clone(),
            Ref::Placeholder(what) => format!("{PLACEHOLDER_PREFIX}{what}>"),
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Secret keys of the deployment, as named under `orchestrate/<deployment>/` in Secrets Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKey {
    /// `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`.
    SqlAlchemyConn,
    /// `AIRFLOW__CELERY__RESULT_BACKEND`.
    ResultBackend,
    /// `AIRFLOW__CELERY__BROKER_URL`.
    BrokerUrl,
    /// `AIRFLOW__CORE__FERNET_KEY`.
    FernetKey,
    /// `AIRFLOW__API_AUTH__JWT_SECRET`.
    JwtSecret,
    /// `AIRFLOW__API__SECRET_KEY`.
    ApiSecretKey,
    /// The FAB admin user's password.
    AdminPassword,
}

impl SecretKey {
    /// Every key.
    pub const ALL: [SecretKey; 7] = [
        SecretKey::SqlAlchemyConn,
        SecretKey::ResultBackend,
        SecretKey::BrokerUrl,
        SecretKey::FernetKey,
        SecretKey::JwtSecret,
        SecretKey::ApiSecretKey,
        SecretKey::AdminPassword,
    ];

    /// The key's name in `orchestrate/<deployment>/<key>`.
    pub fn key(self) -> &'static str {
        match self {
            SecretKey::SqlAlchemyConn => "sql-alchemy-conn",
            SecretKey::ResultBackend => "result-backend",
            SecretKey::BrokerUrl => "broker-url",
            SecretKey::FernetKey => "fernet-key",
            SecretKey::JwtSecret => "jwt-secret",
            SecretKey::ApiSecretKey => "api-secret-key",
            SecretKey::AdminPassword => "admin-password",
        }
    }
}

/// The `valueFrom` of every secret a container may receive.
///
/// Each is the ARN of a Secrets Manager secret whose whole string is the value, or an ARN
/// plus `:json-key::` when the secrets crate stores several values in one JSON secret; the
/// rendering passes it through unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRefs {
    /// Metadata database URL (`postgresql+psycopg2://...`).
    pub sql_alchemy_conn: Ref,
    /// Celery result backend (`db+postgresql://...`).
    pub result_backend: Ref,
    /// Celery broker (`rediss://...`).
    pub broker_url: Ref,
    /// Fernet key.
    pub fernet_key: Ref,
    /// JWT signing secret of the api-server and the execution API.
    pub jwt_secret: Ref,
    /// api-server session secret.
    pub api_secret_key: Ref,
    /// FAB admin password (migration task only).
    pub admin_password: Ref,
}

impl SecretRefs {
    /// Placeholders `secretsmanager orchestrate/<deployment>/<key>` for every secret.
    pub fn pending(names: &Names) -> Self {
        let p = |key: SecretKey| Ref::pending("secretsmanager", &names.secret(key.key()));
        Self {
            sql_alchemy_conn: p(SecretKey::SqlAlchemyConn),
            result_backend: p(SecretKey::ResultBackend),
            broker_url: p(SecretKey::BrokerUrl),
            fernet_key: p(SecretKey::FernetKey),
            jwt_secret: p(SecretKey::JwtSecret),
            api_secret_key: p(SecretKey::ApiSecretKey),
            admin_password: p(SecretKey::AdminPassword),
        }
    }

    /// The reference of `key`.
    pub fn get(&self, key: SecretKey) -> &Ref {
        match key {
            SecretKey::SqlAlchemyConn => &self.sql_alchemy_conn,
            SecretKey::ResultBackend => &self.result_backend,
            SecretKey::BrokerUrl => &self.broker_url,
            SecretKey::FernetKey => &self.fernet_key,
            SecretKey::JwtSecret => &self.jwt_secret,
            SecretKey::ApiSecretKey => &self.api_secret_key,
            SecretKey::AdminPassword => &self.admin_password,
        }
    }
}

/// Everything phases 1 and 2 produce that a task definition refers to.
///
/// Build it with [`Wiring::pending`] (every derivable name filled in, every ARN a
/// placeholder) and overwrite fields as the outputs of earlier phases become known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiring {
    /// AWS region (`awslogs-region`, `AWS_DEFAULT_REGION`).
    pub region: String,
    /// AWS account id (ECR image URIs).
    pub account_id: Ref,
    /// Deterministic names of the deployment (families, secrets, repositories).
    pub names: Names,
    /// ECS cluster name (for the ECS crate; a task definition does not name its cluster).
    pub cluster: String,
    /// Execution role: pulls images, reads the secrets, writes container logs.
    pub execution_role_arn: Ref,
    /// Task role: what Airflow's code may do (write and read task logs).
    pub task_role_arn: Ref,
    /// Container log group name (`awslogs-group`).
    pub log_group: String,
    /// ARN of the task log group Airflow's remote logging writes to (a trailing `:*`, as
    /// `DescribeLogGroups` reports it, is tolerated).
    pub task_log_group_arn: Ref,
    /// Airflow image URI with its tag.
    pub airflow_image: Ref,
    /// git-sync image URI with its tag.
    pub git_sync_image: Ref,
    /// Secret references.
    pub secrets: SecretRefs,
    /// Secret holding JSON `{"username": ..., "password": ...}` for a private DAG repository.
    pub git_sync_credentials: Option<Ref>,
    /// Cloud Map private DNS namespace (`<deployment>.orchestrate.internal`).
    pub namespace: String,
    /// DNS name of the ALB, once it exists (sets `AIRFLOW__API__BASE_URL`).
    pub alb_dns: Option<String>,
}

impl Wiring {
    /// Every name derived from the spec; every ARN not derivable from it a placeholder.
    ///
    /// Known from the spec alone: region, names, namespace, container log group, an image
    /// given by repository in the spec, and the git-sync credentials ARN the user supplied.
    pub fn pending(spec: &Spec) -> Self {
        let names = Names::new(&spec.deployment.name);
        let airflow_image = if spec.image.repository.is_empty() {
            Ref::Placeholder(format!(
                "ecr {}:{}",
                names.repository("airflow"),
                spec.image.tag
            ))
        } else {
            Ref::Known(format!("{}:{}", spec.image.repository, spec.image.tag))
        };
        let git_sync_image = if spec.git_sync.image.is_empty() {
            Ref::Placeholder(format!(
                "ecr {}:{}",
                names.repository("git-sync"),
                spec.git_sync.image_tag
            ))
        } else {
            Ref::Known(format!(
                "{}:{}",
                spec.git_sync.image, spec.git_sync.image_tag
            ))
        };
        Self {
            region: spec.deployment.region.clone(),
            account_id: Ref::pending("sts", "caller account"),
            cluster: names.cluster(),
            execution_role_arn: Ref::pending(
                "iam",
                &names.role("ecs-execution", &spec.deployment.region),
            ),
            task_role_arn: Ref::pending("iam", &names.role("ecs-task", &spec.deployment.region)),
            log_group: names.log_group(),
            task_log_group_arn: Ref::pending("logs", &format!("{}/tasks", names.log_group())),
            airflow_image,
            git_sync_image,
            secrets: SecretRefs::pending(&names),
            git_sync_credentials: spec
                .git_sync
                .credentials_secret_arn
                .as_ref()
                .map(|arn| Ref::Known(arn.clone())),
            namespace: names.namespace(),
            alb_dns: None,
            names,
        }
    }

    /// Fills the values derivable from the account id: the account itself and the ECR image
    /// URIs of images the spec leaves to phase 1's repositories.
    pub fn with_account(mut self, spec: &Spec, account_id: &str) -> Self {
        self.account_id = Ref::known(account_id);
        if spec.image.repository.is_empty() {
            self.airflow_image = Ref::Known(ecr_image_uri(
                account_id,
                &self.region,
                &self.names.repository("airflow"),
                &spec.image.tag,
            ));
        }
        if spec.git_sync.image.is_empty() {
            self.git_sync_image = Ref::Known(ecr_image_uri(
                account_id,
                &self.region,
                &self.names.repository("git-sync"),
                &spec.git_sync.image_tag,
            ));
        }
        self
    }

    /// `http://api-server.<namespace>:8080/execution/`: where every component finds the
    /// execution API.
    pub fn execution_api_url(&self) -> String {
        format!(
            "http://{API_SERVER_DISCOVERY_NAME}.{}:8080/execution/",
            self.namespace
        )
    }

    /// `cloudwatch://<task log group ARN without :*>`, Airflow's remote log location.
    pub fn remote_base_log_folder(&self) -> String {
        let arn = self.task_log_group_arn.render();
        let arn = arn.strip_suffix(":*").unwrap_or(&arn);
        format!("cloudwatch://{arn}")
    }
}

/// `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`.
pub fn ecr_image_uri(account_id: &str, region: &str, repository: &str, tag: &str) -> String {
    format!("{account_id}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}")
}
