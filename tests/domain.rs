//! HTTPS on a domain end to end: `orchestrate up --phase 2` with `load_balancer.domain` and
//! `hosted_zone_id` against the emulator (awsim issues an ACM certificate only once its
//! validation record is written in Route 53 and the validation time has passed), checked
//! independently through the AWS SDK; a second `up` changes nothing; `teardown all` removes
//! the certificate and both records and leaves the hosted zone. A team's own certificate
//! that is not issued, or does not cover the domain, is refused before any change.

mod common;

use awsim::Scenario;
use common::{SPEC, World};

const DOMAIN: &str = "airflow.example.com";
const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// Creates the public hosted zone `example.com` (as the team would have) and returns its id
/// without the `/hostedzone/` prefix.
async fn hosted_zone(sdk: &aws_config::SdkConfig) -> String {
    let zone = aws_sdk_route53::Client::new(sdk)
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("e2e-domain")
        .send()
        .await
        .expect("create hosted zone");
    zone.hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
}

fn spec_with(load_balancer: &str) -> String {
    format!("{SPEC}\n[load_balancer]\n{load_balancer}\n")
}

/// The record sets named `name` (without the trailing dot) in `zone`.
async fn records(
    sdk: &aws_config::SdkConfig,
    zone: &str,
    name: &str,
) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    aws_sdk_route53::Client::new(sdk)
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("list record sets")
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.') == name.trim_end_matches('.'))
        .cloned()
        .collect()
}

/// The certificates of `DOMAIN`, described.
async fn certificates(sdk: &aws_config::SdkConfig) -> Vec<aws_sdk_acm::types::CertificateDetail> {
    let acm = aws_sdk_acm::Client::new(sdk);
    let list = acm
        .list_certificates()
        .send()
        .await
        .expect("list certificates");
    let mut out = Vec::new();
    for summary in list.certificate_summary_list() {
        if summary.domain_name() != Some(DOMAIN) {
            continue;
        }
        let arn = summary.certificate_arn().expect("arn");
        let detail = acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .expect("describe certificate");
        out.push(detail.certificate().expect("detail").clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn up_serves_https_on_the_domain_and_teardown_removes_what_it_created() {
    let world = World::start(SPEC, Scenario::default()).await;
    let sdk = world.sdk().await;
    let zone = hosted_zone(&sdk).await;
    std::fs::write(
        &world.spec,
        spec_with(&format!(
            "domain = \"{DOMAIN}\"\nhosted_zone_id = \"{zone}\"\n"
        )),
    )
    .expect("write spec");

    let plan = world.run(&["plan", "--phase", "2"]).await;
    plan.expect_code(0);
    for shown in [
        "acm/certificate",
        "route53/validation-record",
        "route53/alias-record",
    ] {
        assert!(
            plan.stdout.contains(shown),
            "plan shows {shown}: {}",
            plan.stdout
        );
    }

    let up = world.run(&["up", "--phase", "2"]).await;
    up.expect_code(0);
    assert!(
        up.stdout.contains(&format!("Airflow:  https://{DOMAIN}")),
        "the login URL is the domain: {}",
        up.stdout
    );

    // The certificate: requested by orchestrate, tagged, ISSUED — and the wait was real:
    // awsim answered PENDING_VALIDATION until the validation record was written.
    let certs = certificates(&sdk).await;
    assert_eq!(certs.len(), 1, "one certificate for the domain: {certs:?}");
    let cert = &certs[0];
    assert_eq!(
        cert.status().map(|s| s.as_str()),
        Some("ISSUED"),
        "{cert:?}"
    );
    let cert_arn = cert.certificate_arn().expect("arn").to_string();
    let tags = aws_sdk_acm::Client::new(&sdk)
        .list_tags_for_certificate()
        .certificate_arn(&cert_arn)
        .send()
        .await
        .expect("certificate tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "orchestrate:deployment" && t.value() == Some("e2e")),
        "{tags:?}"
    );
    assert!(
        world.sim.summary().count("acm", "DescribeCertificate") >= 2,
        "orchestrate waited for the certificate"
    );

    // Its validation CNAME is in the zone.
    let validation = cert.domain_validation_options()[0]
        .resource_record()
        .expect("validation record named by ACM")
        .clone();
    let cname = records(&sdk, &zone, validation.name()).await;
    assert_eq!(cname.len(), 1, "{cname:?}");
    assert_eq!(cname[0].r#type().as_str(), "CNAME");
    assert_eq!(
        cname[0].resource_records()[0].value(),
        validation.value(),
        "{cname:?}"
    );

    // The HTTPS listener with the modern policy and the certificate; HTTP redirects (301).
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lbs = elb
        .describe_load_balancers()
        .names("e2e-alb")
        .send()
        .await
        .expect("describe load balancers");
    let alb = &lbs.load_balancers()[0];
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(alb.load_balancer_arn().expect("arn"))
        .send()
        .await
        .expect("describe listeners");
    let https = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("an HTTPS listener on 443");
    assert_eq!(https.protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(https.ssl_policy(), Some(TLS_POLICY));
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(cert_arn.as_str())
    );
    let http = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(80))
        .expect("an HTTP listener on 80");
    let redirect = http.default_actions()[0]
        .redirect_config()
        .expect("port 80 redirects");
    assert_eq!(redirect.protocol(), Some("HTTPS"));
    assert_eq!(redirect.port(), Some("443"));
    assert_eq!(redirect.status_code().map(|s| s.as_str()), Some("HTTP_301"));

    // The alias A record points at the ALB.
    let alias = records(&sdk, &zone, DOMAIN).await;
    let a = alias
        .iter()
        .find(|r| r.r#type().as_str() == "A")
        .unwrap_or_else(|| panic!("an A record at {DOMAIN}: {alias:?}"));
    let target = a.alias_target().expect("an alias");
    assert_eq!(
        target.dns_name().trim_end_matches('.').to_lowercase(),
        alb.dns_name().expect("dns").to_lowercase()
    );
    assert_eq!(
        Some(target.hosted_zone_id()),
        alb.canonical_hosted_zone_id()
    );

    // Airflow knows its public URL.
    let td = aws_sdk_ecs::Client::new(&sdk)
        .describe_task_definition()
        .task_definition("e2e-api-server")
        .send()
        .await
        .expect("api-server task definition");
    let env = td.task_definition().expect("td").container_definitions()[0]
        .environment()
        .iter()
        .find(|e| e.name() == Some("AIRFLOW__API__BASE_URL"))
        .and_then(|e| e.value())
        .map(str::to_string);
    assert_eq!(env.as_deref(), Some("https://airflow.example.com"));

    let status = world.run(&["status"]).await;
    assert!(
        status.stdout.contains(&format!("https://{DOMAIN}")),
        "status shows the domain's URL: {}",
        status.stdout
    );
    // ... and the certificate and the alias among the resources, with AWS's word on each.
    let line = |kind: &str| {
        status
            .stdout
            .lines()
            .find(|l| l.contains(kind) && l.contains(DOMAIN))
            .map(str::to_string)
    };
    let certificate = line("acm/certificate");
    assert!(
        certificate.as_deref().is_some_and(|l| l.contains("issued")),
        "status lists the issued certificate: {}",
        status.stdout
    );
    let alias = line("route53/alias-record");
    assert!(
        alias.as_deref().is_some_and(|l| l.contains("alias to ")),
        "status lists the alias to the ALB: {}",
        status.stdout
    );

    // Converged: plan shows nothing to do for the domain, a second up makes no mutating call.
    world.sim.reset_accounting();
    let plan = world.run(&["plan", "--phase", "2"]).await;
    plan.expect_code(0);
    assert_eq!(world.sim.summary().mutating, 0, "plan is read-only");
    assert!(
        plan.stdout.contains("No changes"),
        "converged, the domain's certificate, records and listeners included: {}",
        plan.stdout
    );
    world.sim.reset_accounting();
    let second = world.run(&["up", "--phase", "2"]).await;
    second.expect_code(0);
    let mutating = world.mutating_calls();
    assert!(
        mutating.is_empty(),
        "second up mutated: {mutating:?}\n{}",
        second.stderr
    );

    // Teardown removes the certificate, its validation record and the alias; the zone stays.
    let teardown = world
        .run(&[
            "teardown",
            "all",
            "--yes",
            "--force",
            "--skip-final-snapshot",
        ])
        .await;
    teardown.expect_code(0);
    assert!(certificates(&sdk).await.is_empty(), "certificate deleted");
    assert!(
        records(&sdk, &zone, validation.name()).await.is_empty(),
        "validation record deleted"
    );
    assert!(
        records(&sdk, &zone, DOMAIN).await.is_empty(),
        "alias deleted"
    );
    aws_sdk_route53::Client::new(&sdk)
        .get_hosted_zone()
        .id(&zone)
        .send()
        .await
        .expect("the team's hosted zone is left alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_given_certificate_not_issued_or_not_covering_the_domain_is_refused_before_any_change() {
    let world = World::start(SPEC, Scenario::default()).await;
    let sdk = world.sdk().await;
    let zone = hosted_zone(&sdk).await;
    let acm = aws_sdk_acm::Client::new(&sdk);
    let requested = acm
        .request_certificate()
        .domain_name("other.example.com")
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("request certificate");
    let arn = requested.certificate_arn().expect("arn").to_string();
    let spec = spec_with(&format!(
        "domain = \"{DOMAIN}\"\ncertificate_arn = \"{arn}\"\n"
    ));
    std::fs::write(&world.spec, &spec).expect("write spec");

    // Pending validation: refused with exit 2, nothing created.
    world.sim.reset_accounting();
    let run = world.run(&["up"]).await;
    run.expect_code(2);
    assert!(
        run.all().contains("PENDING_VALIDATION"),
        "names the status: {}",
        run.all()
    );
    assert!(
        world.sim.summary().mutating == 0,
        "{:?}",
        world.mutating_calls()
    );

    // Issued (its record written, the validation time passed) but for another name.
    let record = loop {
        let detail = acm
            .describe_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .expect("describe");
        if let Some(r) = detail
            .certificate()
            .and_then(|c| c.domain_validation_options().first())
            .and_then(|o| o.resource_record())
        {
            break r.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let set = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name(record.name())
        .r#type(aws_sdk_route53::types::RrType::Cname)
        .ttl(300)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value(record.value())
                .build()
                .expect("rr"),
        )
        .build()
        .expect("set");
    aws_sdk_route53::Client::new(&sdk)
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("write the validation record");
    world.sim.advance(600.0);
    let status = acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .expect("describe")
        .certificate()
        .and_then(|c| c.status().cloned());
    assert_eq!(
        status.as_ref().map(|s| s.as_str()),
        Some("ISSUED"),
        "awsim issues it once validated"
    );
    world.sim.reset_accounting();
    let run = world.run(&["up"]).await;
    run.expect_code(2);
    assert!(
        run.all().contains("covers only other.example.com"),
        "names what it covers: {}",
        run.all()
    );
    assert!(
        world.sim.summary().mutating == 0,
        "{:?}",
        world.mutating_calls()
    );
}
