//! Fault injection, accounting, the crash hook, the control API and process hygiene.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ecs::error::ProvideErrorMetadata;
use awsim::{Awsim, Fault, FaultKind, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fault(service: &str, operation: &str, kind: FaultKind, max: Option<u64>) -> Fault {
    Fault {
        service: service.into(),
        operation: Some(operation.into()),
        mutating: None,
        kind,
        rate: 1.0,
        max_count: max,
        after: 0,
    }
}

async fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn raw_status<E>(
    err: &aws_sdk_ecs::error::SdkError<E, aws_sdk_ecs::config::http::HttpResponse>,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn injected_faults_surface_as_the_real_service_errors() {
    let scenario = Scenario {
        faults: vec![
            fault("ecs", "ListClusters", FaultKind::Throttle, Some(1)),
            fault("ec2", "DescribeVpcs", FaultKind::Throttle, Some(1)),
            fault("rds", "DescribeDBInstances", FaultKind::Throttle, Some(1)),
            fault("iam", "ListRoles", FaultKind::Throttle, Some(1)),
            fault("ecs", "DescribeClusters", FaultKind::Http500, Some(1)),
            fault("ec2", "DescribeSubnets", FaultKind::Http503, Some(1)),
            fault(
                "elasticache",
                "DescribeReplicationGroups",
                FaultKind::Http503,
                Some(1),
            ),
            fault(
                "secretsmanager",
                "ListSecrets",
                FaultKind::LatencyMs(300),
                Some(1),
            ),
        ],
        ..Scenario::default()
    };
    let sim = Awsim::start(scenario).await.expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let rds = aws_sdk_rds::Client::new(&conf);
    let iam = aws_sdk_iam::Client::new(&conf);
    let cache = aws_sdk_elasticache::Client::new(&conf);
    let sm = aws_sdk_secretsmanager::Client::new(&conf);

    let e = ecs.list_clusters().send().await.expect_err("throttled");
    assert_eq!(e.code(), Some("ThrottlingException"));
    assert_eq!(e.message(), Some("Rate exceeded"));
    assert_eq!(raw_status(&e), Some(400));
    ecs.list_clusters()
        .send()
        .await
        .expect("max_count 1: second call passes");

    let e = ec2.describe_vpcs().send().await.expect_err("throttled");
    assert_eq!(e.code(), Some("RequestLimitExceeded"));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
    ec2.describe_vpcs().send().await.expect("passes");

    let e = rds
        .describe_db_instances()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(e.code(), Some("Throttling"));
    assert_eq!(e.message(), Some("Rate exceeded"));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));

    let e = iam.list_roles().send().await.expect_err("throttled");
    assert_eq!(e.code(), Some("Throttling"));
    iam.list_roles().send().await.expect("passes");

    let e = ecs
        .describe_clusters()
        .clusters("x")
        .send()
        .await
        .expect_err("500");
    assert_eq!(raw_status(&e), Some(500));
    assert_eq!(e.code(), Some("InternalFailure"));

    let e = ec2.describe_subnets().send().await.expect_err("503");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(e.code(), Some("Unavailable"));

    let e = cache
        .describe_replication_groups()
        .send()
        .await
        .expect_err("503");
    assert_eq!(e.code(), Some("ServiceUnavailable"));

    let t = Instant::now();
    sm.list_secrets().send().await.expect("slow but fine");
    assert!(t.elapsed() >= Duration::from_millis(300));

    let s = sim.summary();
    assert_eq!(s.total, 11);
    assert_eq!(s.faults, 8);
    assert_eq!(s.mutating, 0);
    assert_eq!(s.count("ecs", "ListClusters"), 2);
    let calls = sim.calls();
    assert_eq!(calls[0].fault.as_deref(), Some("throttle"));
    assert_eq!(calls[0].status, 400);
    assert_eq!(
        calls.last().and_then(|c| c.fault.clone()).as_deref(),
        Some("latency_ms")
    );
    assert!(calls.last().is_some_and(|c| c.latency_ms >= 300.0));
}

fn error_fault(service: &str, operation: &str, status: u16, code: &str, message: &str) -> Fault {
    fault(
        service,
        operation,
        FaultKind::Error {
            status,
            code: code.into(),
            message: message.into(),
        },
        Some(1),
    )
}

#[tokio::test]
async fn injected_error_answers_are_the_services_own_errors_and_not_applied() {
    let msg = "RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.t4g.micro, Engine=postgres, EngineVersion=9.6.";
    let scenario = Scenario {
        faults: vec![
            error_fault(
                "rds",
                "CreateDBInstance",
                400,
                "InvalidParameterCombination",
                msg,
            ),
            error_fault(
                "ecs",
                "CreateCluster",
                400,
                "InvalidParameterException",
                "Cluster <name> & settings are invalid.",
            ),
            error_fault(
                "ec2",
                "CreateVpc",
                400,
                "VpcLimitExceeded",
                "The maximum number of VPCs has been reached.",
            ),
            error_fault("iam", "CreateRole", 503, "ServiceFailure", "try later"),
        ],
        ..Scenario::default()
    };
    let sim = Awsim::start(scenario).await.expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let iam = aws_sdk_iam::Client::new(&conf);

    let create = || {
        rds.create_db_instance()
            .db_instance_identifier("meta")
            .engine("postgres")
            .engine_version("9.6")
            .db_instance_class("db.t4g.micro")
            .allocated_storage(20)
            .master_username("airflow")
            .master_user_password("letters0and0digits")
            .send()
    };
    let e = create().await.expect_err("rejected");
    assert_eq!(e.code(), Some("InvalidParameterCombination"));
    assert_eq!(e.message(), Some(msg));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    let body = e
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    assert!(
        body.contains(
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterCombination</Code>"
        ),
        "{body}"
    );
    let gone = rds
        .describe_db_instances()
        .db_instance_identifier("meta")
        .send()
        .await
        .expect_err("the rejected instance was never created");
    assert_eq!(gone.code(), Some("DBInstanceNotFound"));
    create()
        .await
        .expect("max_count 1: the second create passes");

    let e = ecs
        .create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .expect_err("rejected");
    assert_eq!(e.code(), Some("InvalidParameterException"));
    assert_eq!(e.message(), Some("Cluster <name> & settings are invalid."));
    let raw = e.raw_response().expect("raw");
    assert_eq!(
        raw.headers().get("x-amzn-errortype"),
        Some("InvalidParameterException")
    );
    let clusters = ecs.list_clusters().send().await.expect("list");
    assert!(clusters.cluster_arns().is_empty(), "not applied");

    let e = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect_err("rejected");
    assert_eq!(e.code(), Some("VpcLimitExceeded"));
    assert_eq!(
        e.message(),
        Some("The maximum number of VPCs has been reached.")
    );

    let e = iam
        .create_role()
        .role_name("r")
        .assume_role_policy_document("{}")
        .send()
        .await
        .expect_err("rejected");
    assert_eq!(e.code(), Some("ServiceFailure"));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));

    let calls = sim.calls();
    let faulted: Vec<(&str, &str, u16, bool)> = calls
        .iter()
        .filter(|c| c.fault.is_some())
        .map(|c| {
            assert_eq!(c.fault.as_deref(), Some("error"));
            (
                c.service.as_str(),
                c.operation.as_str(),
                c.status,
                c.applied,
            )
        })
        .collect();
    assert_eq!(
        faulted,
        [
            ("rds", "CreateDBInstance", 400, false),
            ("ecs", "CreateCluster", 400, false),
            ("ec2", "CreateVpc", 400, false),
            ("iam", "CreateRole", 503, false),
        ]
    );
    let s = sim.summary();
    assert_eq!(s.faults, 4);
    assert_eq!(s.count("rds", "CreateDBInstance"), 2);
}

#[tokio::test]
async fn lost_responses_leave_the_mutation_applied_and_draws_are_seeded() {
    let scenario = Scenario {
        seed: 42,
        faults: vec![
            fault("ec2", "CreateVpc", FaultKind::LostResponse, Some(1)),
            fault("ecs", "CreateCluster", FaultKind::LostResponse, Some(1)),
            Fault {
                rate: 0.5,
                ..fault("ec2", "DescribeVpcs", FaultKind::Throttle, None)
            },
        ],
        ..Scenario::default()
    };
    let sim = Awsim::start(scenario.clone()).await.expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);

    let e = ecs
        .create_cluster()
        .cluster_name("lost")
        .send()
        .await
        .expect_err("response lost");
    assert!(
        e.as_service_error().is_none(),
        "a transport error, not a service error: {e:?}"
    );
    let clusters = ecs.list_clusters().send().await.expect("list");
    assert_eq!(clusters.cluster_arns().len(), 1, "the create was applied");

    let e = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .expect_err("response lost");
    assert!(e.as_service_error().is_none());
    ec2.create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .expect("naive retry");

    let pattern = |sim: &Awsim| {
        sim.calls()
            .iter()
            .filter(|c| c.operation == "DescribeVpcs")
            .map(|c| c.status)
            .collect::<Vec<_>>()
    };
    let mut vpcs = None;
    for _ in 0..20 {
        if let Ok(o) = ec2.describe_vpcs().send().await {
            vpcs = Some(o);
        }
    }
    let first = pattern(&sim);
    assert!(first.contains(&503) && first.contains(&200), "{first:?}");
    let named: Vec<_> = vpcs
        .expect("some describe passed")
        .vpcs()
        .iter()
        .filter(|v| v.cidr_block() == Some("10.9.0.0/16"))
        .map(|v| v.vpc_id().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        named.len(),
        2,
        "a lost create plus a naive retry makes a duplicate"
    );

    sim.reset_accounting();
    sim.set_scenario(scenario);
    for _ in 0..20 {
        let _ = ec2.describe_vpcs().send().await;
    }
    assert_eq!(pattern(&sim), first, "same seed, same fault draws");

    let s = sim.summary();
    assert_eq!((s.total, s.mutating), (20, 0));
}

#[tokio::test]
async fn crash_hook_kills_after_nth_applied_mutation_and_control_api_works() {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let mut victim = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");

    let port = sim.port();
    let (st, _) = http(
        port,
        "POST",
        "/_awsim/crash",
        &format!("{{\"pid\":{},\"after\":2}}", victim.id()),
    )
    .await;
    assert_eq!(st, 200);
    ecs.create_cluster()
        .cluster_name("a")
        .send()
        .await
        .expect("1st mutation");
    ecs.describe_clusters()
        .clusters("a")
        .send()
        .await
        .expect("reads do not count");
    assert!(
        victim.try_wait().expect("try_wait").is_none(),
        "still alive after 1 mutation"
    );
    ecs.create_cluster()
        .cluster_name("b")
        .send()
        .await
        .expect("2nd mutation");
    let status = victim.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "SIGKILLed");
    assert!(sim.crash_hook().is_some_and(|h| h.fired));

    let (st, body) = http(port, "GET", "/_awsim/summary", "").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["total"], 3);
    assert_eq!(v["mutating"], 2);
    assert_eq!(v["by_operation"]["ecs:CreateCluster"], 2);
    let (_, body) = http(port, "GET", "/_awsim/calls", "").await;
    let calls: Vec<awsim::Call> = serde_json::from_str(&body).expect("calls");
    assert_eq!(
        calls
            .iter()
            .map(|c| c.operation.as_str())
            .collect::<Vec<_>>(),
        ["CreateCluster", "DescribeClusters", "CreateCluster"]
    );

    let (st, _) = http(
        port,
        "POST",
        "/_awsim/scenario",
        r#"{"faults":[{"service":"ecs","kind":"throttle"}]}"#,
    )
    .await;
    assert_eq!(st, 200);
    assert!(ecs.list_clusters().send().await.is_err());
    let (st, _) = http(port, "POST", "/_awsim/scenario", "{}").await;
    assert_eq!(st, 200);
    let (st, _) = http(port, "POST", "/_awsim/scenario", r#"{"nonsense":true}"#).await;
    assert_eq!(st, 400);

    let (st, _) = http(port, "POST", "/_awsim/reset", "").await;
    assert_eq!(st, 200);
    assert!(
        ecs.list_clusters()
            .send()
            .await
            .expect("list")
            .cluster_arns()
            .is_empty(),
        "moto was reset"
    );
    assert_eq!(sim.summary().total, 1);
}

#[tokio::test]
async fn moto_dies_with_its_handle_and_serve_cli_runs_until_sigterm() {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let moto_port: u16 = sim
        .moto_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert!(std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_ok());
    drop(sim);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err(),
        "moto stopped on drop"
    );

    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_awsim"))
        .args(["serve", "--time-scale", "0.01"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn awsim serve");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let endpoint = lines.next().expect("line").expect("read");
    let moto = lines.next().expect("line").expect("read");
    let url = endpoint
        .strip_prefix("AWSIM_ENDPOINT=")
        .expect("prefix")
        .to_string();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let moto_port: u16 = moto
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let (st, body) = http(port, "GET", "/_awsim/health", "").await;
    assert_eq!(st, 200, "{body}");
    let (_, body) = http(port, "GET", "/_awsim/scenario", "").await;
    assert!(body.contains("\"time_scale\":0.01"), "{body}");

    let ecs = aws_sdk_ecs::Client::new(&common::sdk(&url).await);
    ecs.create_cluster()
        .cluster_name("cli")
        .send()
        .await
        .expect("works through serve");

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err(),
        "moto stopped with serve"
    );
}

/// AWS applies a request it received even when the client dies before the answer: a call
/// whose client gives up mid-flight (here a 50 ms operation timeout against 400 ms of
/// injected latency) is still applied in full, moto and the emulated lifecycle alike.
#[tokio::test]
async fn a_request_whose_client_disconnects_mid_flight_is_applied_in_full() {
    let scenario = Scenario {
        faults: vec![fault(
            "ecs",
            "CreateCluster",
            FaultKind::LatencyMs(400),
            Some(1),
        )],
        ..Scenario::default()
    };
    let sim = Awsim::start(scenario).await.expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let impatient = aws_sdk_ecs::config::Builder::from(&conf)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(50))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let e = aws_sdk_ecs::Client::from_conf(impatient)
        .create_cluster()
        .cluster_name("abandoned")
        .send()
        .await
        .expect_err("the client gives up before the answer");
    assert!(
        matches!(e, aws_sdk_ecs::error::SdkError::TimeoutError(_)),
        "{e:?}"
    );
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = ecs.list_clusters().send().await.expect("list clusters");
        if listed
            .cluster_arns()
            .iter()
            .any(|a| a.ends_with("/abandoned"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned CreateCluster was never applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The proxy records the call once moto has answered it, which may be a moment after the
    // cluster is listed: wait for the record within the same deadline.
    let created = loop {
        if let Some(c) = sim
            .calls()
            .into_iter()
            .find(|c| c.operation == "CreateCluster")
        {
            break c;
        }
        assert!(Instant::now() < deadline, "CreateCluster never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(created.applied, "{created:?}");
}
