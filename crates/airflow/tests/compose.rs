//! `render compose`: the compose file matches the ECS task definitions and the Compose spec.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use orchestrate_airflow::compose::{ENDPOINTS, LOCAL_ONLY, LocalSecrets, compose, env_file};
use orchestrate_airflow::{Component, git_sync, task_definition};
use serde_json::Value;

use common::{spec, wiring};

/// `$$` -> `$`: the value Compose hands the container.
fn unescape(s: &str) -> String {
    s.replace("$$", "$")
}

fn service_env(doc: &Value, service: &str) -> BTreeMap<String, String> {
    doc["services"][service]["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("{service} has an environment"))
        .iter()
        .map(|(k, v)| (k.clone(), unescape(v.as_str().expect("string value"))))
        .collect()
}

#[test]
fn every_variable_but_endpoints_and_secrets_equals_the_task_definitions() {
    let spec = spec();
    let doc = compose(&spec);
    let local_only: Vec<&str> = LOCAL_ONLY.iter().map(|(n, _)| *n).collect();
    for component in Component::ALL {
        // The task definition as registered on ECS (fully known wiring).
        let td = task_definition(&spec, &wiring(&spec), component);
        let airflow = td
            .container(component.container_name())
            .expect("Airflow container");
        let env = service_env(&doc, component.name());
        let mut checked = 0;
        for var in &airflow.environment {
            if ENDPOINTS.contains(&var.name.as_str()) || local_only.contains(&var.name.as_str()) {
                continue;
            }
            assert_eq!(
                env.get(&var.name),
                Some(&var.value),
                "{component}: {}",
                var.name
            );
            checked += 1;
        }
        assert!(checked >= 5, "{component}: {checked} variables compared");
        for secret in &airflow.secrets {
            let value = env.get(&secret.name).expect("secret variable present");
            assert!(
                value.starts_with(&format!("${{{}:?", secret.name)),
                "{component}: {} comes from .env, not the file: {value}",
                secret.name
            );
        }
        // Nothing the task definition does not carry, apart from endpoints.
        for name in env.keys() {
            assert!(
                airflow.env(name).is_some()
                    || airflow.secret(name).is_some()
                    || ENDPOINTS.contains(&name.as_str()),
                "{component}: extra variable {name}"
            );
        }
        assert_eq!(
            env.get("AIRFLOW__LOGGING__REMOTE_LOGGING")
                .map(String::as_str),
            Some("false")
        );
        if airflow
            .env("AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
            .is_some()
        {
            assert_eq!(
                env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"],
                "http://api-server:8080/execution/"
            );
        }
        // Same command and health check.
        let service = &doc["services"][component.name()];
        let command: Vec<String> = service["command"]
            .as_array()
            .expect("command")
            .iter()
            .map(|v| unescape(v.as_str().expect("string")))
            .collect();
        assert_eq!(command, airflow.command, "{component}");
        match &airflow.health_check {
            Some(hc) => {
                let test: Vec<String> = service["healthcheck"]["test"]
                    .as_array()
                    .expect("healthcheck")
                    .iter()
                    .map(|v| unescape(v.as_str().expect("string")))
                    .collect();
                assert_eq!(test, hc.command, "{component}");
            }
            None => assert!(service.get("healthcheck").is_none(), "{component}"),
        }
        if component != Component::Migration {
            assert_eq!(
                service["depends_on"]["migration"]["condition"], "service_completed_successfully",
                "{component}"
            );
        }
        if component.reads_dags() {
            assert_eq!(
                service["depends_on"][git_sync::CONTAINER]["condition"],
                "service_healthy"
            );
            assert_eq!(service["volumes"][0], "dags:/opt/airflow/dags");
        }
    }
    // Git-sync: the sidecar's settings, on the shared volume.
    let td = task_definition(&spec, &wiring(&spec), Component::Worker);
    let sidecar = td.container(git_sync::CONTAINER).expect("git-sync");
    let env = service_env(&doc, git_sync::CONTAINER);
    for var in &sidecar.environment {
        assert_eq!(
            env.get(&var.name),
            Some(&var.value),
            "git-sync {}",
            var.name
        );
    }
    assert_eq!(doc["services"]["git-sync"]["volumes"][0], "dags:/git");
    assert_eq!(doc["services"]["git-sync"]["user"], "0");
    assert_eq!(doc["services"]["api-server"]["ports"][0], "8080:8080");
    assert_eq!(
        doc["services"]["migration"]["image"],
        "apache/airflow:3.3.2"
    );
}

#[test]
fn secrets_live_only_in_the_env_file() {
    let spec = spec();
    let secrets = LocalSecrets {
        db_password: "Pw0rdPw0rdPw0rd".into(),
        fernet_key: "FernetFernetFernet".into(),
        jwt_secret: "JwtJwtJwtJwtJwt".into(),
        api_secret_key: "ApiKeyApiKeyApiKey".into(),
        admin_password: "AdminAdminAdmin".into(),
    };
    let text = serde_json::to_string(&compose(&spec)).expect("json");
    let env = env_file(&spec, &secrets);
    for value in [
        &secrets.db_password,
        &secrets.fernet_key,
        &secrets.jwt_secret,
        &secrets.api_secret_key,
        &secrets.admin_password,
    ] {
        assert!(!text.contains(value.as_str()));
        assert!(env.contains(&format!("'{value}'")));
    }
    assert!(env.contains(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='postgresql+psycopg2://airflow:Pw0rdPw0rdPw0rd@postgres:5432/airflow'"
    ));
    assert!(env.contains("GITSYNC_PASSWORD=''"));
    assert!(!format!("{secrets:?}").contains("Pw0rd"));
    // Every ${VAR:?...} of the compose file is defined in .env.
    let defined: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let mut rest = text.as_str();
    let mut referenced = 0;
    while let Some(at) = rest.find("${") {
        let tail = &rest[at + 2..];
        let end = tail.find([':', '}']).expect("closed reference");
        let name = &tail[..end];
        assert!(defined.contains(&name), "{name} is not in .env");
        referenced += 1;
        rest = &tail[end..];
    }
    assert!(referenced > 30, "{referenced}");
}

/// The Python of the emulator's virtualenv (it has `jsonschema`): `ORCHESTRATE_TEST_PYTHON`,
/// else the one beside `$AWSIM_MOTO_SERVER`, else `<workspace>/.venv/bin/python`.
fn python_with_jsonschema() -> PathBuf {
    if let Ok(p) = std::env::var("ORCHESTRATE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    if let Ok(moto) = std::env::var("AWSIM_MOTO_SERVER")
        && let Some(bin) = PathBuf::from(moto).parent()
    {
        return bin.join("python");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

#[test]
fn the_compose_file_is_valid_against_the_compose_specification() {
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose-spec.json");
    let file =
        std::env::temp_dir().join(format!("orchestrate-compose-{}.json", std::process::id()));
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&compose(&spec())).expect("json"),
    )
    .expect("write");
    let python = python_with_jsonschema();
    let out = Command::new(&python)
        .args([
            "-c",
            "import json,sys,jsonschema\n\
             schema=json.load(open(sys.argv[1])); doc=json.load(open(sys.argv[2]))\n\
             errors=list(jsonschema.Draft7Validator(schema).iter_errors(doc))\n\
             [print(list(e.absolute_path), e.message) for e in errors]\n\
             sys.exit(1 if errors else 0)",
        ])
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} (python with jsonschema; scripts/test.sh installs it in .venv) failed to start: {e}",
                python.display()
            )
        });
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "not valid against the Compose spec:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
