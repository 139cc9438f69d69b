//! Identifying AWS requests (service, operation, protocol) and rendering errors in each
//! protocol's real wire format.

use bytes::Bytes;
use hyper::{HeaderMap, StatusCode};

/// The wire protocol family of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsJson1.0/1.1 (`X-Amz-Target` header): ECS, Secrets Manager, Logs, ECR, Cloud Map, ...
    Json,
    /// EC2's query dialect (`<Response><Errors>...`).
    Ec2Query,
    /// The other query services: IAM, RDS, ElastiCache, ELBv2, STS (`<ErrorResponse>`).
    Query,
    /// Smithy RPC v2 CBOR (`smithy-protocol: rpc-v2-cbor`): CloudWatch. Transcoded to moto's
    /// JSON protocol ([`crate::cbor`]).
    Cbor,
    /// Anything else (REST, moto's own API).
    Other,
}

/// What the proxy knows about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Signing name from the SigV4 credential scope (`ecs`, `ec2`, ...), or `unknown`.
    pub service: String,
    /// Region from the credential scope.
    pub region: String,
    /// Operation name (`CreateService`).
    pub operation: String,
    /// Protocol family.
    pub protocol: Protocol,
}

/// True unless the operation only reads (Describe*, List*, Get*, BatchGet*, Check*, ...).
pub fn is_mutating(operation: &str) -> bool {
    const READ_PREFIXES: [&str; 9] = [
        "Describe", "List", "Get", "BatchGet", "Check", "Search", "Lookup", "Validate", "Discover",
    ];
    !READ_PREFIXES.iter().any(|p| {
        operation.starts_with(p)
            && operation[p.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_ascii_uppercase())
    })
}

/// Extracts service and region from `Authorization: AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, ...`.
fn credential_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let start = auth.find("Credential=")? + "Credential=".len();
    let rest = &auth[start..];
    let scope = rest.split([',', ' ']).next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    if parts.len() >= 5 {
        Some((parts[3].to_string(), parts[2].to_string()))
    } else {
        None
    }
}

/// Decodes an `application/x-www-form-urlencoded` string into ordered pairs.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

/// First value of `key` in decoded form pairs.
pub fn form_get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Identifies a request from its headers, path, query string and body.
pub fn identify(headers: &HeaderMap, path: &str, query: Option<&str>, body: &Bytes) -> Identity {
    let (service, region) = credential_scope(headers)
        .unwrap_or_else(|| ("unknown".to_string(), "us-east-1".to_string()));
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        return Identity {
            service,
            region,
            operation,
            protocol: Protocol::Json,
        };
    }
    let form_action = || {
        let from_body = std::str::from_utf8(body)
            .ok()
            .and_then(|b| form_get(&parse_form(b), "Action").map(str::to_string));
        from_body
            .or_else(|| query.and_then(|q| form_get(&parse_form(q), "Action").map(str::to_string)))
    };
    if let Some(operation) = form_action() {
        let protocol = if service == "ec2" {
            Protocol::Ec2Query
        } else {
            Protocol::Query
        };
        return Identity {
            service,
            region,
            operation,
            protocol,
        };
    }
    // rpcv2Cbor: POST /service/<Service>/operation/<Operation>
    if let Some(idx) = path.find("/operation/") {
        let operation = path[idx + "/operation/".len()..].to_string();
        let cbor = headers
            .get("smithy-protocol")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("rpc-v2-cbor"));
        return Identity {
            service,
            region,
            operation,
            protocol: if cbor {
                Protocol::Cbor
            } else {
                Protocol::Other
            },
        };
    }
    Identity {
        service,
        region,
        operation: path.to_string(),
        protocol: Protocol::Other,
    }
}

/// The operation of a Route 53 (REST-XML, API version 2013-04-01) request, from its method
/// and path; `None` for a path this table does not know (its operation stays the path).
pub fn route53_operation(method: &str, path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/2013-04-01/")?.trim_end_matches('/');
    let parts: Vec<&str> = rest.split('/').collect();
    Some(match (method, parts.as_slice()) {
        ("POST", ["hostedzone"]) => "CreateHostedZone",
        ("GET", ["hostedzone"]) => "ListHostedZones",
        ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", ["hostedzone", _]) => "GetHostedZone",
        ("DELETE", ["hostedzone", _]) => "DeleteHostedZone",
        ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("GET", ["change", _]) => "GetChange",
        ("GET", ["tags", _, _]) => "ListTagsForResource",
        ("POST", ["tags", _, _]) => "ChangeTagsForResource",
        _ => return None,
    })
}

/// A fully rendered HTTP response (status, content type, extra headers, body).
#[derive(Debug, Clone)]
pub struct Rendered {
    /// HTTP status.
    pub status: StatusCode,
    /// Content-Type header value.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Bytes,
}

/// Escapes text for XML element content.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders an AWS error in the request's protocol.
pub fn render_error(
    protocol: Protocol,
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Rendered {
    match protocol {
        Protocol::Cbor => Rendered {
            status,
            content_type: "application/cbor",
            headers: vec![
                ("smithy-protocol", "rpc-v2-cbor".to_string()),
                ("x-amzn-requestid", request_id.to_string()),
            ],
            body: Bytes::from(crate::cbor::encode(
                &serde_json::json!({"__type": code, "message": message}),
            )),
        },
        Protocol::Json | Protocol::Other => Rendered {
            status,
            content_type: "application/x-amz-json-1.1",
            headers: vec![
                ("x-amzn-errortype", code.to_string()),
                ("x-amzn-requestid", request_id.to_string()),
            ],
            body: Bytes::from(serde_json::json!({"__type": code, "message": message}).to_string()),
        },
        Protocol::Ec2Query => Rendered {
            status,
            content_type: "text/xml;charset=UTF-8",
            headers: vec![],
            body: Bytes::from(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
                xml_escape(code),
                xml_escape(message),
                request_id
            )),
        },
        Protocol::Query => {
            let kind = if status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            Rendered {
                status,
                content_type: "text/xml",
                headers: vec![("x-amzn-requestid", request_id.to_string())],
                body: Bytes::from(format!(
                    "<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    xml_escape(code),
                    xml_escape(message),
                    request_id
                )),
            }
        }
    }
}

/// The throttling error a real service of this protocol returns.
pub fn throttle_error(protocol: Protocol, request_id: &str) -> Rendered {
    match protocol {
        Protocol::Ec2Query => render_error(
            protocol,
            StatusCode::SERVICE_UNAVAILABLE,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            request_id,
        ),
        Protocol::Query => render_error(
            protocol,
            StatusCode::BAD_REQUEST,
            "Throttling",
            "Rate exceeded",
            request_id,
        ),
        Protocol::Json | Protocol::Other | Protocol::Cbor => render_error(
            protocol,
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
    }
}

/// The 500 / 503 error a real service of this protocol returns.
pub fn server_error(protocol: Protocol, status: StatusCode, request_id: &str) -> Rendered {
    let (code, message) = match (protocol, status.as_u16()) {
        (Protocol::Ec2Query, 503) => (
            "Unavailable",
            "The server is overloaded and can't handle the request.",
        ),
        (Protocol::Ec2Query, _) => ("InternalError", "An internal error has occurred."),
        (_, 503) => (
            "ServiceUnavailable",
            "Service is unavailable. Please try again later.",
        ),
        _ => (
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
    };
    render_error(protocol, status, code, message, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutating_classification() {
        for op in [
            "CreateService",
            "UpdateService",
            "RunTask",
            "DeleteVpc",
            "TagResource",
            "Listen",
        ] {
            assert!(is_mutating(op), "{op}");
        }
        for op in [
            "DescribeServices",
            "ListTasks",
            "GetSecretValue",
            "BatchGetImage",
            "CheckFoo",
            "Describe",
        ] {
            assert!(!is_mutating(op), "{op}");
        }
    }

    #[test]
    fn identifies_json_and_query() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x"
                .parse()
                .expect("header"),
        );
        h.insert(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.CreateService"
                .parse()
                .expect("h"),
        );
        let id = identify(&h, "/", None, &Bytes::new());
        assert_eq!(
            (id.service.as_str(), id.operation.as_str()),
            ("ecs", "CreateService")
        );
        h.remove("x-amz-target");
        let id = identify(
            &h,
            "/",
            None,
            &Bytes::from("Action=DescribeVpcs&Version=2016-11-15"),
        );
        assert_eq!(id.operation, "DescribeVpcs");
        assert_eq!(id.protocol, Protocol::Query);
    }

    #[test]
    fn form_decoding() {
        let f = parse_form("A=x%2Fy+z&B=%zz&C");
        assert_eq!(form_get(&f, "A"), Some("x/y z"));
        assert_eq!(form_get(&f, "B"), Some("%zz"));
        assert_eq!(form_get(&f, "C"), Some(""));
    }
}
