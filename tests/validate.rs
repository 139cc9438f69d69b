//! `validate`, `plan` and `up` on bad specs: every rule fails with its message and location,
//! exit code 2, and not a single AWS call reaches the emulator.

mod common;

use awsim::Scenario;
use common::World;

const HEAD: &str = "[deployment]\nname = \"e2e\"\nregion = \"us-east-1\"\n";

/// The corpus of broken specs: `(file name, rule, marked line, text)`. Each file names its
/// rule on the first line (`# expect: RULE`) and marks the line the finding points at with
/// `# <-` (core's `invalid_specs` test checks the same files through the library).
fn corpus() -> Vec<(String, String, usize, String)> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/invalid-specs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus folder exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("fixture reads");
            let rule = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .expect("first line names the rule")
                .trim()
                .to_string();
            let line = text
                .lines()
                .position(|l| l.ends_with("# <-"))
                .expect("one line is marked")
                + 1;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .expect("file name");
            (name, rule, line, text)
        })
        .collect()
}

/// No raw control character (newlines aside) reaches the terminal.
fn assert_no_raw_controls(what: &str, shown: &str) {
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r'),
        "{what}: raw control character in {shown:?}"
    );
}

#[tokio::test]
async fn every_rule_fails_with_its_message_and_makes_no_aws_call() {
    let world = World::start(HEAD, Scenario::default()).await;
    let corpus = corpus();
    assert!(corpus.len() >= 60, "{} cases", corpus.len());
    for (name, rule, line, text) in &corpus {
        std::fs::write(&world.spec, text).expect("write spec");
        let validate = world.run(&["validate"]).await;
        validate.expect_code(2);
        let shown = validate.all();
        assert!(
            shown.contains(&format!("[rule: {rule}]")),
            "{name}: {shown}"
        );
        assert!(shown.contains("fix:"), "{name} gives no fix: {shown}");
        let place = format!("orchestrate.toml:{line}:");
        assert!(
            shown.contains(&place),
            "{name}: expected {place} in {shown}"
        );
        assert_no_raw_controls(name, &shown);
        for command in [&["up", "--phase", "1"][..], &["plan", "--phase", "1"][..]] {
            let run = world.run(command).await;
            run.expect_code(2);
            assert!(
                run.all().contains(&format!("[rule: {rule}]")),
                "{name} {command:?}: {}",
                run.all()
            );
            assert_no_raw_controls(name, &run.all());
        }
    }
    assert_eq!(
        world.sim.summary().total,
        0,
        "a bad spec must not reach AWS: {:?}",
        world.sim.summary()
    );
}

#[tokio::test]
async fn a_spec_that_is_not_a_regular_file_is_refused_before_reading() {
    let world = World::start(HEAD, Scenario::default()).await;
    std::fs::remove_file(&world.spec).expect("remove spec");
    let status = std::process::Command::new("mkfifo")
        .arg(&world.spec)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    // Opening the FIFO would block for ever; the run must refuse it instead.
    for command in [
        &["validate"][..],
        &["up", "--phase", "1"][..],
        &["plan"][..],
    ] {
        let run = world.run(command).await;
        run.expect_code(2);
        assert!(run.stderr.contains("a FIFO"), "{command:?}: {}", run.all());
    }
    std::fs::remove_file(&world.spec).expect("remove fifo");
    std::os::unix::fs::symlink("/dev/zero", &world.spec).expect("symlink");
    let run = world.run(&["validate"]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("a character device"), "{}", run.all());
    std::fs::remove_file(&world.spec).expect("remove link");
    std::fs::write(&world.spec, format!("{HEAD}{}", "# pad\n".repeat(200_000))).expect("write");
    let run = world.run(&["validate"]).await;
    run.expect_code(2);
    assert!(
        run.stderr.contains("at most 1048576 bytes"),
        "{}",
        run.all()
    );
    assert_eq!(world.sim.summary().total, 0);
}

#[tokio::test]
async fn a_malformed_dotenv_is_reported_without_its_contents() {
    let world = World::start(HEAD, Scenario::default()).await;
    std::fs::write(
        world.dir.path().join(".env"),
        "ORCHESTRATE__DATABASE__USERNAME=airflow\nAPI_TOKEN=sup3r-s3cret value\n",
    )
    .expect("write .env");
    for command in [
        &["validate"][..],
        &["plan"][..],
        &["up", "--phase", "1"][..],
    ] {
        let run = world.run(command).await;
        run.expect_code(2);
        assert!(!run.all().contains("s3cret"), "{command:?}: {}", run.all());
        assert!(run.stderr.contains(".env:2:"), "{command:?}: {}", run.all());
    }
    assert_eq!(world.sim.summary().total, 0);
}

#[tokio::test]
async fn an_escape_sequence_in_the_spec_never_reaches_the_terminal_raw() {
    let world = World::start(
        &format!("{HEAD}[deployment.tags]\nteam = \"\\u001b]0;pwned\\u0007\"\n[image]\ntag = \"\\u001b[2J\"\n"),
        Scenario::default(),
    )
    .await;
    for output in [
        &["validate"][..],
        &["validate", "--output", "json"][..],
        &["plan"][..],
    ] {
        let run = world.run(output).await;
        run.expect_code(2);
        assert_no_raw_controls("escape", &run.all());
        assert!(run.all().contains("u{1b}"), "{output:?}: {}", run.all());
    }
}

#[tokio::test]
async fn shipped_example_specs_are_valid() {
    let world = World::start(HEAD, Scenario::default()).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for example in ["config/orchestrate.toml", "config/local.toml"] {
        let text = std::fs::read_to_string(root.join(example)).expect("example exists");
        std::fs::write(&world.spec, text).expect("write spec");
        let run = world.run(&["validate"]).await;
        run.expect_code(0);
        assert!(run.stdout.contains("valid"), "{example}: {}", run.stdout);
    }
    assert_eq!(world.sim.summary().total, 0);
}

#[tokio::test]
async fn environment_override_is_applied_and_named_in_findings() {
    let world = World::start(HEAD, Scenario::default()).await;
    let run = world
        .command(&["validate"])
        .env("ORCHESTRATE__COMPONENTS__WORKER__MEMORY", "1024")
        .output()
        .await
        .expect("runs");
    let run = common::Run::from(run);
    run.expect_code(2);
    assert!(
        run.all()
            .contains("environment variable ORCHESTRATE__COMPONENTS__WORKER__MEMORY"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("[rule: worker-memory]"));
}

#[tokio::test]
async fn json_output_lists_findings() {
    let world = World::start(
        &format!("{HEAD}[cache]\ntls = false\n[load_balancer]\ningress_cidrs = [\"10.0.0.0/8\"]\n"),
        Scenario::default(),
    )
    .await;
    let run = world.run(&["validate", "--output", "json"]).await;
    run.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"], 1);
    assert_eq!(doc["findings"][0]["rule"], "cache-tls");
    assert_eq!(
        doc["findings"][0]["origin"],
        format!("{}:5:1", world.spec.display())
    );
}

#[tokio::test]
async fn validate_warns_on_plain_http_to_the_internet_and_a_worker_count_autoscaling_owns() {
    let world = World::start(
        &format!("{HEAD}[components.worker]\ncount = 4\n"),
        Scenario::default(),
    )
    .await;
    let run = world.run(&["validate"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("[rule: alb-plain-http]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[rule: worker-count-autoscaled]")
            && run.stdout.contains("Application Auto Scaling owns"),
        "{}",
        run.stdout
    );
}
