//! Unit tests with `aws-smithy-mocks`: ensure creates, adopts and makes no call when
//! converged; ownership of certificates and records; the certificate check.

use aws_sdk_acm::operation::delete_certificate::DeleteCertificateOutput;
use aws_sdk_acm::operation::describe_certificate::{
    DescribeCertificateError, DescribeCertificateOutput,
};
use aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
use aws_sdk_acm::operation::list_tags_for_certificate::ListTagsForCertificateOutput;
use aws_sdk_acm::operation::request_certificate::RequestCertificateOutput;
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, CertificateSummary, DomainValidation, RecordType,
    ResourceRecord as AcmRecord, Tag, ValidationMethod,
};
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types::{
    AliasTarget as SdkAliasTarget, ChangeAction, ChangeInfo, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::names::TAG_DEPLOYMENT;
use orchestrate_core::{Classify, Context, ErrorKind};

use crate::certificate::{self, CertificateDesired, covers};
use crate::record::{self, AliasDesired, AliasTarget};
use crate::{Error, check_certificate};

const DOMAIN: &str = "airflow.example.com";
const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const ARN: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";
const OTHER_ARN: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/99999999-2222-3333-4444-555555555555";
const RR_NAME: &str = "_abc.airflow.example.com.";
const RR_VALUE: &str = "_def.xyz.acm-validations.aws.";
const ALB_DNS: &str = "demo-alb-123.us-east-1.elb.amazonaws.com";
const ALB_ZONE: &str = "Z35SXDOTRQ7X7K";

fn cx() -> Context {
    Context::for_tests("demo")
}

fn desired() -> CertificateDesired {
    CertificateDesired::new(&cx(), DOMAIN, ZONE, Some("alb-arn"))
}

fn detail(arn: &str, status: CertificateStatus, with_record: bool) -> CertificateDetail {
    let mut validation = DomainValidation::builder()
        .domain_name(DOMAIN)
        .validation_method(ValidationMethod::Dns);
    if with_record {
        validation = validation.resource_record(
            AcmRecord::builder()
                .name(RR_NAME)
                .r#type(RecordType::Cname)
                .value(RR_VALUE)
                .build()
                .expect("record"),
        );
    }
    CertificateDetail::builder()
        .certificate_arn(arn)
        .domain_name(DOMAIN)
        .subject_alternative_names(DOMAIN)
        .status(status)
        .domain_validation_options(validation.build().expect("validation"))
        .build()
}

fn listed(arns: &[&str]) -> Rule {
    let arns: Vec<String> = arns.iter().map(|a| (*a).to_string()).collect();
    mock!(aws_sdk_acm::Client::list_certificates).then_output(move || {
        ListCertificatesOutput::builder()
            .set_certificate_summary_list(Some(
                arns.iter()
                    .map(|a| {
                        CertificateSummary::builder()
                            .certificate_arn(a)
                            .domain_name(DOMAIN)
                            .build()
                    })
                    .collect(),
            ))
            .build()
    })
}

fn tagged(deployment: &'static str) -> Rule {
    mock!(aws_sdk_acm::Client::list_tags_for_certificate).then_output(move || {
        ListTagsForCertificateOutput::builder()
            .tags(
                Tag::builder()
                    .key(TAG_DEPLOYMENT)
                    .value(deployment)
                    .build()
                    .expect("tag"),
            )
            .build()
    })
}

fn request() -> Rule {
    mock!(aws_sdk_acm::Client::request_certificate)
        .match_requests(|r| {
            r.domain_name() == Some(DOMAIN)
                && r.validation_method() == Some(&ValidationMethod::Dns)
                && r.idempotency_token().is_some_and(|t| t.len() == 32)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == TAG_DEPLOYMENT && t.value() == Some("demo"))
        })
        .then_output(|| {
            RequestCertificateOutput::builder()
                .certificate_arn(ARN)
                .build()
        })
}

fn delete_cert() -> Rule {
    mock!(aws_sdk_acm::Client::delete_certificate)
        .then_output(|| DeleteCertificateOutput::builder().build())
}

fn records(sets: Vec<ResourceRecordSet>) -> Rule {
    mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(move || {
        ListResourceRecordSetsOutput::builder()
            .set_resource_record_sets(Some(sets.clone()))
            .is_truncated(false)
            .max_items(20)
            .build()
            .expect("list output")
    })
}

fn cname(name: &str, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build().expect("rr"))
        .build()
        .expect("set")
}

fn alias(name: &str, dns: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(
            SdkAliasTarget::builder()
                .dns_name(dns)
                .hosted_zone_id(ALB_ZONE)
                .evaluate_target_health(false)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("set")
}

fn change_ok() -> ChangeResourceRecordSetsOutput {
    ChangeResourceRecordSetsOutput::builder()
        .change_info(
            ChangeInfo::builder()
                .id("C1")
                .status(ChangeStatus::Pending)
                .submitted_at(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .expect("change info"),
        )
        .build()
}

fn upsert_cname() -> Rule {
    mock!(aws_sdk_route53::Client::change_resource_record_sets)
        .match_requests(|r| {
            let change = &r.change_batch().expect("batch").changes()[0];
            let set = change.resource_record_set().expect("set");
            r.hosted_zone_id() == Some(ZONE)
                && change.action() == &ChangeAction::Upsert
                && set.name() == RR_NAME
                && set.r#type() == &RrType::Cname
                && set.resource_records()[0].value() == RR_VALUE
        })
        .then_output(change_ok)
}

fn any_change() -> Rule {
    mock!(aws_sdk_route53::Client::change_resource_record_sets).then_output(change_ok)
}

#[test]
fn wildcards_cover_one_level() {
    assert!(covers(DOMAIN, DOMAIN));
    assert!(covers("Airflow.Example.com.", DOMAIN));
    assert!(covers("*.example.com", DOMAIN));
    assert!(!covers("*.example.com", "example.com"));
    assert!(!covers("*.example.com", "a.airflow.example.com"));
    assert!(!covers("other.example.com", DOMAIN));
    assert!(!covers("*.com", DOMAIN));
}

#[test]
fn the_idempotency_token_is_a_32_character_word_per_deployment_domain_and_seed() {
    let a = desired().idempotency_token;
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(a, desired().idempotency_token);
    assert_ne!(
        a,
        CertificateDesired::new(&cx(), DOMAIN, ZONE, Some("other-alb")).idempotency_token
    );
    assert_ne!(
        a,
        CertificateDesired::new(&cx(), DOMAIN, ZONE, None).idempotency_token,
        "no ALB yet is a seed of its own"
    );
    assert_ne!(
        a,
        CertificateDesired::new(&Context::for_tests("prod"), DOMAIN, ZONE, Some("alb-arn"))
            .idempotency_token
    );
}

#[tokio::test]
async fn a_fresh_domain_gets_a_certificate_its_record_and_waits_until_issued() {
    let describe = mock!(aws_sdk_acm::Client::describe_certificate)
        .sequence()
        .output(|| {
            DescribeCertificateOutput::builder()
                .certificate(detail(ARN, CertificateStatus::PendingValidation, false))
                .build()
        })
        .output(|| {
            DescribeCertificateOutput::builder()
                .certificate(detail(ARN, CertificateStatus::PendingValidation, true))
                .build()
        })
        .times(2)
        .output(|| {
            DescribeCertificateOutput::builder()
                .certificate(detail(ARN, CertificateStatus::Issued, true))
                .build()
        })
        .repeatedly()
        .build();
    let (list, req) = (listed(&[]), request());
    let acm = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&list, &req, &describe]);
    let (empty, upsert) = (records(vec![]), upsert_cname());
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&empty, &upsert]);

    let out = certificate::ensure(&acm, &r53, &cx(), &desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, ARN);
    assert_eq!(req.num_calls(), 1);
    assert_eq!(upsert.num_calls(), 1);
    // No record yet, the record, the describe after the wait, then pending → issued.
    assert!(describe.num_calls() >= 4, "{}", describe.num_calls());
}

#[tokio::test]
async fn an_issued_certificate_with_its_record_makes_no_mutating_call() {
    let describe = mock!(aws_sdk_acm::Client::describe_certificate).then_output(|| {
        DescribeCertificateOutput::builder()
            .certificate(detail(ARN, CertificateStatus::Issued, true))
            .build()
    });
    let (list, tags, req, del) = (listed(&[ARN]), tagged("demo"), request(), delete_cert());
    let acm = mock_client!(
        aws_sdk_acm,
        RuleMode::MatchAny,
        [&list, &tags, &describe, &req, &del]
    );
    let (present, change) = (records(vec![cname(RR_NAME, RR_VALUE)]), any_change());
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&present, &change]);

    let out = certificate::ensure(&acm, &r53, &cx(), &desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, ARN);
    assert_eq!(req.num_calls(), 0);
    assert_eq!(del.num_calls(), 0);
    assert_eq!(change.num_calls(), 0);

    let (changes, issued) = certificate::plan(&acm, &r53, &cx(), &desired())
        .await
        .expect("plan");
    assert_eq!(issued.as_deref(), Some(ARN));
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| !c.is_mutation()), "{changes:?}");
}

#[tokio::test]
async fn a_pending_certificate_of_ours_is_adopted_its_record_written_and_waited_for() {
    // A crash after RequestCertificate: the next run finds the certificate by its tags.
    let describe = mock!(aws_sdk_acm::Client::describe_certificate)
        .sequence()
        .output(|| {
            DescribeCertificateOutput::builder()
                .certificate(detail(ARN, CertificateStatus::PendingValidation, true))
                .build()
        })
        .times(2)
        .output(|| {
            DescribeCertificateOutput::builder()
                .certificate(detail(ARN, CertificateStatus::Issued, true))
                .build()
        })
        .repeatedly()
        .build();
    let (list, tags, req) = (listed(&[ARN]), tagged("demo"), request());
    let acm = mock_client!(
        aws_sdk_acm,
        RuleMode::MatchAny,
        [&list, &tags, &describe, &req]
    );
    let (empty, upsert) = (records(vec![]), upsert_cname());
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&empty, &upsert]);

    let out = certificate::ensure(&acm, &r53, &cx(), &desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, ARN);
    assert_eq!(req.num_calls(), 0);
    assert_eq!(upsert.num_calls(), 1);
}

#[tokio::test]
async fn another_deployments_certificate_is_neither_adopted_nor_deleted() {
    let describe = mock!(aws_sdk_acm::Client::describe_certificate).then_output(|| {
        DescribeCertificateOutput::builder()
            .certificate(detail(ARN, CertificateStatus::Issued, true))
            .build()
    });
    let (list, tags, req, del) = (
        listed(&[OTHER_ARN]),
        tagged("prod"),
        request(),
        delete_cert(),
    );
    let acm = mock_client!(
        aws_sdk_acm,
        RuleMode::MatchAny,
        [&list, &tags, &req, &describe, &del]
    );
    let (present, change) = (records(vec![cname(RR_NAME, RR_VALUE)]), any_change());
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&present, &change]);

    let found = certificate::find(&acm, &cx(), DOMAIN).await.expect("find");
    assert!(found.ours.is_empty());
    assert_eq!(found.others, 1);
    certificate::ensure(&acm, &r53, &cx(), &desired())
        .await
        .expect("ensure");
    assert_eq!(req.num_calls(), 1, "ours is requested beside theirs");

    // Teardown: ours does not exist here (the list shows only theirs): nothing is deleted,
    // and the shared validation record stays.
    certificate::delete(&acm, &r53, &cx(), DOMAIN, Some(ZONE))
        .await
        .expect("delete");
    assert_eq!(del.num_calls(), 0);
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn teardown_deletes_our_certificate_then_its_record() {
    let describe = mock!(aws_sdk_acm::Client::describe_certificate).then_output(|| {
        DescribeCertificateOutput::builder()
            .certificate(detail(ARN, CertificateStatus::Issued, true))
            .build()
    });
    let (list, tags, del) = (listed(&[ARN]), tagged("demo"), delete_cert());
    let acm = mock_client!(
        aws_sdk_acm,
        RuleMode::MatchAny,
        [&list, &tags, &describe, &del]
    );
    let present = records(vec![cname(RR_NAME, RR_VALUE)]);
    let delete_record = mock!(aws_sdk_route53::Client::change_resource_record_sets)
        .match_requests(|r| {
            let change = &r.change_batch().expect("batch").changes()[0];
            change.action() == &ChangeAction::Delete
                && change.resource_record_set().expect("set").name() == RR_NAME
        })
        .then_output(change_ok);
    let r53 = mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        [&present, &delete_record]
    );

    certificate::delete(&acm, &r53, &cx(), DOMAIN, Some(ZONE))
        .await
        .expect("delete");
    assert_eq!(del.num_calls(), 1);
    assert_eq!(delete_record.num_calls(), 1);
}

#[tokio::test]
async fn a_given_certificate_must_be_issued_and_cover_the_domain() {
    let pending = mock!(aws_sdk_acm::Client::describe_certificate).then_output(|| {
        DescribeCertificateOutput::builder()
            .certificate(detail(ARN, CertificateStatus::PendingValidation, true))
            .build()
    });
    let acm = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&pending]);
    let err = check_certificate(&acm, ARN, Some(DOMAIN))
        .await
        .expect_err("pending");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("PENDING_VALIDATION"), "{err}");

    let issued = mock!(aws_sdk_acm::Client::describe_certificate).then_output(|| {
        DescribeCertificateOutput::builder()
            .certificate(detail(ARN, CertificateStatus::Issued, true))
            .build()
    });
    let acm = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&issued]);
    check_certificate(&acm, ARN, Some(DOMAIN))
        .await
        .expect("issued and covering");
    let err = check_certificate(&acm, ARN, Some("other.example.com"))
        .await
        .expect_err("not covering");
    assert!(matches!(err, Error::CertificateUnusable { .. }), "{err}");
    assert!(
        err.to_string().contains("covers only airflow.example.com"),
        "{err}"
    );

    let missing = mock!(aws_sdk_acm::Client::describe_certificate).then_error(|| {
        DescribeCertificateError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .build(),
        )
    });
    let acm = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&missing]);
    let err = check_certificate(&acm, ARN, Some(DOMAIN))
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

fn alias_desired() -> AliasDesired {
    AliasDesired {
        zone_id: ZONE.into(),
        name: DOMAIN.into(),
        load_balancer_name: "demo-alb".into(),
        target: Some(AliasTarget {
            dns_name: ALB_DNS.into(),
            hosted_zone_id: ALB_ZONE.into(),
        }),
    }
}

#[tokio::test]
async fn the_alias_is_created_kept_and_never_overwrites_a_foreign_record() {
    // Absent: one UPSERT of an alias A record to the ALB.
    let upsert = mock!(aws_sdk_route53::Client::change_resource_record_sets)
        .match_requests(|r| {
            let change = &r.change_batch().expect("batch").changes()[0];
            let set = change.resource_record_set().expect("set");
            let target = set.alias_target().expect("alias");
            change.action() == &ChangeAction::Upsert
                && set.r#type() == &RrType::A
                && target.dns_name() == ALB_DNS
                && target.hosted_zone_id() == ALB_ZONE
        })
        .then_output(change_ok);
    let empty = records(vec![]);
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&empty, &upsert]);
    record::ensure_alias(&r53, &cx(), &alias_desired())
        .await
        .expect("create");
    assert_eq!(upsert.num_calls(), 1);

    // Present (as Route 53 spells it: trailing dot, dualstack.): no call.
    let present = records(vec![alias(
        "airflow.example.com.",
        &format!("dualstack.{ALB_DNS}."),
    )]);
    let change = any_change();
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&present, &change]);
    record::ensure_alias(&r53, &cx(), &alias_desired())
        .await
        .expect("converged");
    assert_eq!(change.num_calls(), 0);

    // Our alias to a previous ALB of this deployment: updated.
    let stale = records(vec![alias(
        "airflow.example.com.",
        "demo-alb-999.us-east-1.elb.amazonaws.com.",
    )]);
    let change = any_change();
    let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&stale, &change]);
    record::ensure_alias(&r53, &cx(), &alias_desired())
        .await
        .expect("updated");
    assert_eq!(change.num_calls(), 1);

    // Someone else's A record, or a CNAME: refused, nothing sent, nothing deleted.
    for foreign in [
        ResourceRecordSet::builder()
            .name("airflow.example.com.")
            .r#type(RrType::A)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value("192.0.2.1")
                    .build()
                    .expect("rr"),
            )
            .build()
            .expect("set"),
        cname("airflow.example.com.", "elsewhere.example.net."),
        alias(
            "airflow.example.com.",
            "prod-alb-1.us-east-1.elb.amazonaws.com.",
        ),
    ] {
        let listed = records(vec![foreign]);
        let change = any_change();
        let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&listed, &change]);
        let err = record::ensure_alias(&r53, &cx(), &alias_desired())
            .await
            .expect_err("foreign record");
        assert!(matches!(err, Error::RecordConflict { .. }), "{err}");
        assert_eq!(err.kind(), ErrorKind::Refused);
        record::delete_alias(&r53, &cx(), ZONE, DOMAIN, "demo-alb")
            .await
            .expect("delete skips");
        assert_eq!(change.num_calls(), 0);
    }
}
