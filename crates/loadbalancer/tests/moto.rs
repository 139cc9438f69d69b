//! Runs the load balancer's ensure / plan / drift / delete against a real `moto_server`.
//!
//! The VPC, subnets, security groups (EC2) and the ACM certificate the load balancer needs are
//! created with plain HTTP requests (`curl`) to the same server, so that this crate does not
//! depend on the EC2 and ACM SDKs. A missing `moto_server` or `curl` fails the test.
//!
//! What moto 5.2.1 does differently from AWS, as measured (the code is written for AWS and
//! works on both):
//! - DescribeLoadBalancerAttributes omits `idle_timeout.timeout_seconds` until it has been set
//!   (commented out in moto "for TF compatibility"); AWS always reports it. `alb::ensure` sets
//!   both managed attributes right after CreateLoadBalancer, so both are reported afterwards.
//! - CreateLoadBalancer / CreateTargetGroup with an existing name fail with
//!   `DuplicateLoadBalancerName` / `DuplicateTargetGroupName`; AWS returns the existing resource
//!   when the settings match. Both answers are handled (adopt).
//! - CreateListener on a port that already has a listener *succeeds* and adds a second listener
//!   (its duplicate check compares the port with listener ARNs); AWS answers
//!   `DuplicateListener` or, for identical settings, returns the existing one. Never reached by
//!   `ensure`, which describes first.
//! - An HTTP listener created without `SslPolicy` reports `ELBSecurityPolicy-2016-08`; the
//!   listener diff compares TLS policy and certificate on HTTPS listeners only.
//! - A forward action is echoed without `ForwardConfig` (AWS echoes both); both shapes are read.
//! - ModifyListener without `DefaultActions` fails with HTTP 500 (a TypeError in moto);
//!   `listener::ensure` always sends the full listener (port, protocol, policy, certificate,
//!   actions).
//! - The ALB is `provisioning` in the create response and `active` on the first describe;
//!   DeleteLoadBalancer is immediate, so the `ResourceInUse` retry of DeleteTargetGroup is only
//!   exercised by the mock tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum;
use orchestrate_core::change::Action;
use orchestrate_core::{Context, Readiness, Spec};
use orchestrate_loadbalancer::{
    Client, Error, LoadBalancerDesired, delete_load_balancer, ensure_load_balancer,
    plan_load_balancer, ready, target_health,
};

/// A `moto_server` on a free port, killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(
            // The pinned server scripts/test.sh installs (`.venv`), else the one on PATH.
            std::env::var_os("AWSIM_MOTO_SERVER").unwrap_or_else(|| "moto_server".into()),
        )
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// One unsigned request to `service` (moto routes by the credential scope).
    fn call(&self, service: &str, extra_headers: &[&str], body: &str) -> String {
        let auth = format!(
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{service}/\
             aws4_request, SignedHeaders=host, Signature=0"
        );
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", "POST", "-H", &auth]);
        for h in extra_headers {
            cmd.args(["-H", h]);
        }
        cmd.args(["--data", body, &format!("{}/", self.endpoint)]);
        let out = cmd.output().expect("curl runs");
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// An EC2 query call; returns the text of the first `<field>` element.
    fn ec2(&self, params: &str, field: &str) -> String {
        let body = self.call(
            "ec2",
            &["Content-Type: application/x-www-form-urlencoded"],
            &format!("{params}&Version=2016-11-15"),
        );
        let open = format!("<{field}>");
        let start = body
            .find(&open)
            .unwrap_or_else(|| panic!("{field} in {body}"))
            + open.len();
        let end = body[start..].find('<').expect("closing tag") + start;
        body[start..end].to_string()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Network {
    vpc: String,
    other_vpc: String,
    subnets: [String; 3],
    sgs: [String; 2],
}

fn network(moto: &Moto) -> Network {
    let vpc = moto.ec2("Action=CreateVpc&CidrBlock=10.0.0.0/16", "vpcId");
    let other_vpc = moto.ec2("Action=CreateVpc&CidrBlock=10.1.0.0/16", "vpcId");
    let subnet = |cidr: &str, az: &str| {
        moto.ec2(
            &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock={cidr}&AvailabilityZone={az}"),
            "subnetId",
        )
    };
    let subnets = [
        subnet("10.0.0.0/24", "us-east-1a"),
        subnet("10.0.1.0/24", "us-east-1b"),
        subnet("10.0.2.0/24", "us-east-1c"),
    ];
    let sg = |name: &str| {
        moto.ec2(
            &format!(
                "Action=CreateSecurityGroup&GroupName={name}&GroupDescription=test&VpcId={vpc}"
            ),
            "groupId",
        )
    };
    let sgs = [sg("alb"), sg("alb2")];
    Network {
        vpc,
        other_vpc,
        subnets,
        sgs,
    }
}

fn all_unchanged(changes: &[orchestrate_core::Change]) -> bool {
    changes.iter().all(|c| c.action == Action::NoChange)
}

#[tokio::test]
async fn ensure_drift_https_and_delete_against_moto() {
    assert!(curl_available(), "curl must be installed for this test");
    let moto = Moto::start().expect(
        "moto_server must be installed (scripts/test.sh installs it; or set AWSIM_MOTO_SERVER)",
    );
    let config = aws_sdk_elasticloadbalancingv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motolb");
    let net = network(&moto);
    let mut spec = Spec::minimal("motolb", "us-east-1");
    let desired = LoadBalancerDesired::from_spec(&spec, &net.subnets[..2], &net.sgs[0], &net.vpc);

    // Create.
    let plan = plan_load_balancer(&client, &cx, &desired)
        .await
        .expect("plan");
    assert_eq!(plan.len(), 3, "{plan:?}");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
    let first = ensure_load_balancer(&client, &cx, &desired)
        .await
        .expect("first ensure");
    assert!(first.url.starts_with("http://"), "{}", first.url);
    assert_eq!(first.url, format!("http://{}", first.dns_name));
    assert_eq!(first.listener_arns.len(), 1);
    assert!(!first.hosted_zone_id.is_empty());

    let start = Instant::now();
    loop {
        match ready(&client, &cx).await.expect("ready") {
            Readiness::Ready => break,
            Readiness::Pending { .. } if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("not ready: {other:?}"),
        }
    }

    // Converged: plan shows nothing, a second ensure returns the same outputs.
    let plan = plan_load_balancer(&client, &cx, &desired)
        .await
        .expect("plan");
    assert!(all_unchanged(&plan), "{plan:?}");
    let second = ensure_load_balancer(&client, &cx, &desired)
        .await
        .expect("second ensure");
    assert_eq!(first, second);

    // Settings and tags as sent.
    let attrs = client
        .describe_load_balancer_attributes()
        .load_balancer_arn(&first.load_balancer_arn)
        .send()
        .await
        .expect("attributes");
    let attr = |k: &str| {
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(k))
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(attr("idle_timeout.timeout_seconds").as_deref(), Some("60"));
    assert_eq!(
        attr("routing.http.drop_invalid_header_fields.enabled").as_deref(),
        Some("true")
    );
    let tg = client
        .describe_target_groups()
        .target_group_arns(&first.target_group_arn)
        .send()
        .await
        .expect("target group");
    let tg = &tg.target_groups()[0];
    assert_eq!(tg.health_check_path(), Some("/api/v2/version"));
    assert_eq!(tg.port(), Some(8080));
    assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
    let tags = client
        .describe_tags()
        .resource_arns(&first.load_balancer_arn)
        .resource_arns(&first.target_group_arn)
        .resource_arns(&first.listener_arns[0])
        .send()
        .await
        .expect("tags");
    for (arn, component) in [
        (&first.load_balancer_arn, "loadbalancer/alb"),
        (&first.target_group_arn, "loadbalancer/target-group"),
        (&first.listener_arns[0], "loadbalancer/listener"),
    ] {
        let d = tags
            .tag_descriptions()
            .iter()
            .find(|d| d.resource_arn() == Some(arn.as_str()))
            .unwrap_or_else(|| panic!("tags of {arn}"));
        let get = |k: &str| {
            d.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
        };
        assert_eq!(get("orchestrate:component"), Some(component), "{arn}");
        assert_eq!(get("orchestrate:deployment"), Some("motolb"));
        assert_eq!(get("orchestrate:phase"), Some("2"));
    }

    // Drift: subnets, security group, idle timeout; a health check changed behind our back.
    spec.load_balancer.idle_timeout_seconds = 120;
    let drifted = LoadBalancerDesired::from_spec(
        &spec,
        &[net.subnets[0].clone(), net.subnets[2].clone()],
        &net.sgs[1],
        &net.vpc,
    );
    client
        .modify_target_group()
        .target_group_arn(&first.target_group_arn)
        .health_check_path("/api/v2/monitor/health")
        .send()
        .await
        .expect("out-of-band change");
    let plan = plan_load_balancer(&client, &cx, &drifted)
        .await
        .expect("plan");
    let fields = |kind: &str| -> Vec<String> {
        plan.iter()
            .find(|c| c.kind == kind)
            .map(|c| match &c.action {
                Action::Update { fields } => fields.iter().map(|f| f.field.clone()).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default()
    };
    assert_eq!(
        fields("elbv2/load-balancer"),
        ["Subnets", "SecurityGroups", "idle_timeout.timeout_seconds"],
        "{plan:?}"
    );
    assert_eq!(
        fields("elbv2/target-group"),
        ["HealthCheckPath"],
        "{plan:?}"
    );
    let third = ensure_load_balancer(&client, &cx, &drifted)
        .await
        .expect("update");
    assert_eq!(third.load_balancer_arn, first.load_balancer_arn);
    let plan = plan_load_balancer(&client, &cx, &drifted)
        .await
        .expect("plan");
    assert!(all_unchanged(&plan), "{plan:?}");

    // HTTPS: 443 forwards, 80 redirects; removing the certificate deletes 443 again.
    let cert = moto.call(
        "acm",
        &[
            "Content-Type: application/x-amz-json-1.1",
            "X-Amz-Target: CertificateManager.RequestCertificate",
        ],
        r#"{"DomainName":"airflow.example.com"}"#,
    );
    let cert_arn = cert
        .split('"')
        .find(|s| s.starts_with("arn:aws:acm:"))
        .unwrap_or_else(|| panic!("certificate ARN in {cert}"))
        .to_string();
    spec.load_balancer.certificate_arn = Some(cert_arn.clone());
    let https = LoadBalancerDesired::from_spec(
        &spec,
        &[net.subnets[0].clone(), net.subnets[2].clone()],
        &net.sgs[1],
        &net.vpc,
    );
    let out = ensure_load_balancer(&client, &cx, &https)
        .await
        .expect("https");
    assert_eq!(out.url, format!("https://{}", out.dns_name));
    assert_eq!(out.listener_arns.len(), 2);
    let listeners = client
        .describe_listeners()
        .load_balancer_arn(&out.load_balancer_arn)
        .send()
        .await
        .expect("listeners");
    let by_port = |port: i32| {
        listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(port))
            .unwrap_or_else(|| panic!("listener {port}"))
    };
    let l443 = by_port(443);
    assert_eq!(
        l443.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    assert_eq!(
        l443.certificates()[0].certificate_arn(),
        Some(cert_arn.as_str())
    );
    let l80 = by_port(80);
    assert_eq!(
        l80.default_actions()[0].r#type(),
        Some(&ActionTypeEnum::Redirect)
    );
    let plan = plan_load_balancer(&client, &cx, &https)
        .await
        .expect("plan");
    assert!(all_unchanged(&plan), "{plan:?}");

    let plan = plan_load_balancer(&client, &cx, &drifted)
        .await
        .expect("plan");
    assert!(
        plan.iter()
            .any(|c| c.kind == "elbv2/listener" && c.action == Action::Delete),
        "{plan:?}"
    );
    let back = ensure_load_balancer(&client, &cx, &drifted)
        .await
        .expect("back to http");
    assert_eq!(back.listener_arns.len(), 1);
    let plan = plan_load_balancer(&client, &cx, &drifted)
        .await
        .expect("plan");
    assert!(all_unchanged(&plan), "{plan:?}");
    assert_eq!(plan.len(), 3, "the 443 listener is gone: {plan:?}");

    // A target group in another VPC cannot be updated in place: a clear error.
    let moved = LoadBalancerDesired::from_spec(
        &spec,
        &[net.subnets[0].clone(), net.subnets[2].clone()],
        &net.sgs[1],
        &net.other_vpc,
    );
    let err = ensure_load_balancer(&client, &cx, &moved)
        .await
        .expect_err("replacement needed");
    assert!(matches!(err, Error::ReplacementNeeded { .. }), "{err}");
    assert!(err.to_string().contains("VpcId"), "{err}");

    assert!(
        target_health(&client, &first.target_group_arn)
            .await
            .expect("target health")
            .is_empty()
    );

    // Delete, twice.
    delete_load_balancer(&client, &cx).await.expect("delete");
    let plan = plan_load_balancer(&client, &cx, &drifted)
        .await
        .expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
    delete_load_balancer(&client, &cx)
        .await
        .expect("delete again");
}
