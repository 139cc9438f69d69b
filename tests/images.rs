//! Images end to end, through the real binary against awsim with its two local registries
//! (the emulator's ECR and a seeded upstream): `up` copies missing tags and pulls for real,
//! the preflight stops a deploy whose images would not pull before anything of phase 2 is
//! created, `up --phase 1` never touches a registry, and no ECR token reaches any output.
//! Independent checks read the registries with awsim's own client and AWS with the SDK.

mod common;

use awsim::Scenario;
use awsim::registry::{Resolution, push_test_image, resolve};
use base64::Engine as _;
use common::{SPEC, World};

/// The tag the tests pin, so that no test depends on the spec's default Airflow version.
const TAG: &str = "custom";

/// Runs `orchestrate <args>` with extra environment variables.
async fn run_env(world: &World, args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let mut cmd = world.command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(240), cmd.output())
        .await
        .expect("orchestrate finished within 240 s")
        .expect("orchestrate ran");
    common::Run::from(output)
}

/// ECS and ELB calls of phase 2 and later that the last run made (the preflight must stop a
/// run before any of them).
fn phase2_calls(world: &World) -> Vec<String> {
    world
        .sim
        .calls()
        .iter()
        .filter(|c| c.mutating && matches!(c.service.as_str(), "ecs" | "elasticloadbalancing"))
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

/// The ECR authorization token (base64) and the password inside it, as the emulator hands
/// them out: neither may appear in any output.
async fn ecr_secrets(world: &World) -> (String, String) {
    let ecr = aws_sdk_ecr::Client::new(&world.sdk().await);
    let out = ecr
        .get_authorization_token()
        .send()
        .await
        .expect("GetAuthorizationToken");
    let token = out
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .expect("a token")
        .to_string();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&token)
        .expect("base64 token");
    let decoded = String::from_utf8(decoded).expect("utf-8 token");
    let password = decoded
        .strip_prefix("AWS:")
        .expect("AWS:<password>")
        .to_string();
    assert!(password.len() >= 8, "a password worth looking for");
    (token, password)
}

fn assert_no_secret(run: &common::Run, secrets: &(String, String)) {
    let all = run.all();
    assert!(
        !all.contains(&secrets.0),
        "the ECR token reached the output"
    );
    assert!(
        !all.contains(&secrets.1),
        "the ECR password reached the output"
    );
}

fn resolves(world: &World, repository: &str, tag: &str, architecture: &str) -> Resolution {
    resolve(world.registries.ecr.port(), repository, tag, architecture).expect("registry answers")
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_off_and_an_empty_repository_fail_in_preflight_before_phase_2_creates_anything() {
    let world = World::start(SPEC, Scenario::default()).await;
    let off = [
        ("ORCHESTRATE__IMAGE__SYNC", "false"),
        ("ORCHESTRATE__IMAGE__TAG", TAG),
    ];
    // Before phase 1, plan already says what `up` would hit, and how to get out of it.
    let plan = run_env(&world, &["plan"], &off).await;
    plan.expect_code(3);
    assert!(
        plan.stderr
            .contains(&format!("e2e/airflow:{TAG} does not exist")),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("orchestrate up --phase 1"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("orchestrate images sync"),
        "{}",
        plan.stderr
    );

    run_env(&world, &["up", "--phase", "1"], &off)
        .await
        .expect_code(0);
    let secrets = ecr_secrets(&world).await;
    world.sim.reset_accounting();
    let run = run_env(&world, &["up"], &off).await;
    run.expect_code(3);
    eprintln!("--- preflight failure as shown:\n{}", run.stderr);
    for expected in [
        "image preflight",
        &format!("e2e/airflow:{TAG} does not exist"),
        "e2e/git-sync:v4.4.0 does not exist",
        "CannotPullContainerError",
        "`orchestrate images sync`",
        "scripts/build-image.sh",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    assert_eq!(
        phase2_calls(&world),
        Vec::<String>::new(),
        "no cluster, load balancer or task definition before the preflight passed"
    );
    assert!(
        !world
            .sim
            .calls()
            .iter()
            .any(|c| c.operation == "RegisterTaskDefinition"),
        "RegisterTaskDefinition was never called"
    );
    assert_eq!(
        resolves(&world, "e2e/airflow", TAG, "arm64"),
        Resolution::NotFound,
        "sync off: nothing was copied"
    );
    assert_no_secret(&run, &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_up_copies_both_images_for_every_platform_and_its_tasks_pull_them() {
    let world = World::start(SPEC, Scenario::default()).await;
    let tag = [("ORCHESTRATE__IMAGE__TAG", TAG)];
    // -vv: the debug logs of every crate (the OCI client's included) must not leak the token.
    let run = run_env(&world, &["-vv", "up"], &tag).await;
    run.expect_code(0);
    let secrets = ecr_secrets(&world).await;
    assert_no_secret(&run, &secrets);
    assert!(run.stderr.contains("copied"), "{}", run.stderr);
    for (repository, tag) in [("e2e/airflow", TAG), ("e2e/git-sync", "v4.4.0")] {
        for architecture in ["arm64", "amd64"] {
            assert!(
                matches!(
                    resolves(&world, repository, tag, architecture),
                    Resolution::Found(_)
                ),
                "{repository}:{tag} for {architecture}"
            );
        }
    }
    // Every service runs its tasks: the images pulled (awsim stops a task whose image does
    // not resolve for its architecture with CannotPullContainerError).
    let ecs = aws_sdk_ecs::Client::new(&world.sdk().await);
    let services = ecs
        .describe_services()
        .cluster("e2e")
        .services("e2e-api-server")
        .services("e2e-worker")
        .send()
        .await
        .expect("describe services");
    assert_eq!(services.services().len(), 2);
    for service in services.services() {
        assert!(
            service.running_count() >= 1 && service.running_count() == service.desired_count(),
            "{:?}: {} of {} running",
            service.service_name(),
            service.running_count(),
            service.desired_count()
        );
    }

    // Converged: a re-run copies nothing, and plan (-v lists what is unchanged) shows both
    // images unchanged.
    let again = run_env(&world, &["up"], &tag).await;
    again.expect_code(0);
    assert!(!again.stderr.contains("copied"), "{}", again.stderr);
    let plan = run_env(&world, &["-v", "plan"], &tag).await;
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains(&format!("= ecr/image e2e/airflow:{TAG} (no change)")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("= ecr/image e2e/git-sync:v4.4.0 (no change)"),
        "{}",
        plan.stdout
    );
    assert_no_secret(&again, &secrets);
    assert_no_secret(&plan, &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_on_an_empty_account_shows_the_copies_up_would_make() {
    let world = World::start(SPEC, Scenario::default()).await;
    let plan = run_env(&world, &["plan"], &[("ORCHESTRATE__IMAGE__TAG", TAG)]).await;
    plan.expect_code(0);
    let upstream = world.registries.airflow_source();
    assert!(
        plan.stdout.contains(&format!(
            "+ ecr/image e2e/airflow:{TAG} (copy of {upstream}) (create)"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("+ ecr/image e2e/git-sync:v4.4.0 (copy of "),
        "{}",
        plan.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_without_arm64_fails_preflight_for_graviton_and_passes_for_x86_only() {
    let world = World::start(SPEC, Scenario::default()).await;
    let graviton = [
        ("ORCHESTRATE__IMAGE__SYNC", "false"),
        ("ORCHESTRATE__IMAGE__TAG", TAG),
    ];
    run_env(&world, &["up", "--phase", "1"], &graviton)
        .await
        .expect_code(0);
    // The team pushes its own build, for amd64 only; the git-sync mirror has both.
    let port = world.registries.ecr.port();
    push_test_image(port, "e2e/airflow", TAG, &["amd64"]).expect("push airflow");
    push_test_image(port, "e2e/git-sync", "v4.4.0", &["amd64", "arm64"]).expect("push git-sync");

    let plan = run_env(&world, &["plan"], &graviton).await;
    plan.expect_code(3);
    assert!(
        plan.stderr.contains(&format!(
            "e2e/airflow:{TAG} has no linux/arm64 image (it offers: amd64)"
        )),
        "{}",
        plan.stderr
    );

    world.sim.reset_accounting();
    let run = run_env(&world, &["up"], &graviton).await;
    run.expect_code(3);
    assert!(
        run.stderr.contains(&format!(
            "e2e/airflow:{TAG} has no linux/arm64 image (it offers: amd64)"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 image problem(s)"),
        "git-sync has both platforms: {}",
        run.stderr
    );
    assert_eq!(phase2_calls(&world), Vec::<String>::new());

    // The same image, every component on x86_64: the preflight passes and the tasks pull it.
    let x86 = [
        ("ORCHESTRATE__IMAGE__SYNC", "false"),
        ("ORCHESTRATE__IMAGE__TAG", TAG),
        ("ORCHESTRATE__IMAGE__ARCHITECTURE", "x86_64"),
    ];
    let run = run_env(&world, &["up"], &x86).await;
    run.expect_code(0);
    assert!(
        run.stderr
            .contains(&format!("e2e/airflow:{TAG} resolves for linux/amd64")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_tag_that_does_not_exist_is_exit_3_for_images_sync_and_up() {
    let world = World::start(SPEC, Scenario::default()).await;
    run_env(&world, &["up", "--phase", "1"], &[])
        .await
        .expect_code(0);
    let secrets = ecr_secrets(&world).await;
    let missing = format!("{}/upstream/airflow:nope", world.registries.upstream.host());
    let env = [("ORCHESTRATE__IMAGE__SOURCE", missing.as_str())];
    let run = run_env(&world, &["images", "sync"], &env).await;
    run.expect_code(3);
    assert!(
        run.stderr.contains(&format!("{missing} does not exist")),
        "{}",
        run.stderr
    );
    assert_no_secret(&run, &secrets);

    // `up` would copy it first: the same verdict, before phase 2 creates anything.
    world.sim.reset_accounting();
    let up = run_env(&world, &["up"], &env).await;
    up.expect_code(3);
    assert!(
        up.stderr.contains(&format!("{missing} does not exist")),
        "{}",
        up.stderr
    );
    assert_eq!(phase2_calls(&world), Vec::<String>::new());
    assert_no_secret(&up, &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn up_phase_1_never_touches_a_registry() {
    let mut world = World::start(SPEC, Scenario::default()).await;
    // Neither registry is there: phase 1 must not notice.
    world.registries.ecr.stop();
    world.registries.upstream.stop();
    world.run(&["plan", "--phase", "1"]).await.expect_code(0);
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    assert!(
        !world
            .sim
            .calls()
            .iter()
            .any(|c| c.operation == "GetAuthorizationToken"),
        "phase 1 logged in to ECR"
    );
}
