//! Secret values that cannot leak by accident, and the generators of new ones.
//!
//! [`Sensitive`] prints as `(sensitive)` in `Debug` and `Display` and has no `Serialize`, so a
//! secret can only reach output through an explicit [`Sensitive::expose`]. Every value wrapped
//! is also registered with a process-wide redactor: [`redact`] replaces any registered value in
//! a string, and the CLI passes every error message through it before printing, so that even an
//! AWS error that echoes a request parameter cannot show a secret.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;

use crate::change::SENSITIVE;

fn registry() -> &'static Mutex<BTreeSet<String>> {
    static REGISTRY: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeSet::new()))
}

/// A secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps (and registers for redaction) a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        // Very short values would redact ordinary words; real secrets are long.
        if value.len() >= 8
            && let Ok(mut set) = registry().lock()
        {
            set.insert(value.clone());
        }
        Self(value)
    }

    /// The value itself; every call site is a place a secret leaves this type.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SENSITIVE)
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SENSITIVE)
    }
}

/// Replaces every registered secret value (and its URL-encoded form) in `text`.
pub fn redact(text: &str) -> String {
    let Ok(set) = registry().lock() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for secret in set.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), SENSITIVE);
        }
        let encoded = encode_userinfo(secret);
        if encoded != *secret && out.contains(encoded.as_str()) {
            out = out.replace(encoded.as_str(), SENSITIVE);
        }
    }
    out
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A password of letters and digits only (safe in any URL, shell or config), from a CSPRNG seeded by the OS.
pub fn generate_password(len: usize) -> Sensitive {
    let mut rng = rand::rng();
    let value: String = (0..len)
        .map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())]))
        .collect();
    Sensitive::new(value)
}

/// A Fernet key: URL-safe base64 (with padding) of 32 random bytes, as Airflow expects.
pub fn generate_fernet_key() -> Sensitive {
    let mut bytes = [0u8; 32];
    let mut rng = rand::rng();
    rng.fill(&mut bytes);
    Sensitive::new(base64::engine::general_purpose::URL_SAFE.encode(bytes))
}

/// A random token of `bytes` random bytes, URL-safe base64 without padding (JWT/API secrets).
pub fn generate_token(bytes: usize) -> Sensitive {
    let mut buf = vec![0u8; bytes];
    let mut rng = rand::rng();
    rng.fill(buf.as_mut_slice());
    Sensitive::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Characters escaped in URL userinfo: everything but unreserved characters.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a user name or password for the userinfo part of a URL.
pub fn encode_userinfo(value: &str) -> String {
    utf8_percent_encode(value, USERINFO).to_string()
}

/// Where the metadata database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbEndpoint {
    /// Hostname (never an IPv6 literal: the field report's "bad IPv6 URL").
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub database: String,
}

/// `postgresql+psycopg2://user:pass@host:port/db`, user and password URL-encoded.
pub fn sqlalchemy_url(user: &str, password: &Sensitive, endpoint: &DbEndpoint) -> Sensitive {
    Sensitive::new(format!(
        "postgresql+psycopg2://{}:{}@{}:{}/{}",
        encode_userinfo(user),
        encode_userinfo(password.expose()),
        endpoint.host,
        endpoint.port,
        endpoint.database
    ))
}

/// Celery result backend: `db+postgresql://user:pass@host:port/db`.
pub fn result_backend_url(user: &str, password: &Sensitive, endpoint: &DbEndpoint) -> Sensitive {
    Sensitive::new(format!(
        "db+postgresql://{}:{}@{}:{}/{}",
        encode_userinfo(user),
        encode_userinfo(password.expose()),
        endpoint.host,
        endpoint.port,
        endpoint.database
    ))
}

/// Celery broker URL on Valkey: `rediss://host:port/0?ssl_cert_reqs=required` with TLS.
pub fn broker_url(host: &str, port: u16, tls: bool) -> String {
    if tls {
        format!("rediss://{host}:{port}/0?ssl_cert_reqs=required")
    } else {
        format!("redis://{host}:{port}/0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_formats_its_value() {
        let secret = Sensitive::new("hunter2-very-secret");
        assert_eq!(format!("{secret}"), "(sensitive)");
        assert_eq!(format!("{secret:?}"), "(sensitive)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some((sensitive))");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_removes_registered_values_and_their_encodings() {
        let secret = Sensitive::new("p@ss/word:with#chars");
        let text = format!(
            "error near {} and {}",
            secret.expose(),
            encode_userinfo(secret.expose())
        );
        let redacted = redact(&text);
        assert!(!redacted.contains("p@ss"), "{redacted}");
        assert!(!redacted.contains("p%40ss"), "{redacted}");
        assert_eq!(redacted, "error near (sensitive) and (sensitive)");
    }

    #[test]
    fn password_is_alphanumeric_and_random() {
        let a = generate_password(32);
        let b = generate_password(32);
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn fernet_key_is_urlsafe_base64_of_32_bytes() {
        let key = generate_fernet_key();
        assert_eq!(key.expose().len(), 44);
        let decoded = base64::engine::general_purpose::URL_SAFE
            .decode(key.expose())
            .expect("valid base64");
        assert_eq!(decoded.len(), 32);
        assert!(!key.expose().contains('+') && !key.expose().contains('/'));
    }

    #[test]
    fn urls_encode_special_characters_in_userinfo() {
        let password = Sensitive::new("a@b:c/d%e f");
        let endpoint = DbEndpoint {
            host: "db.example.internal".into(),
            port: 5432,
            database: "airflow".into(),
        };
        let url = sqlalchemy_url("air flow", &password, &endpoint);
        assert_eq!(
            url.expose(),
            "postgresql+psycopg2://air%20flow:a%40b%3Ac%2Fd%25e%20f@db.example.internal:5432/airflow"
        );
        let backend = result_backend_url("airflow", &password, &endpoint);
        assert!(
            backend
                .expose()
                .starts_with("db+postgresql://airflow:a%40b")
        );
        assert_eq!(
            broker_url("h", 6379, true),
            "rediss://h:6379/0?ssl_cert_reqs=required"
        );
        assert_eq!(broker_url("h", 6379, false), "redis://h:6379/0");
    }
}
