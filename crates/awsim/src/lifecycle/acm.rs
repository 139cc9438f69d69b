//! ACM DNS validation: a requested certificate is `PENDING_VALIDATION` until its validation
//! record has been written in Route 53 *and* `acm_validate` simulated seconds have passed
//! since; ACM names the record only `acm_records` seconds after the request.
//!
//! moto issues a DNS-validated certificate after a wall-clock wait that ignores the records
//! (`MOTO_ACM_VALIDATION_WAIT`, which the launcher sets to 0) and names the record at once.
//! AWS names the record "a few seconds" after RequestCertificate and issues the certificate
//! once it resolves the record (usually minutes). awsim remembers each certificate requested
//! through the proxy and the first UPSERT/CREATE of a record for its domain that names
//! `acm-validations.aws`, and rewrites DescribeCertificate and ListCertificates answers:
//! `Status` and each `ValidationStatus` `PENDING_VALIDATION` (no `IssuedAt`) until issued,
//! and no `ResourceRecord` before `acm_records`. A certificate whose record is never written
//! is never issued, as on AWS.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::Value;

use crate::clock::{Clock, SimMs};
use crate::protocol::Rendered;
use crate::scenario::Durations;

#[derive(Debug, Clone)]
struct Cert {
    domain: String,
    requested: SimMs,
    validated_from: Option<SimMs>,
}

/// Certificates requested through the proxy.
#[derive(Debug, Default)]
pub struct Acm {
    certs: HashMap<String, Cert>,
}

const PENDING: &str = "PENDING_VALIDATION";

impl Acm {
    /// Forgets everything.
    pub fn clear(&mut self) {
        self.certs.clear();
    }

    fn issued(&self, cert: &Cert, now: SimMs, d: &Durations) -> bool {
        cert.validated_from
            .is_some_and(|t| now >= t + Clock::ms(d.acm_validate))
    }

    /// Called with every successful Route 53 ChangeResourceRecordSets request body: a
    /// CREATE/UPSERT naming `acm-validations.aws` and a certificate's domain starts that
    /// certificate's validation.
    pub fn record_change(&mut self, request: &[u8], now: SimMs) {
        let Ok(text) = std::str::from_utf8(request) else {
            return;
        };
        let writes =
            text.contains("<Action>UPSERT</Action>") || text.contains("<Action>CREATE</Action>");
        if !writes || !text.contains("acm-validations.aws") {
            return;
        }
        for cert in self.certs.values_mut() {
            if cert.validated_from.is_none() && text.contains(&format!(".{}", cert.domain)) {
                cert.validated_from = Some(now);
            }
        }
    }

    /// Rewrites a forwarded ACM answer (see the module documentation); `None` leaves it.
    pub fn after(
        &mut self,
        operation: &str,
        request: &Value,
        status: StatusCode,
        body: &Bytes,
        now: SimMs,
        d: &Durations,
    ) -> Option<Rendered> {
        if !status.is_success() {
            return None;
        }
        let mut answer: Value = serde_json::from_slice(body).ok()?;
        match operation {
            "RequestCertificate" => {
                let arn = answer.get("CertificateArn")?.as_str()?.to_string();
                let domain = request.get("DomainName")?.as_str()?.to_ascii_lowercase();
                self.certs.entry(arn).or_insert(Cert {
                    domain,
                    requested: now,
                    validated_from: None,
                });
                return None;
            }
            "DeleteCertificate" => {
                if let Some(arn) = request.get("CertificateArn").and_then(Value::as_str) {
                    self.certs.remove(arn);
                }
                return None;
            }
            "DescribeCertificate" => {
                let arn = request.get("CertificateArn")?.as_str()?;
                let cert = self.certs.get(arn)?.clone();
                let detail = answer.get_mut("Certificate")?.as_object_mut()?;
                let named = now >= cert.requested + Clock::ms(d.acm_records);
                let issued = self.issued(&cert, now, d);
                if issued && named {
                    return None;
                }
                if !issued {
                    detail.insert("Status".into(), Value::from(PENDING));
                    detail.remove("IssuedAt");
                }
                if let Some(options) = detail
                    .get_mut("DomainValidationOptions")
                    .and_then(Value::as_array_mut)
                {
                    for option in options.iter_mut().filter_map(Value::as_object_mut) {
                        if !issued {
                            option.insert("ValidationStatus".into(), Value::from(PENDING));
                        }
                        if !named {
                            option.remove("ResourceRecord");
                        }
                    }
                }
            }
            "ListCertificates" => {
                let list = answer.get_mut("CertificateSummaryList")?.as_array_mut()?;
                let mut changed = false;
                for summary in list.iter_mut().filter_map(Value::as_object_mut) {
                    let Some(cert) = summary
                        .get("CertificateArn")
                        .and_then(Value::as_str)
                        .and_then(|a| self.certs.get(a))
                    else {
                        continue;
                    };
                    if !self.issued(cert, now, d) {
                        summary.insert("Status".into(), Value::from(PENDING));
                        summary.remove("IssuedAt");
                        changed = true;
                    }
                }
                if !changed {
                    return None;
                }
            }
            _ => return None,
        }
        Some(Rendered {
            status,
            content_type: "application/x-amz-json-1.1",
            headers: vec![],
            body: Bytes::from(answer.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";

    fn described(acm: &mut Acm, now: SimMs, d: &Durations) -> Value {
        let moto = json!({"Certificate": {
            "CertificateArn": ARN, "Status": "ISSUED", "IssuedAt": 1.0,
            "DomainValidationOptions": [{"DomainName": "a.example.com", "ValidationStatus": "SUCCESS",
                "ResourceRecord": {"Name": "_x.a.example.com.", "Type": "CNAME", "Value": "_y.acm-validations.aws."}}]
        }});
        let body = Bytes::from(moto.to_string());
        match acm.after(
            "DescribeCertificate",
            &json!({"CertificateArn": ARN}),
            StatusCode::OK,
            &body,
            now,
            d,
        ) {
            Some(r) => serde_json::from_slice(&r.body).expect("json"),
            None => moto,
        }
    }

    #[test]
    fn issued_only_after_the_record_is_written_and_the_validation_time_passed() {
        let d = Durations::default();
        let mut acm = Acm::default();
        acm.after(
            "RequestCertificate",
            &json!({"DomainName": "a.example.com"}),
            StatusCode::OK,
            &Bytes::from(json!({"CertificateArn": ARN}).to_string()),
            0,
            &d,
        );
        let early = described(&mut acm, 0, &d);
        assert_eq!(early["Certificate"]["Status"], PENDING);
        assert!(early["Certificate"]["DomainValidationOptions"][0]["ResourceRecord"].is_null());
        let named = described(&mut acm, Clock::ms(d.acm_records), &d);
        assert_eq!(named["Certificate"]["Status"], PENDING);
        assert!(named["Certificate"].get("IssuedAt").is_none());
        assert!(!named["Certificate"]["DomainValidationOptions"][0]["ResourceRecord"].is_null());
        // Hours later, still pending without the record.
        let forgotten = described(&mut acm, Clock::ms(10_000.0), &d);
        assert_eq!(forgotten["Certificate"]["Status"], PENDING);

        let at = Clock::ms(10_000.0);
        acm.record_change(
            b"<Change><Action>DELETE</Action><Name>_x.a.example.com.</Name><Value>_y.acm-validations.aws.</Value></Change>",
            at,
        );
        assert_eq!(
            described(&mut acm, at + Clock::ms(d.acm_validate), &d)["Certificate"]["Status"],
            PENDING
        );
        acm.record_change(
            b"<Change><Action>UPSERT</Action><Name>_x.a.example.com.</Name><Value>_y.acm-validations.aws.</Value></Change>",
            at,
        );
        assert_eq!(
            described(&mut acm, at + Clock::ms(d.acm_validate) - 1, &d)["Certificate"]["Status"],
            PENDING
        );
        assert_eq!(
            described(&mut acm, at + Clock::ms(d.acm_validate), &d)["Certificate"]["Status"],
            "ISSUED"
        );
    }
}
