//! AWS's own limits and patterns, checked offline so that `up` never meets them after dozens
//! of mutating calls.
//!
//! Each constant names where it comes from: a botocore API model (`min`/`max`/`pattern` of a
//! shape), an AWS quota, or the PostgreSQL grammar. Where services disagree the strictest wins,
//! because the user's tags go on every taggable resource of every service.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::Findings;
use crate::names::{Names, TAG_COMPONENT, TAG_DEPLOYMENT, TAG_MANAGED_BY, TAG_PHASE};
use crate::spec::Spec;

/// Tags per resource (ECS `Tags` max 50, IAM `tagListType` max 50, CloudWatch Logs `Tags` max 50).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

/// The tags orchestrate puts on every resource itself (`Name` included).
pub const ORCHESTRATE_TAG_KEYS: [&str; 5] = [
    TAG_DEPLOYMENT,
    TAG_COMPONENT,
    TAG_PHASE,
    TAG_MANAGED_BY,
    "Name",
];

/// User tags that still fit beside orchestrate's own.
pub const MAX_USER_TAGS: usize = MAX_TAGS_PER_RESOURCE - ORCHESTRATE_TAG_KEYS.len();

/// Tag key length (ECS/IAM/ELBv2/Logs `TagKey` max 128), in UTF-16 code units.
pub const MAX_TAG_KEY_LEN: usize = 128;

/// Tag value length (`TagValue` max 256), in UTF-16 code units.
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// The tag character pattern of the ECS, IAM, ELBv2 and CloudWatch Logs models.
pub const TAG_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$";

/// Default quota of inbound rules per security group.
pub const MAX_INBOUND_RULES_PER_GROUP: usize = 60;

/// Ports opened on the ALB per ingress CIDR (80 and 443): each is one rule.
pub const ALB_RULES_PER_CIDR: usize = 2;

/// Most ingress CIDRs the ALB's security group holds.
pub const MAX_INGRESS_CIDRS: usize = MAX_INBOUND_RULES_PER_GROUP / ALB_RULES_PER_CIDR;

/// ECS `RegisterTaskDefinition` request size limit.
pub const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

/// Bytes of the largest task definition kept for what orchestrate itself renders (commands,
/// health checks, orchestrate's variables and tags, secrets, git-sync sidecar): measured at
/// under 8 KiB, reserved twice over.
pub const TASK_DEFINITION_RESERVE_BYTES: usize = 16 * 1024;

/// ECS quota: tasks per service.
pub const MAX_TASKS_PER_SERVICE: u32 = 5000;

/// RDS `MasterUsername`: 1 to 16 letters, digits or underscores.
pub const MAX_DB_USERNAME_LEN: usize = 16;

/// RDS `DBName` for PostgreSQL: 1 to 63 letters, digits or underscores.
pub const MAX_DB_NAME_LEN: usize = 63;

/// The FAB admin user name: at most this many characters.
pub const MAX_ADMIN_USERNAME_LEN: usize = 64;

/// ECS `image` (repository and tag): at most 255 characters.
pub const MAX_IMAGE_LEN: usize = 255;

/// PostgreSQL key words that cannot name a role or a database (the "reserved" and
/// "reserved (can be function or type)" categories of PostgreSQL 16's key word table); RDS
/// refuses them as master user or database name.
pub const POSTGRES_RESERVED: &str = "all analyse analyze and any array as asc asymmetric authorization binary both case cast \
     check collate collation column concurrently constraint create cross current_catalog \
     current_date current_role current_schema current_time current_timestamp current_user \
     default deferrable desc distinct do else end except false fetch for foreign freeze from \
     full grant group having ilike in initially inner intersect into is isnull join lateral \
     leading left like limit localtime localtimestamp natural not notnull null offset on only \
     or order outer overlaps placing primary references returning right select session_user \
     similar some symmetric system_user table tablesample then to trailing true union unique \
     user using variadic verbose when where window with public";

/// True when `word` (lower case) is in [`POSTGRES_RESERVED`].
pub fn is_postgres_reserved(word: &str) -> bool {
    POSTGRES_RESERVED.split_whitespace().any(|w| w == word)
}

/// Role names PostgreSQL or RDS keep for themselves besides the key words.
const RESERVED_ROLES: [&str; 5] = ["none", "postgres", "rdsadmin", "rdsrepladmin", "admin"];

/// Databases every RDS PostgreSQL instance already has.
const EXISTING_DATABASES: [&str; 4] = ["postgres", "template0", "template1", "rdsadmin"];

fn regex(pattern: &str) -> Regex {
    // Every pattern is a constant of this module, compiled by the tests.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("constant pattern compiles")
}

static TAG_CHARS: LazyLock<Regex> = LazyLock::new(|| regex(TAG_PATTERN));
/// ECR/Docker tag.
static IMAGE_TAG: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"));
/// A Docker reference without tag or digest: optional registry host[:port]/, then lowercase
/// path components.
static IMAGE_REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?/)?",
        r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
    ))
});
static ENGINE_VERSION: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9]{1,3}(?:\.[0-9]{1,3})?$"));
static CACHE_VERSION: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9]{1,2}\.[0-9]{1,2}$"));
static ACM_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^arn:aws(?:-cn|-us-gov)?:acm:([a-z]{2}(?:-[a-z]+)+-[0-9]+):[0-9]{12}:certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
});
static SECRET_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^arn:aws(?:-cn|-us-gov)?:secretsmanager:[a-z]{2}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$",
    )
});
static ADMIN_USERNAME: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z0-9._@+-]+$"));
static AIRFLOW_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^3\.[0-9]{1,3}(?:\.[0-9]{1,3})?(?:(?:a|b|rc|\.dev|\.post)[0-9]{1,3})?$")
});

/// True when `version` is written as RDS writes engine versions: `16` or `16.4`.
pub(super) fn is_engine_version(version: &str) -> bool {
    ENGINE_VERSION.is_match(version)
}

/// Length as AWS counts it: UTF-16 code units (never fewer than characters).
fn aws_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The first character of `text` outside the tag pattern, if any.
fn bad_tag_char(text: &str) -> Option<char> {
    if TAG_CHARS.is_match(text) {
        return None;
    }
    text.chars().find(|c| {
        let mut buf = [0u8; 4];
        !TAG_CHARS.is_match(c.encode_utf8(&mut buf))
    })
}

fn describe(c: char) -> String {
    if crate::escape::is_unsafe(c) || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}' (U+{:04X})", u32::from(c))
    }
}

/// Every rule of this module.
pub(super) fn check(spec: &Spec, f: &mut Findings) {
    tags(&spec.deployment.tags, f);
    alb(spec, f);
    database(spec, f);
    images(spec, f);
    image_sources(spec, f);
    task_definition_size(spec, f);
    counts(spec, f);
    arns(spec, f);
    airflow(spec, f);
}

fn tags(tags: &BTreeMap<String, String>, f: &mut Findings) {
    if tags.len() > MAX_USER_TAGS {
        f.error(
            "tag-count",
            "deployment.tags",
            format!(
                "{} tags plus orchestrate's own {} ({}) make {} on every resource, over AWS's {MAX_TAGS_PER_RESOURCE}",
                tags.len(),
                ORCHESTRATE_TAG_KEYS.len(),
                ORCHESTRATE_TAG_KEYS.join(", "),
                tags.len() + ORCHESTRATE_TAG_KEYS.len()
            ),
            format!("keep at most {MAX_USER_TAGS} tags under [deployment.tags]"),
        );
    }
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (key, value) in tags {
        let path = format!("deployment.tags.{key}");
        let lower = key.to_lowercase();
        if lower.starts_with("aws:") {
            f.error(
                "tag-reserved",
                &path,
                format!("tag key '{key}' uses the aws: prefix, which AWS reserves for itself"),
                "choose a key without the aws: prefix",
            );
        } else if lower.starts_with("orchestrate:")
            || ORCHESTRATE_TAG_KEYS
                .iter()
                .any(|k| k.to_lowercase() == lower)
        {
            f.error(
                "tag-reserved",
                &path,
                format!("tag key '{key}' is one orchestrate sets itself (IAM compares tag keys without case)"),
                "choose a key not starting with orchestrate: and other than managed-by or Name",
            );
        }
        if let Some(first) = seen.insert(lower, key) {
            f.error(
                "tag-duplicate",
                &path,
                format!("tag keys '{first}' and '{key}' differ only in case, and IAM treats them as one key"),
                "keep one of them",
            );
        }
        let key_len = aws_len(key);
        if key_len == 0 || key_len > MAX_TAG_KEY_LEN {
            f.error(
                "tag-key-length",
                &path,
                format!("a tag key of {key_len} characters"),
                format!("use 1 to {MAX_TAG_KEY_LEN} characters"),
            );
        }
        let value_len = aws_len(value);
        if value_len > MAX_TAG_VALUE_LEN {
            f.error(
                "tag-value-length",
                &path,
                format!("the value of tag '{key}' has {value_len} characters"),
                format!("use at most {MAX_TAG_VALUE_LEN} characters"),
            );
        }
        for (what, text) in [("key", key), ("value", value)] {
            if let Some(c) = bad_tag_char(text) {
                f.error(
                    "tag-characters",
                    &path,
                    format!("the {what} of tag '{key}' holds {}, outside AWS's tag characters", describe(c)),
                    "use letters, digits, spaces and _ . : / = + - @ only (the pattern of the ECS, IAM, ELB and CloudWatch Logs tag APIs)",
                );
            }
        }
    }
}

fn alb(spec: &Spec, f: &mut Findings) {
    let names = Names::new(&spec.deployment.name);
    let alb = names.load_balancer();
    if alb.starts_with("internal-") {
        f.error(
            "alb-name",
            "deployment.name",
            format!("the load balancer would be named '{alb}', and ELB refuses names starting with internal-"),
            "choose a deployment name that does not start with internal-",
        );
    }
    for (kind, name) in [
        ("load balancer", &alb),
        ("target group", &names.target_group()),
    ] {
        if name.len() > 32 {
            f.error(
                "alb-name",
                "deployment.name",
                format!("the {kind} name '{name}' is longer than ELB's 32 characters"),
                "use a shorter deployment name",
            );
        }
    }
    let cidrs = &spec.load_balancer.ingress_cidrs;
    if cidrs.len() > MAX_INGRESS_CIDRS {
        f.error(
            "alb-ingress-count",
            "load_balancer.ingress_cidrs",
            format!(
                "{} CIDRs make {} inbound rules on the ALB's security group (ports 80 and 443 each), over the default quota of {MAX_INBOUND_RULES_PER_GROUP}",
                cidrs.len(),
                cidrs.len() * ALB_RULES_PER_CIDR
            ),
            format!("list at most {MAX_INGRESS_CIDRS} CIDRs (merge neighbouring ranges), or raise the quota and front the ALB with a prefix list"),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, cidr) in cidrs.iter().enumerate() {
        let normal = cidr
            .parse::<ipnet::Ipv4Net>()
            .map_or_else(|_| cidr.clone(), |n| n.to_string());
        if !seen.insert(normal) {
            f.error(
                "alb-ingress-duplicate",
                format!("load_balancer.ingress_cidrs[{i}]"),
                format!("'{cidr}' is listed twice; EC2 refuses a duplicate rule (InvalidPermission.Duplicate)"),
                "remove the repeated CIDR",
            );
        }
    }
}

fn database(spec: &Spec, f: &mut Findings) {
    let d = &spec.database;
    let username = d.username.to_lowercase();
    if is_postgres_reserved(&username)
        || RESERVED_ROLES.contains(&username.as_str())
        || username.starts_with("pg_")
        || username.starts_with("rds")
    {
        f.error(
            "db-reserved-word",
            "database.username",
            format!("'{}' is a PostgreSQL key word or a role name PostgreSQL/RDS reserves", d.username),
            "choose another master user name, e.g. airflow (not a key word such as user or select, not postgres/admin, not starting with pg_ or rds)",
        );
    }
    let db_name = d.db_name.to_lowercase();
    if is_postgres_reserved(&db_name) || EXISTING_DATABASES.contains(&db_name.as_str()) {
        f.error(
            "db-reserved-word",
            "database.db_name",
            format!(
                "'{}' is a PostgreSQL key word or a database every RDS instance already has",
                d.db_name
            ),
            "choose another database name, e.g. airflow",
        );
    }
    if !is_engine_version(&d.engine_version) {
        f.error(
            "db-engine-version",
            "database.engine_version",
            format!("'{}' is not a PostgreSQL version number", d.engine_version),
            "write a major version or major.minor in digits, e.g. 16 or 16.4",
        );
    }
    let c = &spec.cache;
    let major = c
        .engine_version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if !CACHE_VERSION.is_match(&c.engine_version) || !matches!(major, Some(7 | 8)) {
        f.error(
            "cache-engine-version",
            "cache.engine_version",
            format!(
                "'{}' is not a Valkey version ElastiCache offers",
                c.engine_version
            ),
            "use major.minor of Valkey 7 or 8, e.g. 8.0",
        );
    }
}

fn images(spec: &Spec, f: &mut Findings) {
    for (path, repository, tag_path, tag) in [
        (
            "image.repository",
            &spec.image.repository,
            "image.tag",
            &spec.image.tag,
        ),
        (
            "git_sync.image",
            &spec.git_sync.image,
            "git_sync.image_tag",
            &spec.git_sync.image_tag,
        ),
    ] {
        if !IMAGE_TAG.is_match(tag) {
            f.error(
                "image-tag",
                tag_path,
                format!("'{tag}' is not an image tag Docker or ECR accepts"),
                "use 1 to 128 characters: letters, digits, _ . -, not starting with . or -",
            );
        }
        if repository.is_empty() {
            continue;
        }
        if !IMAGE_REPOSITORY.is_match(repository) {
            f.error(
                "image-repository",
                path,
                format!("'{repository}' is not an image repository (write the tag under its own key, no digest)"),
                "write [registry[:port]/]path in lower case, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/airflow or apache/airflow",
            );
        } else if repository.len() + 1 + tag.len() > MAX_IMAGE_LEN {
            f.error(
                "image-repository",
                path,
                format!(
                    "the image reference is {} characters, over ECS's {MAX_IMAGE_LEN}",
                    repository.len() + 1 + tag.len()
                ),
                "use a shorter repository path or tag",
            );
        }
    }
}

/// `[image] source` and `[git_sync] image_source`: image references (`[registry/]path[:tag]`)
/// that `images sync` copies from; a source the deployment never copies is a warning.
fn image_sources(spec: &Spec, f: &mut Findings) {
    for (path, source, copied) in [
        (
            "image.source",
            &spec.image.source,
            spec.image.repository.is_empty(),
        ),
        (
            "git_sync.image_source",
            &spec.git_sync.image_source,
            spec.git_sync.image.is_empty(),
        ),
    ] {
        let source = source.trim();
        if source.is_empty() {
            continue;
        }
        let (repository, tag) = match source.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t)),
            _ => (source, None),
        };
        if !IMAGE_REPOSITORY.is_match(repository) || !tag.is_none_or(|t| IMAGE_TAG.is_match(t)) {
            f.error(
                "image-source",
                path,
                format!("'{source}' is not an image reference"),
                "write [registry[:port]/]path[:tag] in lower case, e.g. apache/airflow:3.3.2",
            );
        } else if !copied {
            f.warning("image-source-unused", path, "the deployment runs an image of your own ([image] repository / [git_sync] image is set), so nothing is copied from this source", "remove the source, or empty the repository key to run the copy in the deployment's ECR");
        }
    }
}

/// Bytes `text` takes as a JSON string.
fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6 + 2, |s| s.len())
}

/// Bytes the user's part of the largest task definition takes: every `[airflow].environment`
/// entry as `{"name":…,"value":…}` in the Airflow container, and every tag as `{"key":…,"value":…}`.
pub fn user_task_definition_bytes(spec: &Spec) -> usize {
    let env: usize = spec
        .airflow
        .environment
        .iter()
        .map(|(k, v)| json_len(k) + json_len(v) + r#"{"name":,"value":},"#.len())
        .sum();
    let tags: usize = spec
        .deployment
        .tags
        .iter()
        .map(|(k, v)| json_len(k) + json_len(v) + r#"{"key":,"value":},"#.len())
        .sum();
    env + tags
}

fn task_definition_size(spec: &Spec, f: &mut Findings) {
    let user = user_task_definition_bytes(spec);
    let budget = MAX_TASK_DEFINITION_BYTES - TASK_DEFINITION_RESERVE_BYTES;
    if user > budget {
        f.error(
            "task-definition-size",
            "airflow.environment",
            format!("the environment and tags take {user} bytes of each task definition; with orchestrate's own part that exceeds ECS's {MAX_TASK_DEFINITION_BYTES}-byte request limit (user budget {budget} bytes)"),
            "move large values out of the environment (a file in the image, a DAG-side setting or a Secrets Manager secret)",
        );
    }
}

fn counts(spec: &Spec, f: &mut Findings) {
    let c = &spec.components;
    for (key, count) in [
        ("api_server", c.api_server.count),
        ("scheduler", c.scheduler.count),
        ("dag_processor", c.dag_processor.count),
        ("triggerer", c.triggerer.count),
        ("worker", c.worker.component.count),
    ] {
        if count > MAX_TASKS_PER_SERVICE {
            f.error(
                "desired-count",
                format!("components.{key}.count"),
                format!("{count} tasks, over ECS's {MAX_TASKS_PER_SERVICE} tasks per service"),
                format!(
                    "use 0 to {MAX_TASKS_PER_SERVICE} (and mind the account's Fargate vCPU quota)"
                ),
            );
        }
    }
}

fn arns(spec: &Spec, f: &mut Findings) {
    if let Some(arn) = &spec.load_balancer.certificate_arn {
        match ACM_ARN.captures(arn) {
            None => f.error(
                "alb-certificate",
                "load_balancer.certificate_arn",
                format!("'{arn}' is not an ACM certificate ARN"),
                "use arn:aws:acm:REGION:ACCOUNT:certificate/UUID (12-digit account, lowercase UUID)",
            ),
            Some(c) if c.get(1).map(|m| m.as_str()) != Some(spec.deployment.region.as_str()) => f.error(
                "alb-certificate",
                "load_balancer.certificate_arn",
                format!(
                    "the certificate is in {} but the deployment is in {}; an ALB takes certificates from its own region",
                    c.get(1).map_or("another region", |m| m.as_str()),
                    spec.deployment.region
                ),
                "request or import the certificate in the deployment's region",
            ),
            Some(_) => {}
        }
    }
    if let Some(arn) = &spec.git_sync.credentials_secret_arn
        && !SECRET_ARN.is_match(arn)
    {
        f.error(
            "git-sync-credentials",
            "git_sync.credentials_secret_arn",
            format!("'{arn}' is not a Secrets Manager secret ARN"),
            "use the full ARN arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx, without a JSON key suffix",
        );
    }
}

fn airflow(spec: &Spec, f: &mut Findings) {
    let user = &spec.airflow.admin_username;
    if user.is_empty()
        || user.chars().count() > MAX_ADMIN_USERNAME_LEN
        || !ADMIN_USERNAME.is_match(user)
    {
        f.error(
            "airflow-admin-username",
            "airflow.admin_username",
            format!("'{user}' is not a usable admin user name"),
            format!("use 1 to {MAX_ADMIN_USERNAME_LEN} letters, digits or . _ @ + -"),
        );
    }
    for (key, value) in &spec.airflow.environment {
        if value.contains('\0') {
            f.error(
                "airflow-variable-value",
                format!("airflow.environment.{key}"),
                format!("the value of {key} holds a NUL character, which no process environment can carry"),
                "remove the NUL character",
            );
        }
    }
    let version = &spec.image.airflow_version;
    if version.starts_with("3.") && !AIRFLOW_VERSION.is_match(version) {
        f.error(
            "airflow-version",
            "image.airflow_version",
            format!("'{version}' is not an Airflow version number"),
            "write the version as released, e.g. 3.1.0 or 3.1.0rc1",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile_and_match_what_aws_documents() {
        assert!(TAG_CHARS.is_match("team-é 1_.:/=+@"));
        assert!(bad_tag_char("bad!").is_some_and(|c| c == '!'));
        assert!(bad_tag_char("tab\there").is_some_and(|c| c == '\t'));
        assert!(IMAGE_TAG.is_match("3.1.0") && IMAGE_TAG.is_match(&"a".repeat(128)));
        assert!(
            !IMAGE_TAG.is_match("bad tag!")
                && !IMAGE_TAG.is_match(".x")
                && !IMAGE_TAG.is_match(&"a".repeat(129))
        );
        for ok in [
            "apache/airflow",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/airflow",
            "localhost:5000/a_b/c",
            "ghcr.io/org/x-y",
        ] {
            assert!(IMAGE_REPOSITORY.is_match(ok), "{ok}");
        }
        for bad in [
            "Apache/Airflow",
            "apache/airflow:3.1.0",
            "a//b",
            "x@sha256:00",
            "a b",
        ] {
            assert!(!IMAGE_REPOSITORY.is_match(bad), "{bad}");
        }
        assert!(ENGINE_VERSION.is_match("16") && ENGINE_VERSION.is_match("16.4"));
        assert!(!ENGINE_VERSION.is_match("16.banana") && !ENGINE_VERSION.is_match("16.4.1"));
        assert!(ACM_ARN.is_match(
            "arn:aws:acm:us-east-1:123456789012:certificate/0f6a6c2e-1b2c-4d5e-8f90-0123456789ab"
        ));
        assert!(
            SECRET_ARN
                .is_match("arn:aws:secretsmanager:us-east-1:123456789012:secret:git/creds-AbC123")
        );
        assert!(
            !SECRET_ARN
                .is_match("arn:aws:secretsmanager:us-east-1:123456789012:secret:git:password::")
        );
        assert!(
            AIRFLOW_VERSION.is_match("3.1.0")
                && AIRFLOW_VERSION.is_match("3.1.0rc1")
                && AIRFLOW_VERSION.is_match("3.1")
        );
        assert!(!AIRFLOW_VERSION.is_match("3.x"));
        assert!(ADMIN_USERNAME.is_match("admin") && !ADMIN_USERNAME.is_match("ad min"));
    }

    #[test]
    fn user_tag_budget_counts_orchestrate_tags() {
        assert_eq!(MAX_USER_TAGS, 45);
        assert_eq!(MAX_INGRESS_CIDRS, 30);
        assert_eq!(POSTGRES_RESERVED.split_whitespace().count(), 102);
        assert!(is_postgres_reserved("user") && is_postgres_reserved("select"));
        assert!(!is_postgres_reserved("airflow") && !is_postgres_reserved("use"));
    }
}
