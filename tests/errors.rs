//! Failure kinds end to end: what the binary prints and which exit code it returns when AWS
//! cannot be used as configured (a silent endpoint, a refused connection, something that is
//! not AWS, no or rejected credentials, a profile that does not exist), and a deploy that
//! rides out a throttled describe inside a wait.

mod common;

use std::time::Duration;

use awsim::Scenario;
use common::{Run, SPEC, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// SDK timeouts scaled so a silent endpoint fails in a few seconds (the defaults give 60 s).
const TIMEOUT_SCALE: &str = "0.05";

/// A folder with the spec, and `orchestrate` run in it against `endpoint`.
struct Local {
    dir: tempfile::TempDir,
}

impl Local {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("orchestrate.toml"), SPEC).expect("write spec");
        Self { dir }
    }

    /// Runs `orchestrate <args>` with `endpoint`; `credentials` false leaves none anywhere.
    async fn run(&self, endpoint: &str, credentials: bool, args: &[&str]) -> Run {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"));
        cmd.arg("--config")
            .arg(self.dir.path().join("orchestrate.toml"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ORCHESTRATE_AWS_TIMEOUT_SCALE", TIMEOUT_SCALE)
            .env("CI", "true")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if credentials {
            cmd.env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        let output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("orchestrate finished within 120 s")
            .expect("orchestrate ran");
        Run::from(output)
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections and never answers.
async fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..256 {
            match listener.accept().await {
                Ok((socket, _)) => held.push(socket),
                Err(_) => break,
            }
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A port on 127.0.0.1 where nothing listens.
async fn closed_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// An HTTP server on 127.0.0.1 that answers every request with `status` and `body`.
async fn answering_endpoint(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        for _ in 0..256 {
            let Ok((mut socket, _)) = listener.accept().await else {
                break;
            };
            tokio::spawn(async move {
                // Read the request head and as much of the body as arrives with it.
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                for _ in 0..64 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    if let Some(head_end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn assert_one_clear_error(run: &Run, expected: &str, fix: &str) {
    assert!(
        run.stderr.contains(expected),
        "expected {expected:?} in:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(fix),
        "expected the fix {fix:?} in:\n{}",
        run.stderr
    );
    for dump in [
        "DispatchFailure {",
        "ConnectorError {",
        "Unknown: unhandled error",
    ] {
        assert!(
            !run.stderr.contains(dump),
            "debug dump {dump:?} in:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[tokio::test]
async fn a_silent_endpoint_fails_up_plan_and_status_with_exit_1() {
    let local = Local::new();
    let endpoint = silent_endpoint().await;
    for command in [&["up", "--phase", "1"][..], &["plan"], &["status"]] {
        let run = local.run(&endpoint, true, command).await;
        run.expect_code(1);
        assert_one_clear_error(
            &run,
            &format!("could not reach AWS at {endpoint}"),
            "AWS_ENDPOINT_URL",
        );
    }
}

#[tokio::test]
async fn unreachable_not_aws_and_rejected_credentials_each_say_so() {
    let local = Local::new();

    let refused = closed_endpoint().await;
    let run = local.run(&refused, true, &["plan"]).await;
    run.expect_code(1);
    assert_one_clear_error(
        &run,
        &format!("could not reach AWS at {refused}"),
        "AWS_ENDPOINT_URL",
    );
    // With a lock file beside the spec (zones already pinned), the same code and message.
    let lock = local.dir.path().join("orchestrate.lock");
    std::fs::write(
        &lock,
        "region = \"us-east-1\"\navailability_zones = [\"us-east-1a\", \"us-east-1b\"]\n",
    )
    .expect("write lock");
    for command in [&["plan"][..], &["up", "--phase", "1"], &["status"]] {
        let run = local.run(&refused, true, command).await;
        run.expect_code(1);
        assert_one_clear_error(
            &run,
            &format!("could not reach AWS at {refused}"),
            "AWS_ENDPOINT_URL",
        );
    }
    std::fs::remove_file(&lock).expect("remove lock");

    let not_aws = answering_endpoint("404 Not Found", "").await;
    let run = local.run(&not_aws, true, &["status"]).await;
    run.expect_code(1);
    assert_one_clear_error(&run, "is not an AWS API", "AWS_ENDPOINT_URL");
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);

    let rejecting = answering_endpoint(
        "403 Forbidden",
        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
         <Message>The security token included in the request is invalid.</Message></Error>\
         <RequestId>1</RequestId></ErrorResponse>",
    )
    .await;
    let run = local.run(&rejecting, true, &["up", "--phase", "1"]).await;
    run.expect_code(1);
    assert_one_clear_error(
        &run,
        "AWS rejected the credentials (InvalidClientTokenId)",
        "aws sso login",
    );

    let run = local.run(&refused, false, &["plan"]).await;
    run.expect_code(1);
    assert_one_clear_error(&run, "no AWS credentials found", "aws sso login");
    assert!(run.stderr.contains("--profile"), "{}", run.stderr);
}

#[tokio::test]
async fn a_profile_that_does_not_exist_is_a_usage_error() {
    let local = Local::new();
    let endpoint = closed_endpoint().await;
    let run = local
        .run(&endpoint, true, &["--profile", "nosuchprofile", "plan"])
        .await;
    run.expect_code(2);
    assert!(
        run.stderr.contains("\"nosuchprofile\"") && run.stderr.contains("does not exist"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn up_rides_out_throttled_describes_inside_its_waits() {
    // DescribeDBInstances: a burst of 12 throttles in a row (more than the SDK's 10 attempts,
    // so one probe of the RDS wait fails with Throttling and must be retried by the wait),
    // then 25 % of the calls throttled at random for the rest of the run.
    let scenario = Scenario::from_json(
        r#"{"seed": 11, "faults": [
            {"service": "rds", "operation": "DescribeDBInstances", "kind": "throttle",
             "after": 6, "max_count": 12},
            {"service": "rds", "operation": "DescribeDBInstances", "kind": "throttle",
             "rate": 0.25}
        ]}"#,
    )
    .expect("scenario parses");
    let world = World::start(SPEC, scenario).await;
    // The SDK's retry backoff runs in real time (seconds), so orchestrate's deadlines are
    // scaled less than the emulator's clock here: the RDS wait gets 120 s instead of 4.8 s.
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        world
            .command(&["-v", "up", "--phase", "1"])
            .env("ORCHESTRATE_TIME_SCALE", "0.05")
            .output(),
    )
    .await
    .expect("orchestrate finished within 300 s")
    .expect("orchestrate ran");
    let run = Run::from(output);
    run.expect_code(0);
    let throttled = world
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.operation == "DescribeDBInstances" && c.fault.as_deref() == Some("throttle"))
        .count();
    assert!(
        throttled >= 12,
        "the burst fired: {throttled} throttled calls"
    );
    assert!(
        run.stderr.contains("polling again"),
        "a probe error was ridden out and logged with -v:\n{}",
        run.stderr
    );
}
