//! The HTTP client side: forwarding to moto, and awsim's own internal calls to it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HOST, HeaderValue};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::error::{Error, Result};

/// A response from moto.
#[derive(Debug, Clone)]
pub struct BackendResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers (hop-by-hop headers removed).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// A pooled HTTP client pointed at moto.
#[derive(Debug, Clone)]
pub struct Backend {
    client: Client<HttpConnector, Full<Bytes>>,
    port: u16,
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
];

impl Backend {
    /// A client for moto on `127.0.0.1:port`.
    pub fn new(port: u16) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { client, port }
    }

    /// moto's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends one request to moto.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<BackendResponse> {
        let uri = format!("{}{}", self.url(), path_and_query);
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| Error::Moto(e.to_string()))?;
        for (k, v) in headers {
            if !HOP_BY_HOP.contains(&k.as_str()) && k != HOST {
                req.headers_mut().append(k.clone(), v.clone());
            }
        }
        if let Ok(h) = HeaderValue::from_str(&format!("127.0.0.1:{}", self.port)) {
            req.headers_mut().insert(HOST, h);
        }
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| Error::Moto(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Error::Moto(e.to_string()))?
            .to_bytes();
        let mut headers = parts.headers;
        for h in HOP_BY_HOP {
            headers.remove(h);
        }
        Ok(BackendResponse {
            status: parts.status,
            headers,
            body,
        })
    }

    /// Calls an ECS operation on moto with a JSON body; returns (status, parsed body).
    pub async fn ecs(
        &self,
        region: &str,
        operation: &str,
        body: &Value,
    ) -> Result<(StatusCode, Value)> {
        self.json(
            region,
            "ecs",
            &format!("AmazonEC2ContainerServiceV20141113.{operation}"),
            body,
        )
        .await
    }

    /// Calls a JSON-protocol operation on moto: `service` is the signing name, `target` the
    /// `x-amz-target` (`secretsmanager.DescribeSecret`); returns (status, parsed body).
    pub async fn json(
        &self,
        region: &str,
        service: &str,
        target: &str,
        body: &Value,
    ) -> Result<(StatusCode, Value)> {
        let mut h = HeaderMap::new();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDAWSIM/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let pairs = [
            ("authorization", auth),
            ("content-type", "application/x-amz-json-1.1".to_string()),
            ("x-amz-target", target.to_string()),
        ];
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        let r = self
            .send(Method::POST, "/", &h, Bytes::from(body.to_string()))
            .await?;
        let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        Ok((r.status, v))
    }

    /// `POST /moto-api/reset`.
    pub async fn reset(&self) -> Result<()> {
        let r = self
            .send(
                Method::POST,
                "/moto-api/reset",
                &HeaderMap::new(),
                Bytes::new(),
            )
            .await?;
        if r.status.is_success() {
            Ok(())
        } else {
            Err(Error::Moto(format!("reset answered {}", r.status)))
        }
    }
}
