//! A representative spec and fully known wiring shared by the integration tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use orchestrate_airflow::{Ref, SecretKey, SecretRefs, Wiring};
use orchestrate_core::Spec;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

/// The ARN of secret `orchestrate/demo/<key>` (with Secrets Manager's random suffix).
pub fn secret_arn(key: &str) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orchestrate/demo/{key}-AbCdEf")
}

/// A deployment with git-sync from a private repository, user tags and an extra variable.
pub fn spec() -> Spec {
    let mut spec = Spec::minimal("demo", REGION);
    spec.deployment.tags = BTreeMap::from([("team".to_string(), "data".to_string())]);
    spec.git_sync.repo = "https://github.com/example-org/airflow-dags.git".into();
    spec.git_sync.subpath = "dags".into();
    spec.git_sync.credentials_secret_arn = Some(format!(
        "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:dags-token-XyZ123"
    ));
    spec.airflow
        .environment
        .insert("AIRFLOW__CORE__PARALLELISM".into(), "64".into());
    spec
}

/// Everything phases 1 and 2 produced.
pub fn wiring(spec: &Spec) -> Wiring {
    let mut w = Wiring::pending(spec).with_account(spec, ACCOUNT);
    let arn = |key: SecretKey| Ref::known(secret_arn(key.key()));
    w.secrets = SecretRefs {
        sql_alchemy_conn: arn(SecretKey::SqlAlchemyConn),
        result_backend: arn(SecretKey::ResultBackend),
        broker_url: arn(SecretKey::BrokerUrl),
        fernet_key: arn(SecretKey::FernetKey),
        jwt_secret: arn(SecretKey::JwtSecret),
        api_secret_key: arn(SecretKey::ApiSecretKey),
        admin_password: arn(SecretKey::AdminPassword),
    };
    w.execution_role_arn = Ref::known(format!("arn:aws:iam::{ACCOUNT}:role/demo-ecs-execution"));
    w.task_role_arn = Ref::known(format!("arn:aws:iam::{ACCOUNT}:role/demo-ecs-task"));
    w.task_log_group_arn = Ref::known(format!(
        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/orchestrate/demo/tasks:*"
    ));
    w.alb_dns = Some("demo-alb-1234567890.eu-west-1.elb.amazonaws.com".into());
    w
}
