//! One test per rule: a bad spec fails with the rule's id, at the right place.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::spec::load::{Origin, parse_with_env};

const HEAD: &str = "[deployment]\nname = \"demo\"\nregion = \"us-east-1\"\n";

/// Parses `HEAD + extra` and returns (rule, line) of every error finding.
fn errors(extra: &str) -> Vec<(&'static str, Option<usize>)> {
    let text = format!("{HEAD}{extra}");
    let loaded = parse_with_env(Path::new("o.toml"), text, &BTreeMap::new()).expect("spec parses");
    validate(&loaded.spec)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| {
            let line = match loaded.origin(&f.path) {
                Origin::File { line, .. } => Some(line),
                _ => None,
            };
            (f.rule, line)
        })
        .collect()
}

fn assert_rule(extra: &str, rule: &str, line: usize) {
    let found = errors(extra);
    assert!(
        found.contains(&(rule_static(rule), Some(line))),
        "expected {rule} at line {line}, got {found:?}"
    );
}

fn rule_static(rule: &str) -> &'static str {
    Box::leak(rule.to_string().into_boxed_str())
}

#[test]
fn defaults_are_valid() {
    assert_eq!(errors(""), vec![]);
    let spec = Spec::minimal("demo", "us-east-1");
    assert!(!has_errors(&validate(&spec)));
}

#[test]
fn deployment_name_syntax_and_length() {
    for bad in [
        "Demo",
        "9demo",
        "a",
        "demo-",
        "de--mo",
        "a-name-that-is-far-too-long",
        "de_mo",
    ] {
        let text = format!("[deployment]\nname = \"{bad}\"\nregion = \"us-east-1\"\n");
        let loaded = parse_with_env(Path::new("o.toml"), text, &BTreeMap::new()).expect("parses");
        let findings = validate(&loaded.spec);
        let finding = findings
            .iter()
            .find(|f| f.rule == "deployment-name")
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(
            loaded.origin(&finding.path),
            Origin::File {
                path: "o.toml".into(),
                line: 2,
                column: 1
            }
        );
        assert!(finding.fix.contains("lowercase"));
    }
    assert!(
        is_valid_name("ab") && is_valid_name("airflow-prod-2") && is_valid_name(&"a".repeat(21))
    );
}

#[test]
fn region_must_look_like_a_region() {
    let text = "[deployment]\nname = \"demo\"\nregion = \"Ireland\"\n".to_string();
    let loaded = parse_with_env(Path::new("o.toml"), text, &BTreeMap::new()).expect("parses");
    assert!(validate(&loaded.spec).iter().any(|f| f.rule == "region"));
}

#[test]
fn reserved_tag_keys() {
    assert_rule(
        "[deployment.tags]\n\"orchestrate:x\" = \"y\"\n",
        "tag-reserved",
        5,
    );
}

#[test]
fn az_count_two_or_three() {
    assert_rule("[network]\naz_count = 1\n", "az-count", 5);
    assert_rule("[network]\naz_count = 4\n", "az-count", 5);
    assert!(errors("[network]\naz_count = 3\n").is_empty());
}

#[test]
fn vpc_cidr_sanity() {
    assert_rule("[network]\nvpc_cidr = \"10.0.0.0/33\"\n", "vpc-cidr", 5);
    assert_rule("[network]\nvpc_cidr = \"10.0.0.1/16\"\n", "vpc-cidr", 5);
    assert_rule("[network]\nvpc_cidr = \"10.0.0.0/8\"\n", "vpc-cidr", 5);
    assert_rule("[network]\nvpc_cidr = \"8.8.0.0/16\"\n", "vpc-cidr", 5);
}

#[test]
fn subnets_must_fit_the_vpc() {
    // A /24 VPC holds four /26 subnets; three AZs need six.
    assert_rule(
        "[network]\nvpc_cidr = \"10.1.2.0/24\"\naz_count = 3\nsubnet_prefix = 26\n",
        "subnet-fit",
        7,
    );
    assert_rule("[network]\nsubnet_prefix = 16\n", "subnet-fit", 5);
    assert!(
        errors("[network]\nvpc_cidr = \"10.1.2.0/24\"\naz_count = 2\nsubnet_prefix = 26\n")
            .is_empty()
    );
}

#[test]
fn fargate_cpu_memory_pairs() {
    assert_rule(
        "[components.scheduler]\ncpu = 1024\nmemory = 1024\ncount = 1\n",
        "fargate-cpu-memory",
        6,
    );
    assert_rule(
        "[components.api_server]\ncpu = 300\nmemory = 2048\ncount = 1\n",
        "fargate-cpu-memory",
        6,
    );
    // Only the keys written change; the rest keep the component's defaults.
    assert!(errors("[components.worker]\nmemory = 4096\n").is_empty());
    assert!(
        fargate_pair_ok(256, 512) && fargate_pair_ok(4096, 30720) && !fargate_pair_ok(4096, 31744)
    );
    assert!(fargate_pair_ok(8192, 16384) && !fargate_pair_ok(8192, 17408));
}

#[test]
fn worker_memory_at_least_two_gb() {
    assert_rule(
        "[components.worker]\ncpu = 512\nmemory = 1024\n",
        "worker-memory",
        6,
    );
}

#[test]
fn arm64_with_spot_is_rejected() {
    assert_rule(
        "[components.worker]\ncpu = 1024\nmemory = 2048\ncount = 1\narchitecture = \"arm64\"\nspot = true\n",
        "spot-arm64",
        8,
    );
    let ok = errors(
        "[components.worker]\ncpu = 1024\nmemory = 2048\ncount = 1\narchitecture = \"arm64\"\nspot = false\n",
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn spot_worker_defaults_to_x86() {
    let spec = Spec::minimal("demo", "us-east-1");
    assert_eq!(spec.image.architecture, Architecture::Arm64);
    assert_eq!(spec.worker_architecture(), Architecture::X86_64);
}

#[test]
fn health_check_grace_between_300_and_600() {
    assert_rule(
        "[components.api_server]\ncpu = 1024\nmemory = 2048\ncount = 1\nhealth_check_grace_seconds = 60\n",
        "health-check-grace",
        8,
    );
    assert_rule(
        "[components.triggerer]\ncpu = 1024\nmemory = 2048\ncount = 1\nhealth_check_grace_seconds = 900\n",
        "health-check-grace",
        8,
    );
}

#[test]
fn autoscaling_bounds() {
    assert_rule(
        "[components.worker.autoscaling]\nmin = 0\nmax = 10\n",
        "worker-autoscaling",
        5,
    );
    assert_rule(
        "[components.worker.autoscaling]\nmin = 5\nmax = 2\n",
        "worker-autoscaling",
        6,
    );
    assert_rule(
        "[components.worker.autoscaling]\ncpu_target = 100\n",
        "worker-autoscaling",
        5,
    );
}

#[test]
fn git_sync_repo_syntax() {
    assert_rule("[git_sync]\nrepo = \"not a url\"\n", "git-sync-repo", 5);
    assert_rule(
        "[git_sync]\nrepo = \"ftp://example.com/x.git\"\n",
        "git-sync-repo",
        5,
    );
    assert_rule(
        "[git_sync]\nrepo = \"https://user:pw@example.com/x.git\"\n",
        "git-sync-credentials",
        5,
    );
    assert_rule(
        "[git_sync]\nrepo = \"https://example.com/x.git\"\nsubpath = \"/abs\"\n",
        "git-sync-subpath",
        6,
    );
    for ok in [
        "https://github.com/org/dags.git",
        "git@github.com:org/dags.git",
        "ssh://git@host/org/dags.git",
    ] {
        assert!(
            errors(&format!("[git_sync]\nrepo = \"{ok}\"\n")).is_empty(),
            "{ok}"
        );
    }
}

#[test]
fn database_rules() {
    assert_rule(
        "[database]\ninstance_class = \"t4g.small\"\n",
        "db-instance-class",
        5,
    );
    assert_rule("[database]\nbackup_retention_days = 0\n", "db-backups", 5);
    assert_rule(
        "[database]\nengine_version = \"9.6\"\n",
        "db-engine-version",
        5,
    );
    assert_rule("[database]\nusername = \"postgres\"\n", "db-identifier", 5);
}

#[test]
fn alb_and_logs_rules() {
    assert_rule(
        "[load_balancer]\ningress_cidrs = [\"10.0.0.0/99\"]\n",
        "alb-ingress",
        5,
    );
    assert_rule(
        "[load_balancer]\ncertificate_arn = \"cert\"\n",
        "alb-certificate",
        5,
    );
    assert_rule("[logs]\nretention_days = 2\n", "log-retention", 5);
}

#[test]
fn managed_airflow_variables_cannot_be_overridden() {
    assert_rule(
        "[airflow.environment]\nAIRFLOW__CORE__FERNET_KEY = \"x\"\n",
        "airflow-managed-variable",
        5,
    );
    assert_rule(
        "[image]\nairflow_version = \"2.10.0\"\n",
        "airflow-version",
        5,
    );
}

#[test]
fn findings_display_rule_path_and_fix() {
    let mut spec = Spec::minimal("demo", "us-east-1");
    spec.components.worker.component.memory = 1024;
    let shown: Vec<String> = validate(&spec).iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|s| s.contains("[rule: worker-memory]") && s.contains("fix:")),
        "{shown:?}"
    );
}

fn warnings(extra: &str) -> Vec<&'static str> {
    let text = format!("{HEAD}{extra}");
    let loaded = parse_with_env(Path::new("o.toml"), text, &BTreeMap::new()).expect("spec parses");
    validate(&loaded.spec)
        .into_iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.rule)
        .collect()
}

#[test]
fn plain_http_to_the_internet_is_a_warning() {
    assert!(warnings("").contains(&"alb-plain-http"));
    assert!(
        !warnings(
            "[load_balancer]\ncertificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/x\"\n"
        )
        .contains(&"alb-plain-http")
    );
    assert!(
        !warnings("[load_balancer]\ningress_cidrs = [\"10.0.0.0/8\"]\n")
            .contains(&"alb-plain-http")
    );
}

#[test]
fn a_worker_count_autoscaling_overrides_is_a_warning() {
    assert!(!warnings("").contains(&WORKER_COUNT_AUTOSCALED));
    assert!(warnings("[components.worker]\ncount = 4\n").contains(&WORKER_COUNT_AUTOSCALED));
    assert!(
        !warnings("[components.worker]\ncount = 2\nautoscaling = { min = 2, max = 5 }\n")
            .contains(&WORKER_COUNT_AUTOSCALED)
    );
}

#[test]
fn image_sources_are_image_references_and_unused_ones_are_warned_about() {
    assert_rule(
        "[image]\nsource = \"Apache/Airflow:3.3.2\"\n",
        "image-source",
        5,
    );
    assert_rule(
        "[git_sync]\nimage_source = \"registry.k8s.io/git-sync/git-sync@sha256:00\"\n",
        "image-source",
        5,
    );
    for good in [
        "[image]\nsource = \"127.0.0.1:5000/upstream/airflow:test\"\n",
        "[image]\nsource = \"apache/airflow\"\nsync = false\n",
        "[git_sync]\nimage_source = \"registry.k8s.io/git-sync/git-sync:v4.4.0\"\n",
    ] {
        assert_eq!(errors(good), Vec::new(), "{good}");
    }
    let mut spec = Spec::minimal("demo", "us-east-1");
    spec.image.repository = "ghcr.io/acme/airflow".into();
    spec.image.source = "apache/airflow:3.3.2".into();
    let findings = validate(&spec);
    assert!(
        findings.iter().any(|f| f.rule == "image-source-unused"
            && f.path == "image.source"
            && f.severity == Severity::Warning),
        "{findings:?}"
    );
}

const BYO: &str = "[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nprivate_subnet_ids = [\"subnet-0123456789abcdef1\", \"subnet-0123456789abcdef2\"]\npublic_subnet_ids = [\"subnet-0123456789abcdef3\", \"subnet-0123456789abcdef4\"]\n";

#[test]
fn existing_network_is_valid_and_skips_the_sizing_rules() {
    assert_eq!(errors(BYO), vec![]);
    let spec = parse_with_env(
        Path::new("o.toml"),
        format!("{HEAD}{BYO}"),
        &BTreeMap::new(),
    )
    .expect("parses")
    .spec;
    let existing = spec.network.existing().expect("existing network");
    assert_eq!(existing.vpc_id, "vpc-0123456789abcdef0");
    assert_eq!(existing.private_subnet_ids.len(), 2);
    assert!(spec.network.explicit_sizing.is_empty());
    assert!(
        Spec::minimal("demo", "us-east-1")
            .network
            .existing()
            .is_none()
    );
}

#[test]
fn existing_network_forbids_each_sizing_key_set_explicitly() {
    // Even a sizing key set to its default value is named: it would be silently ignored.
    for (key, value) in [
        ("vpc_cidr", "\"10.40.0.0/16\""),
        ("az_count", "2"),
        ("nat", "\"per-az\""),
        ("subnet_prefix", "20"),
    ] {
        let found = errors(&format!("{BYO}{key} = {value}\n"));
        assert_eq!(found, vec![(NETWORK_EXISTING_SIZING, Some(8))], "{key}");
    }
    let text = format!("{HEAD}{BYO}nat = \"per-az\"\naz_count = 3\n");
    let loaded = parse_with_env(Path::new("o.toml"), text, &BTreeMap::new()).expect("parses");
    let findings: Vec<Finding> = validate(&loaded.spec)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["network.az_count", "network.nat"]);
    assert!(
        findings[0].fix.contains("remove az_count"),
        "{}",
        findings[0]
    );
}

#[test]
fn existing_network_needs_two_subnets_of_each_kind_and_a_vpc() {
    let one = BYO.replace(", \"subnet-0123456789abcdef2\"", "");
    assert_eq!(errors(&one), vec![(NETWORK_EXISTING_SUBNETS, Some(6))]);
    let no_public = BYO.replace(
        "public_subnet_ids = [\"subnet-0123456789abcdef3\", \"subnet-0123456789abcdef4\"]\n",
        "",
    );
    assert_eq!(
        errors(&no_public),
        vec![(NETWORK_EXISTING_SUBNETS, Some(4))]
    );
    let no_vpc = BYO.replace("vpc_id = \"vpc-0123456789abcdef0\"\n", "");
    assert_eq!(
        errors(&no_vpc),
        vec![
            (NETWORK_EXISTING_SUBNETS, Some(5)),
            (NETWORK_EXISTING_SUBNETS, Some(6))
        ]
    );
    let twice = BYO.replace("abcdef3", "abcdef1");
    assert_eq!(errors(&twice), vec![(NETWORK_EXISTING_SUBNETS, Some(7))]);
}

#[test]
fn existing_network_ids_are_ec2_ids() {
    assert_eq!(
        errors(&BYO.replace("vpc-0123456789abcdef0", "vpc-XYZ")),
        vec![(NETWORK_EXISTING_IDS, Some(5))]
    );
    assert_eq!(
        errors(&BYO.replace("subnet-0123456789abcdef4", "sg-0123456789abcdef4")),
        vec![(NETWORK_EXISTING_IDS, Some(7))]
    );
    assert!(is_ec2_id("subnet-0a1b2c3d", "subnet"));
    assert!(is_ec2_id("vpc-0a1b2c3d4e5f67890", "vpc"));
    for bad in [
        "vpc-0A1B2C3D",
        "vpc-0a1b2c3d4",
        "vpc0a1b2c3d",
        "subnet-0a1b2c3d",
        "",
    ] {
        assert!(!is_ec2_id(bad, "vpc"), "{bad}");
    }
}

#[test]
fn existing_network_sizing_set_by_the_environment_is_named_with_its_variable() {
    let env = BTreeMap::from([(
        "ORCHESTRATE__NETWORK__NAT".to_string(),
        "per-az".to_string(),
    )]);
    let loaded = parse_with_env(Path::new("o.toml"), format!("{HEAD}{BYO}"), &env).expect("parses");
    let finding = validate(&loaded.spec)
        .into_iter()
        .find(|f| f.rule == NETWORK_EXISTING_SIZING)
        .expect("the override is explicit");
    assert_eq!(finding.path, "network.nat");
    assert_eq!(
        loaded.origin(&finding.path),
        Origin::Env {
            variable: "ORCHESTRATE__NETWORK__NAT".into()
        }
    );
}

#[test]
fn network_spec_round_trips_with_what_was_set() {
    let text = format!("{HEAD}[network]\naz_count = 3\n");
    let spec = parse_with_env(Path::new("o.toml"), text, &BTreeMap::new())
        .expect("parses")
        .spec;
    assert_eq!(spec.network.explicit_sizing, ["az_count"]);
    let written = toml::to_string(&spec).expect("serializes");
    assert!(written.contains("az_count = 3"), "{written}");
    assert!(
        !written.contains("vpc_cidr"),
        "only what was set: {written}"
    );
    let again: Spec = toml::from_str(&written).expect("parses back");
    assert_eq!(again, spec);
}

#[test]
fn domain_rules() {
    const ZONE: &str = "hosted_zone_id = \"Z0123456789ABCDEFGHIJ\"\n";
    assert_eq!(
        errors(&format!(
            "[load_balancer]\ndomain = \"airflow.example.com\"\n{ZONE}"
        )),
        vec![]
    );
    for bad in [
        "Airflow.example.com",
        "airflow",
        "*.example.com",
        "airflow.example.com.",
        "air_flow.example.com",
        "-airflow.example.com",
        "airflow..example.com",
        "10.0.0.1",
        "http://airflow.example.com",
    ] {
        assert_rule(
            &format!("[load_balancer]\ndomain = \"{bad}\"\n{ZONE}"),
            "alb-domain",
            5,
        );
    }
    let long_label = format!("{}.example.com", "a".repeat(64));
    assert_rule(
        &format!("[load_balancer]\ndomain = \"{long_label}\"\n{ZONE}"),
        "alb-domain",
        5,
    );
    // A domain with neither a zone (to validate a requested certificate) nor a certificate.
    assert_rule(
        "[load_balancer]\ndomain = \"airflow.example.com\"\n",
        "alb-domain-certificate",
        5,
    );
    // A zone id with the API's /hostedzone/ prefix, lowercase, or without a domain.
    assert_rule(
        "[load_balancer]\ndomain = \"a.example.com\"\nhosted_zone_id = \"/hostedzone/Z1\"\n",
        "alb-hosted-zone",
        6,
    );
    assert_rule(
        "[load_balancer]\ndomain = \"a.example.com\"\nhosted_zone_id = \"z0123\"\n",
        "alb-hosted-zone",
        6,
    );
    assert_rule(&format!("[load_balancer]\n{ZONE}"), "alb-hosted-zone", 5);
    // A team's own certificate without a zone: valid, with a warning that no record is written.
    let own = "[load_balancer]\ndomain = \"a.example.com\"\ncertificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/0f6a6c2e-1b2c-4d5e-8f90-0123456789ab\"\n";
    assert_eq!(errors(own), vec![]);
    assert!(warnings(own).contains(&"alb-domain-dns"));
    // HTTPS on a domain, or an internal ALB, is not plain HTTP to the internet.
    assert!(
        !warnings(&format!(
            "[load_balancer]\ndomain = \"a.example.com\"\n{ZONE}"
        ))
        .contains(&"alb-plain-http")
    );
    assert!(!warnings("[load_balancer]\nscheme = \"internal\"\n").contains(&"alb-plain-http"));
}
