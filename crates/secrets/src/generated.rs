//! Secrets generated once and never regenerated: database credentials, Fernet key, JWT
//! secret, API secret key, admin password.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use orchestrate_core::sensitive::{generate_fernet_key, generate_password, generate_token};
use orchestrate_core::{Context, ReporterExt, Sensitive, Spec};

use crate::error::{Error, Result};
use crate::secret::{self, Created, KIND};
use crate::snapshot::{Snapshot, Stored};

/// `{"username": …, "password": …}` of the metadata database's master user.
pub const DB_CREDENTIALS: &str = "db-credentials";
/// Airflow's Fernet key (`AIRFLOW__CORE__FERNET_KEY`).
pub const FERNET_KEY: &str = "fernet-key";
/// Airflow's JWT signing secret (`AIRFLOW__API_AUTH__JWT_SECRET`).
pub const JWT_SECRET: &str = "jwt-secret";
/// Airflow's API secret key (`AIRFLOW__API__SECRET_KEY`).
pub const API_SECRET_KEY: &str = "api-secret-key";
/// Password of the Airflow admin user.
pub const ADMIN_PASSWORD: &str = "admin-password";

/// Every generated key, in a stable order.
pub const GENERATED_KEYS: [&str; 5] = [
    DB_CREDENTIALS,
    FERNET_KEY,
    JWT_SECRET,
    API_SECRET_KEY,
    ADMIN_PASSWORD,
];

/// What the generated secrets need from the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedDesired {
    /// Master user name of the metadata database (stored beside its password).
    pub db_username: String,
}

impl GeneratedDesired {
    /// From the spec (pure).
    pub fn new(spec: &Spec) -> Self {
        Self {
            db_username: spec.database.username.clone(),
        }
    }
}

/// The generated secrets' ARNs and the one value later phases need in clear (the database
/// password, for the RDS master password and the connection URLs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedSecrets {
    /// ARN of each generated secret, by key ([`GENERATED_KEYS`]).
    pub arns: BTreeMap<String, String>,
    /// The database user name as stored (the spec's, unless the secret predates a change).
    pub db_username: String,
    /// The database password as stored.
    pub db_password: Sensitive,
}

impl GeneratedSecrets {
    /// The ARN of secret `key`.
    pub fn arn(&self, key: &str) -> Option<&str> {
        self.arns.get(key).map(String::as_str)
    }
}

/// A fresh value for `key`.
fn generate(key: &str, desired: &GeneratedDesired) -> Sensitive {
    match key {
        DB_CREDENTIALS => {
            let password = generate_password(32);
            Sensitive::new(
                serde_json::json!({
                    "username": desired.db_username,
                    "password": password.expose(),
                })
                .to_string(),
            )
        }
        FERNET_KEY => generate_fernet_key(),
        ADMIN_PASSWORD => generate_password(24),
        // JWT_SECRET, API_SECRET_KEY
        _ => generate_token(32),
    }
}

/// Ensures one generated secret; returns its ARN and, for `db-credentials`, its value.
/// Never writes an existing secret's value. An existing secret's value is read
/// (GetSecretValue) whatever its key, so that it is registered for redaction
/// ([`Sensitive::new`]) before any later call of this run can echo it: a value created by an
/// earlier run is as secret as one this run generated.
///
/// `known` is the secret as a [`Snapshot`] listed it (no DescribeSecret, and no GetSecretValue
/// when the snapshot holds its value); `None` finds it by name.
async fn ensure_one(
    client: &Client,
    cx: &Context,
    key: &str,
    desired: &GeneratedDesired,
    known: Option<&Stored>,
) -> Result<(String, Option<Sensitive>)> {
    let name = cx.names.secret(key);
    let wants_value = key == DB_CREDENTIALS;
    let found = match known {
        Some(stored) => Some(stored.observed.clone()),
        None => secret::find(client, &name).await?,
    };
    let observed = match found {
        Some(observed) => observed,
        None => {
            let value = generate(key, desired);
            match secret::create(client, cx, key, &name, &value).await? {
                Created::Created(arn) => {
                    cx.reporter.ready(KIND, &name);
                    return Ok((arn, wants_value.then_some(value)));
                }
                // Someone else's value is the value: ours is dropped unused.
                Created::Adopted(observed) => observed,
            }
        }
    };
    if observed.scheduled_for_deletion {
        secret::restore(client, cx, &name).await?;
    }
    // Read (and so registered for redaction) whatever the key; the snapshot's value was
    // registered when it was read. A restored secret is read now (it had no value to read).
    let snapshot_value = known
        .filter(|_| !observed.scheduled_for_deletion)
        .and_then(|stored| stored.value.clone());
    let value = match snapshot_value {
        Some(value) => value,
        None => secret::get_value(client, &name).await?,
    };
    cx.reporter.ready(KIND, &name);
    Ok((observed.arn, wants_value.then_some(value)))
}

/// Parses `{"username", "password"}` without ever putting the value in an error.
fn parse_db_credentials(name: &str, value: &Sensitive) -> Result<(String, Sensitive)> {
    let malformed = |problem| Error::Malformed {
        name: name.to_string(),
        problem,
    };
    let json: serde_json::Value =
        serde_json::from_str(value.expose()).map_err(|_| malformed("it is not JSON"))?;
    let username = json
        .get("username")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| malformed("it has no string \"username\""))?;
    let password = json
        .get("password")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| malformed("it has no string \"password\""))?;
    Ok((username.to_string(), Sensitive::new(password)))
}

/// The stored database credentials `(username, password)`, read-only; `None` when the secret
/// does not exist (or is scheduled for deletion). `plan` uses it to compute the derived
/// secrets' desired values.
///
/// # Errors
/// [`Error::Describe`], [`Error::GetValue`], [`Error::Malformed`] (without the value).
pub async fn read_db_credentials(
    client: &Client,
    cx: &Context,
) -> Result<Option<(String, Sensitive)>> {
    let name = cx.names.secret(DB_CREDENTIALS);
    match secret::find(client, &name).await? {
        Some(found) if !found.scheduled_for_deletion => {}
        _ => return Ok(None),
    }
    let value = secret::get_value(client, &name).await?;
    parse_db_credentials(&name, &value).map(Some)
}

/// Ensures every generated secret: creates (with tags) the absent ones with fresh values,
/// restores those scheduled for deletion, and otherwise only reads — `db-credentials` with
/// GetSecretValue, the others not at all. Zero mutating calls when all exist.
///
/// # Errors
/// [`Error::Describe`], [`Error::Create`], [`Error::Restore`], [`Error::GetValue`],
/// [`Error::Malformed`] (stored database credentials not in the expected shape),
/// [`Error::NotVisible`].
pub async fn ensure_generated(
    client: &Client,
    cx: &Context,
    desired: &GeneratedDesired,
) -> Result<GeneratedSecrets> {
    ensure_generated_with(client, cx, desired, &Snapshot::empty()).await
}

/// [`ensure_generated`] starting from what `snapshot` already read: a secret it lists costs
/// no DescribeSecret and, when it holds the value, no GetSecretValue; the others are found by
/// name as without a snapshot. With a snapshot of a converged deployment: no call at all.
///
/// # Errors
/// As [`ensure_generated`].
pub async fn ensure_generated_with(
    client: &Client,
    cx: &Context,
    desired: &GeneratedDesired,
    snapshot: &Snapshot,
) -> Result<GeneratedSecrets> {
    let one = |key: &'static str| {
        let known = snapshot.get(&cx.names.secret(key));
        ensure_one(client, cx, key, desired, known)
    };
    let (db, fernet, jwt, api, admin) = tokio::try_join!(
        one(DB_CREDENTIALS),
        one(FERNET_KEY),
        one(JWT_SECRET),
        one(API_SECRET_KEY),
        one(ADMIN_PASSWORD),
    )?;
    let db_name = cx.names.secret(DB_CREDENTIALS);
    let db_value = db.1.ok_or_else(|| Error::Malformed {
        name: db_name.clone(),
        problem: "its value was not read",
    })?;
    let (db_username, db_password) = parse_db_credentials(&db_name, &db_value)?;
    if db_username != desired.db_username {
        cx.reporter.note(
            KIND,
            format!(
                "{db_name} holds user {db_username}, the spec says {}; the stored user is kept \
                 (the database's master user cannot be renamed)",
                desired.db_username
            ),
        );
    }
    let arns = GENERATED_KEYS
        .iter()
        .zip([db.0, fernet.0, jwt.0, api.0, admin.0])
        .map(|(key, arn)| ((*key).to_string(), arn))
        .collect();
    Ok(GeneratedSecrets {
        arns,
        db_username,
        db_password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_the_promised_shapes() {
        let desired = GeneratedDesired {
            db_username: "airflow".into(),
        };
        let db = generate(DB_CREDENTIALS, &desired);
        let (user, password) = parse_db_credentials("n", &db).expect("parses");
        assert_eq!(user, "airflow");
        assert_eq!(password.expose().len(), 32);
        assert!(password.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(generate(FERNET_KEY, &desired).expose().len(), 44);
        assert_eq!(generate(ADMIN_PASSWORD, &desired).expose().len(), 24);
        assert!(generate(JWT_SECRET, &desired).expose().len() >= 43);
        assert_ne!(
            generate(JWT_SECRET, &desired),
            generate(API_SECRET_KEY, &desired)
        );
    }

    #[test]
    fn malformed_credentials_error_never_shows_the_value() {
        let value = Sensitive::new("{\"username\": \"u\", \"pass\": \"TopSecretValue42\"}");
        let err = parse_db_credentials("orchestrate/demo/db-credentials", &value)
            .expect_err("no password");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("TopSecretValue42"), "{shown}");
        assert!(shown.contains("orchestrate/demo/db-credentials"));
        let err = parse_db_credentials("n", &Sensitive::new("TopSecretValue42 not json"))
            .expect_err("not json");
        assert!(!format!("{err} {err:?}").contains("TopSecretValue42"));
    }
}
