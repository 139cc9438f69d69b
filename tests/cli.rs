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
