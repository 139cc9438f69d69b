//! The command-line contract a pipeline builds on: a closed pipe, exit codes of `status` and
//! `plan --detailed-exitcode`, `--region` against the spec and the lock file, two regions
//! sharing a deployment name, and the README's commands and flags against `--help`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use awsim::Scenario;
use common::{Run, SPEC, World};

/// Runs `cmd` with its stdout a pipe whose reading end is already closed: the first write
/// fails with EPIPE, deterministically.
async fn run_into_closed_pipe(mut cmd: tokio::process::Command) -> Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(Stdio::from(writer)).stderr(Stdio::piped());
    let child = cmd.spawn().expect("orchestrate starts");
    let output = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
        .await
        .expect("orchestrate finished within 240 s")
        .expect("orchestrate ran");
    Run::from(output)
}

fn assert_quiet_exit_0(what: &str, run: &Run) {
    assert_eq!(run.code, Some(0), "{what}: exit code\n{}", run.stderr);
    for text in ["panicked", "failed printing", "Broken pipe", "error"] {
        assert!(
            !run.stderr.contains(text),
            "{what}: {text:?} on stderr:\n{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_ends_status_render_and_validate_quietly_with_exit_0() {
    let world = World::start(SPEC, Scenario::default()).await;
    for args in [
        &["status"][..],
        &["render", "task-definitions"],
        &["validate"],
        &["plan"],
    ] {
        let run = run_into_closed_pipe(world.command(args)).await;
        assert_quiet_exit_0(&args.join(" "), &run);
    }
}

/// A lock file pinning `region`'s zones beside `spec`.
fn write_lock(spec: &std::path::Path, region: &str) {
    std::fs::write(
        spec.with_extension("lock"),
        format!("region = \"{region}\"\navailability_zones = [\"{region}a\", \"{region}b\"]\n"),
    )
    .expect("write lock");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_that_contradicts_the_spec_or_the_lock_file_is_refused_with_exit_2() {
    let world = World::start(SPEC, Scenario::default()).await;
    for command in [&["plan"][..], &["up", "--phase", "1"], &["status"]] {
        let mut args = vec!["--region", "eu-west-1"];
        args.extend_from_slice(command);
        let run = world.run(&args).await;
        run.expect_code(2);
        assert!(
            run.stderr
                .contains("--region eu-west-1 contradicts deployment.region")
                && run.stderr.contains("orchestrate.toml:"),
            "names the flag and the spec file's line:\n{}",
            run.stderr
        );
    }
    // With --output json the failure is one JSON document on stdout.
    let run = world
        .run(&["--output", "json", "--region", "eu-west-1", "plan"])
        .await;
    run.expect_code(2);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["schema_version"], 1, "{doc}");
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["error"]["kind"], "invalid", "{doc}");
    assert_eq!(doc["error"]["exit_code"], 2, "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--region eu-west-1")),
        "{doc}"
    );
    // The same region as the spec is fine.
    world
        .run(&["--region", "us-east-1", "plan", "--phase", "1"])
        .await
        .expect_code(0);

    world.sim.reset_accounting();
    write_lock(&world.spec, "eu-west-1");
    let run = world.run(&["up", "--phase", "1"]).await;
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("orchestrate.lock pins availability zones of eu-west-1")
            && run.stderr.contains("deployment.region = \"us-east-1\""),
        "names the lock file and the region:\n{}",
        run.stderr
    );
    assert!(
        world.sim.calls().is_empty(),
        "refused before any AWS call: {:?}",
        world.sim.calls()
    );
}

/// The inline policy of IAM role `role`, decoded.
async fn role_policy(sdk: &aws_config::SdkConfig, role: &str, policy: &str) -> String {
    let out = aws_sdk_iam::Client::new(sdk)
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .expect("get role policy");
    percent_decode(out.policy_document())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_deployment_name_in_two_regions_does_not_clobber_the_other_regions_roles() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let before = role_policy(&sdk, "e2e-ecs-execution-us-east-1", "orchestrate-execution").await;
    assert!(before.contains(":us-east-1:"), "{before}");

    let eu = world.add_spec("eu", &SPEC.replace("us-east-1", "eu-west-1"));
    world
        .run_for(&eu, &["up", "--phase", "1"])
        .await
        .expect_code(0);

    let after = role_policy(&sdk, "e2e-ecs-execution-us-east-1", "orchestrate-execution").await;
    assert_eq!(before, after, "the us-east-1 role's policy is untouched");
    let eu_policy = role_policy(&sdk, "e2e-ecs-execution-eu-west-1", "orchestrate-execution").await;
    assert!(
        eu_policy.contains(":eu-west-1:") && !eu_policy.contains(":us-east-1:"),
        "{eu_policy}"
    );
    // Each region's deployment still plans no change.
    let run = world.run(&["plan", "--phase", "1"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    let run = world.run_for(&eu, &["plan", "--phase", "1"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_detailed_exitcode_and_status_exit_codes_follow_the_table() {
    let world = World::start(SPEC, Scenario::default()).await;
    let run = world.run(&["status"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("not deployed"), "{}", run.stdout);
    world
        .run(&["plan", "--phase", "1", "--detailed-exitcode"])
        .await
        .expect_code(2);

    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let run = world
        .run(&["plan", "--phase", "1", "--detailed-exitcode"])
        .await;
    run.expect_code(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    let run = world.run(&["status"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("healthy through phase 1 (storage)"),
        "{}",
        run.stdout
    );

    // Drift: the container log group deleted behind orchestrate's back.
    aws_sdk_cloudwatchlogs::Client::new(&world.sdk().await)
        .delete_log_group()
        .log_group_name("/orchestrate/e2e")
        .send()
        .await
        .expect("delete log group");
    let run = world
        .run(&["plan", "--phase", "1", "--detailed-exitcode"])
        .await;
    run.expect_code(2);
    assert!(run.stdout.contains("/orchestrate/e2e"), "{}", run.stdout);
    // Without the flag a plan with changes is a success.
    world.run(&["plan", "--phase", "1"]).await.expect_code(0);
    let run = world.run(&["status"]).await;
    run.expect_code(3);
    assert!(
        run.stdout.contains("degraded") && run.stdout.contains("/orchestrate/e2e"),
        "{}",
        run.stdout
    );

    // An error is 1 with --detailed-exitcode, even one that is 2 without it.
    world
        .run(&["--region", "eu-west-1", "plan"])
        .await
        .expect_code(2);
    world
        .run(&["--region", "eu-west-1", "plan", "--detailed-exitcode"])
        .await
        .expect_code(1);
}

/// Flags the README names that belong to other tools (the AWS CLI command `up` prints).
const OTHER_TOOLS_FLAGS: &[&str] = &["--secret-id", "--query"];

fn orchestrate(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"))
        .args(args)
        .env_remove("ORCHESTRATE_CONFIG")
        .output()
        .expect("orchestrate runs")
}

#[test]
fn every_command_and_flag_the_readme_names_exists_in_help() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .expect("README reads");
    // Commands: `orchestrate <words>` at the start of a code line, up to the first flag.
    let mut commands: Vec<Vec<String>> = readme
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("orchestrate "))
        .map(|rest| {
            rest.split_whitespace()
                .take_while(|w| !w.starts_with('-') && !w.starts_with('#') && !w.starts_with('&'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
        .collect();
    commands.sort();
    commands.dedup();
    assert!(
        commands.len() >= 8,
        "found the README's commands: {commands:?}"
    );
    let mut help = String::from_utf8_lossy(&orchestrate(&["--help"]).stdout).into_owned();
    for words in &commands {
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let out = orchestrate(&args);
        assert!(
            out.status.success(),
            "`orchestrate {}` is in the README but not a command:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        help.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // Flags: every `--flag` the README names.
    let mut flags: Vec<String> = readme
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2 && !w.ends_with('-'))
        .map(str::to_string)
        .filter(|w| !OTHER_TOOLS_FLAGS.contains(&w.as_str()))
        .collect();
    flags.sort();
    flags.dedup();
    assert!(flags.len() >= 10, "found the README's flags: {flags:?}");
    for flag in &flags {
        assert!(
            help.contains(flag.as_str()),
            "{flag} is in the README but in no --help"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_shows_each_api_call_and_never_writes_colours_into_a_pipe() {
    let world = World::start(SPEC, Scenario::default()).await;
    let run = world.run(&["-v", "status"]).await;
    run.expect_code(0);
    let calls: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("aws "))
        .collect();
    assert!(
        calls
            .iter()
            .any(|l| l.contains("aws STS GetCallerIdentity") && l.ends_with(" ms")),
        "-v names each call with its service, operation and duration:\n{}",
        run.stderr
    );
    assert!(
        calls
            .iter()
            .any(|l| l.contains("DescribeServices") || l.contains("ListRoles")),
        "{}",
        run.stderr
    );
    let quiet = world.run(&["status"]).await;
    assert!(
        !quiet.stderr.contains("aws STS"),
        "no call lines without -v:\n{}",
        quiet.stderr
    );
    for args in [&["-vv", "status"][..], &["-v", "plan", "--phase", "1"]] {
        let run = world.run(args).await;
        run.expect_code(0);
        assert!(
            !run.all().contains('\u{1b}'),
            "{args:?}: ANSI escape written into a pipe:\n{}",
            run.stderr
        );
    }
}
