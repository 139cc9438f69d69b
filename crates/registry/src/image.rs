//! Images: copying an upstream image into a deployment's ECR repository ([`sync`]) and checking
//! that every image a task needs resolves for its CPU architecture ([`preflight`]), by the OCI
//! distribution API (the `oci-client` crate), with no Docker daemon.
//!
//! # Guarantees
//! - [`sync`] copies, for every platform asked, the platform manifest and its blobs, then
//!   pushes the manifests by digest and the index by tag last, so a tag never points at an
//!   incomplete image. Platform manifest digests are preserved; the index digest is preserved
//!   when the upstream index offers exactly the platforms asked, otherwise the copied index is
//!   the upstream one with the other entries (other platforms, attestations) removed.
//! - Blobs already in the target are skipped (HEAD first) and a tag already pointing at the
//!   digest [`sync`] would push is left alone, so a re-run uploads 0 bytes and an interrupted
//!   copy resumes where it stopped (an upload session cut half-way is never committed: the
//!   blob is uploaded again from its start).
//! - Every blob pulled is checked against its digest while it streams, every manifest is
//!   hashed and compared to the digest it was asked by, and the target registry checks the
//!   digest of every blob it commits.
//! - Memory is bounded: a blob streams from source to target in one request per blob
//!   (monolithic streamed PUT with its `Content-Length`), never buffered whole. Not the
//!   multi-PATCH chunked upload: ECR drops the body of every PATCH after the first
//!   (aws/containers-roadmap#2831), so streaming one request is the portable choice.
//! - Registries on a loopback address (`127.0.0.1`, `localhost`) are spoken to in plain HTTP
//!   (the emulator and tests); every other registry in HTTPS.
//! - No credential or token reaches an error, a log line or a progress event: passwords are
//!   [`Sensitive`], and `oci-client` keeps bearer tokens in its own cache.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client as OciClient, Reference};
use orchestrate_aws::aws_error;
use orchestrate_core::spec::Architecture;
use orchestrate_core::{Context, Reporter, ReporterExt, Sensitive};
use sha2::{Digest, Sha256};

use crate::Client;
use crate::error::{Error, Result};

/// Kind shown in progress events.
pub const KIND: &str = "ecr/image";

/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

const ACCEPTED: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// How many blobs copy at once.
const CONCURRENT_BLOBS: usize = 3;

/// A progress event at most every this many bytes of one blob.
const PROGRESS_EVERY: u64 = 16 * 1024 * 1024;

/// The OCI name of an architecture (`arm64`, `amd64`).
pub fn oci_architecture(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Arm64 => "arm64",
        Architecture::X86_64 => "amd64",
    }
}

/// How to authenticate to one registry.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No credentials; public registries hand out anonymous tokens (Docker Hub,
    /// registry.k8s.io), loopback registries need none.
    Anonymous,
    /// HTTP basic (ECR: user `AWS`, the password from GetAuthorizationToken).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: Sensitive,
    },
}

impl Credentials {
    fn to_auth(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.expose().to_string())
            }
        }
    }
}

/// An image reference (`registry/repository:tag`) and how to reach its registry.
#[derive(Debug, Clone)]
pub struct ImageLocation {
    reference: Reference,
    credentials: Credentials,
}

impl ImageLocation {
    /// Parses `image` (`apache/airflow:3.1.0`, `127.0.0.1:5000/up/airflow:1`, an ECR URI).
    /// A reference without a registry is Docker Hub's; without a tag, `latest`.
    ///
    /// # Errors
    /// [`Error::InvalidReference`].
    pub fn parse(image: &str, credentials: Credentials) -> Result<Self> {
        let reference = crate::reference::parse(image).map_err(|e| Error::InvalidReference {
            image: image.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            reference,
            credentials,
        })
    }

    /// The full reference, e.g. `docker.io/apache/airflow:3.1.0`.
    pub fn reference(&self) -> String {
        self.reference.whole()
    }

    /// The registry host (`docker.io`, `<acct>.dkr.ecr.<region>.amazonaws.com`).
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// The repository inside the registry (`apache/airflow`).
    pub fn repository(&self) -> &str {
        self.reference.repository()
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.reference.tag()
    }

    fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.reference.registry().to_string(),
            self.reference.repository().to_string(),
            digest.to_string(),
        )
    }

    fn is_loopback(&self) -> bool {
        is_loopback(self.reference.resolve_registry())
    }
}

impl fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference.whole())
    }
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// A login to the account's ECR registry (GetAuthorizationToken).
#[derive(Debug, Clone)]
pub struct EcrLogin {
    registry: String,
    password: Sensitive,
}

/// Logs in to the account's ECR registry: GetAuthorizationToken, whose token is
/// base64(`AWS:<password>`) and whose `proxyEndpoint` is the registry to talk to (the emulator
/// points it at its local registry).
///
/// # Errors
/// [`Error::EcrLogin`] when the call fails, [`Error::EcrLoginIncomplete`] when the answer
/// lacks the token or the endpoint or the token is not base64 of `AWS:<password>`.
pub async fn ecr_login(client: &Client) -> Result<EcrLogin> {
    let out = client
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| Error::EcrLogin(aws_error("get an ECR authorization token", "ecr", e)))?;
    let data = out
        .authorization_data()
        .first()
        .ok_or(Error::EcrLoginIncomplete("authorizationData"))?;
    let token = data
        .authorization_token()
        .ok_or(Error::EcrLoginIncomplete("authorizationToken"))?;
    let endpoint = data
        .proxy_endpoint()
        .ok_or(Error::EcrLoginIncomplete("proxyEndpoint"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| Error::EcrLoginIncomplete("authorizationToken (not base64)"))?;
    let decoded = Sensitive::new(
        String::from_utf8(decoded)
            .map_err(|_| Error::EcrLoginIncomplete("authorizationToken (not UTF-8)"))?,
    );
    let password = decoded
        .expose()
        .strip_prefix("AWS:")
        .ok_or(Error::EcrLoginIncomplete(
            "authorizationToken (not AWS:<password>)",
        ))?;
    let registry = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Ok(EcrLogin {
        registry,
        password: Sensitive::new(password),
    })
}

impl EcrLogin {
    /// The registry host the login is for (`<acct>.dkr.ecr.<region>.amazonaws.com`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `repository:tag` in this registry (`repository` is the ECR repository name,
    /// e.g. `<deployment>/airflow`), with the login's credentials.
    ///
    /// # Errors
    /// [`Error::InvalidReference`].
    pub fn image(&self, repository: &str, tag: &str) -> Result<ImageLocation> {
        ImageLocation::parse(
            &format!("{}/{repository}:{tag}", self.registry),
            self.credentials(),
        )
    }

    /// The credentials for this registry (user `AWS`).
    pub fn credentials(&self) -> Credentials {
        Credentials::Basic {
            username: "AWS".into(),
            password: self.password.clone(),
        }
    }
}

/// Maps `<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` to `(<repo>, <tag>)`; `None` for
/// a reference outside ECR.
pub fn ecr_repository_of(image: &str) -> Option<(String, String)> {
    let (host, rest) = image.split_once('/')?;
    if !(host.contains(".dkr.ecr.") && host.ends_with(".amazonaws.com")) {
        return None;
    }
    let (repository, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (rest, "latest"),
    };
    Some((repository.to_string(), tag.to_string()))
}

fn oci_client(images: &[&ImageLocation]) -> OciClient {
    let loopback: Vec<String> = images
        .iter()
        .filter(|i| i.is_loopback())
        .map(|i| i.reference.resolve_registry().to_string())
        .collect();
    OciClient::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(loopback),
        use_monolithic_push: true,
        ..ClientConfig::default()
    })
}

fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::NotFound
                    | OciErrorCode::BlobUnknown
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        _ => false,
    }
}

fn oci_error(
    step: &'static str,
    image: &ImageLocation,
) -> impl FnOnce(OciDistributionError) -> Error {
    let image = image.to_string();
    move |source| Error::Oci {
        step,
        image,
        source: Box::new(source),
    }
}

/// `sha256:<hex>` of `data`.
fn sha256(data: &[u8]) -> String {
    let mut out = String::from("sha256:");
    for b in Sha256::digest(data) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// One entry of an index.
#[derive(Debug, Clone)]
struct Entry {
    digest: String,
    media_type: String,
    architecture: Option<String>,
    os: Option<String>,
}

/// A manifest as pulled: its bytes, digest and what it references.
#[derive(Debug, Clone)]
enum Pulled {
    Index {
        bytes: Vec<u8>,
        raw: serde_json::Value,
        media_type: String,
        entries: Vec<Entry>,
    },
    Image {
        bytes: Vec<u8>,
        digest: String,
        media_type: String,
        config: OciDescriptor,
        layers: Vec<OciDescriptor>,
    },
}

fn parse_manifest(image: &ImageLocation, bytes: &[u8], digest: &str) -> Result<Pulled> {
    let invalid = |message: String| Error::InvalidManifest {
        image: image.to_string(),
        message,
    };
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let media_type = json
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    if let Some(manifests) = json.get("manifests").and_then(|m| m.as_array()) {
        let mut entries = Vec::new();
        for m in manifests {
            let text =
                |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
            let platform = m.get("platform");
            entries.push(Entry {
                digest: text(m.get("digest"))
                    .ok_or_else(|| invalid("an index entry has no digest".into()))?,
                media_type: text(m.get("mediaType")).unwrap_or_else(|| OCI_MANIFEST.to_string()),
                architecture: text(platform.and_then(|p| p.get("architecture"))),
                os: text(platform.and_then(|p| p.get("os"))),
            });
        }
        return Ok(Pulled::Index {
            bytes: bytes.to_vec(),
            raw: json,
            media_type: media_type.unwrap_or_else(|| OCI_INDEX.to_string()),
            entries,
        });
    }
    let descriptor = |v: &serde_json::Value| -> Result<OciDescriptor> {
        serde_json::from_value(v.clone()).map_err(|e| invalid(format!("bad descriptor: {e}")))
    };
    let config = descriptor(
        json.get("config")
            .ok_or_else(|| invalid("the manifest has no config".into()))?,
    )?;
    let layers = json
        .get("layers")
        .and_then(|l| l.as_array())
        .map(|l| l.iter().map(descriptor).collect::<Result<Vec<_>>>())
        .transpose()?
        .unwrap_or_default();
    Ok(Pulled::Image {
        bytes: bytes.to_vec(),
        digest: digest.to_string(),
        media_type: media_type.unwrap_or_else(|| OCI_MANIFEST.to_string()),
        config,
        layers,
    })
}

async fn pull(client: &OciClient, image: &ImageLocation, reference: &Reference) -> Result<Pulled> {
    let (bytes, digest) = client
        .pull_manifest_raw(reference, &image.credentials.to_auth(), &ACCEPTED)
        .await
        .map_err(|e| {
            if is_not_found(&e) {
                Error::ImageNotFound {
                    image: reference.whole(),
                }
            } else {
                oci_error("pull the manifest of", image)(e)
            }
        })?;
    let actual = sha256(&bytes);
    let expected = reference.digest().unwrap_or(&digest).to_string();
    if expected.starts_with("sha256:") && actual != expected {
        return Err(Error::DigestMismatch {
            image: reference.whole(),
            expected,
            actual,
        });
    }
    parse_manifest(image, &bytes, &actual)
}

/// The architecture (and os) a single-platform manifest's config declares.
async fn config_platform(
    client: &OciClient,
    image: &ImageLocation,
    config: &OciDescriptor,
) -> Result<(String, String)> {
    let mut data = Vec::new();
    client
        .pull_blob(&image.reference, config, &mut data)
        .await
        .map_err(oci_error("pull the config of", image))?;
    let json: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| Error::InvalidManifest {
            image: image.to_string(),
            message: format!("bad config: {e}"),
        })?;
    let text = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_string()
    };
    Ok((text("architecture"), text("os")))
}

/// What one image offers: the linux architectures it resolves for.
async fn offered_platforms(
    client: &OciClient,
    image: &ImageLocation,
    pulled: &Pulled,
) -> Result<Vec<String>> {
    Ok(match pulled {
        Pulled::Index { entries, .. } => entries
            .iter()
            .filter(|e| e.os.as_deref() == Some("linux"))
            .filter_map(|e| e.architecture.clone())
            .collect(),
        Pulled::Image { config, .. } => {
            let (arch, os) = config_platform(client, image, config).await?;
            if os == "linux" {
                vec![arch]
            } else {
                Vec::new()
            }
        }
    })
}

/// What [`sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The source reference.
    pub source: String,
    /// The target reference.
    pub target: String,
    /// Digest the target tag points at afterwards.
    pub digest: String,
    /// The tag already pointed at that digest: nothing was copied.
    pub up_to_date: bool,
    /// Platform manifests pushed.
    pub manifests: usize,
    /// Blobs uploaded.
    pub blobs_copied: usize,
    /// Blobs the target already had.
    pub blobs_skipped: usize,
    /// Bytes of the blobs uploaded.
    pub bytes_copied: u64,
}

/// Copies `source` to `target` for `platforms` (see the module documentation for what is
/// guaranteed). Progress goes to `cx.reporter` (kind [`KIND`], bytes copied per blob).
///
/// # Errors
/// [`Error::ImageNotFound`] when the source tag does not exist, [`Error::PlatformMissing`]
/// when it offers no manifest for a platform asked, [`Error::Oci`] for any registry failure,
/// [`Error::DigestMismatch`] / [`Error::InvalidManifest`] for content that does not check out.
pub async fn sync(
    cx: &Context,
    source: &ImageLocation,
    target: &ImageLocation,
    platforms: &[Architecture],
) -> Result<SyncReport> {
    let client = oci_client(&[source, target]);
    client
        .store_auth_if_needed(
            source.reference.resolve_registry(),
            &source.credentials.to_auth(),
        )
        .await;
    client
        .store_auth_if_needed(
            target.reference.resolve_registry(),
            &target.credentials.to_auth(),
        )
        .await;
    let wanted: BTreeSet<&str> = platforms.iter().map(|a| oci_architecture(*a)).collect();
    let top = pull(&client, source, &source.reference).await?;

    // What to push by tag, and the platform manifests to push by digest before it.
    let (tag_bytes, tag_media_type, images) = match top {
        Pulled::Index {
            bytes,
            mut raw,
            media_type,
            entries,
        } => {
            let offered: Vec<String> = entries
                .iter()
                .filter(|e| e.os.as_deref() == Some("linux"))
                .filter_map(|e| e.architecture.clone())
                .collect();
            let mut keep = Vec::new();
            for arch in &wanted {
                let entry = entries.iter().find(|e| {
                    e.os.as_deref() == Some("linux") && e.architecture.as_deref() == Some(*arch)
                });
                match entry {
                    Some(e) => keep.push(e.clone()),
                    None => {
                        return Err(Error::PlatformMissing {
                            image: source.to_string(),
                            platform: format!("linux/{arch}"),
                            offered,
                        });
                    }
                }
            }
            let bytes = if keep.len() == entries.len() {
                bytes // the exact upstream bytes: the index digest is preserved
            } else {
                let kept: BTreeSet<&str> = keep.iter().map(|e| e.digest.as_str()).collect();
                if let Some(list) = raw.get_mut("manifests").and_then(|m| m.as_array_mut()) {
                    list.retain(|m| {
                        m.get("digest")
                            .and_then(|d| d.as_str())
                            .is_some_and(|d| kept.contains(d))
                    });
                }
                serde_json::to_vec(&raw).map_err(|e| Error::InvalidManifest {
                    image: source.to_string(),
                    message: e.to_string(),
                })?
            };
            let mut images = Vec::new();
            for e in &keep {
                let pulled = pull(&client, source, &source.at_digest(&e.digest)).await?;
                images.push((pulled, Some(e.media_type.clone())));
            }
            (bytes, media_type, images)
        }
        image @ Pulled::Image { .. } => {
            let offered = offered_platforms(&client, source, &image).await?;
            for arch in &wanted {
                if !offered.iter().any(|o| o == arch) {
                    return Err(Error::PlatformMissing {
                        image: source.to_string(),
                        platform: format!("linux/{arch}"),
                        offered,
                    });
                }
            }
            let (bytes, media_type) = match &image {
                Pulled::Image {
                    bytes, media_type, ..
                } => (bytes.clone(), media_type.clone()),
                Pulled::Index {
                    bytes, media_type, ..
                } => (bytes.clone(), media_type.clone()),
            };
            // A single manifest is pushed by tag only (below).
            (bytes, media_type, vec![(image, None)])
        }
    };
    let digest = sha256(&tag_bytes);
    let mut report = SyncReport {
        source: source.to_string(),
        target: target.to_string(),
        digest: digest.clone(),
        up_to_date: false,
        manifests: 0,
        blobs_copied: 0,
        blobs_skipped: 0,
        bytes_copied: 0,
    };
    match client
        .fetch_manifest_digest(&target.reference, &target.credentials.to_auth())
        .await
    {
        Ok(existing) if existing == digest => {
            report.up_to_date = true;
            cx.reporter
                .note(KIND, format!("{target} is up to date ({digest})"));
            return Ok(report);
        }
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(oci_error("read the tag of", target)(e)),
    }

    // Blobs, deduplicated across platforms.
    let mut blobs: Vec<OciDescriptor> = Vec::new();
    for (image, _) in &images {
        if let Pulled::Image { config, layers, .. } = image {
            for d in std::iter::once(config).chain(layers) {
                if !blobs.iter().any(|b| b.digest == d.digest) {
                    blobs.push(d.clone());
                }
            }
        }
    }
    let total: u64 = blobs
        .iter()
        .map(|b| u64::try_from(b.size).unwrap_or(0))
        .sum();
    cx.reporter.applying(KIND, &target.to_string(), "copy");
    let copied = Arc::new(AtomicU64::new(0));
    let outcomes: Vec<Option<u64>> = futures::stream::iter(blobs.iter())
        .map(|blob| copy_blob(cx, &client, source, target, blob, total, copied.clone()))
        .buffer_unordered(CONCURRENT_BLOBS)
        .try_collect()
        .await?;
    for outcome in outcomes {
        match outcome {
            Some(bytes) => {
                report.blobs_copied += 1;
                report.bytes_copied += bytes;
            }
            None => report.blobs_skipped += 1,
        }
    }

    // Platform manifests by digest, then the tag.
    for (image, entry_media_type) in &images {
        if let (
            Pulled::Image {
                bytes,
                digest,
                media_type,
                ..
            },
            Some(entry_media_type),
        ) = (image, entry_media_type)
        {
            let content_type = if entry_media_type.is_empty() {
                media_type
            } else {
                entry_media_type
            };
            push_manifest(
                &client,
                target,
                &target.at_digest(digest),
                bytes,
                content_type,
            )
            .await?;
            report.manifests += 1;
        }
    }
    push_manifest(
        &client,
        target,
        &target.reference,
        &tag_bytes,
        &tag_media_type,
    )
    .await?;
    cx.reporter.ready(KIND, &target.to_string());
    Ok(report)
}

async fn push_manifest(
    client: &OciClient,
    target: &ImageLocation,
    reference: &Reference,
    bytes: &[u8],
    media_type: &str,
) -> Result<()> {
    let content_type = media_type.parse().map_err(|_| Error::InvalidManifest {
        image: target.to_string(),
        message: format!("media type {media_type:?} is not a header value"),
    })?;
    client
        .push_manifest_raw(reference, bytes.to_vec(), content_type)
        .await
        .map_err(oci_error("push a manifest to", target))?;
    Ok(())
}

/// Copies one blob unless the target has it; `Some(bytes)` when uploaded.
async fn copy_blob(
    cx: &Context,
    client: &OciClient,
    source: &ImageLocation,
    target: &ImageLocation,
    blob: &OciDescriptor,
    total: u64,
    copied: Arc<AtomicU64>,
) -> Result<Option<u64>> {
    if client
        .blob_exists(&target.reference, &blob.digest)
        .await
        .map_err(oci_error("check a blob in", target))?
    {
        return Ok(None);
    }
    let size = u64::try_from(blob.size).map_err(|_| Error::InvalidManifest {
        image: source.to_string(),
        message: format!("blob {} has a negative size", blob.digest),
    })?;
    let stream = client
        .pull_blob_stream(&source.reference, blob)
        .await
        .map_err(oci_error("pull a blob of", source))?;
    let reporter: Arc<dyn Reporter> = cx.reporter.clone();
    let name = target.to_string();
    let mut since_report = 0u64;
    let counter = copied.clone();
    let stream = stream
        .inspect_ok(move |chunk| {
            let n = chunk.len() as u64;
            let done = counter.fetch_add(n, Ordering::Relaxed) + n;
            since_report += n;
            if since_report >= PROGRESS_EVERY {
                since_report = 0;
                reporter.waiting(KIND, &name, &progress(done, total));
            }
        })
        .map_err(OciDistributionError::IoError);
    client
        .push_blob_stream(&target.reference, stream, &blob.digest, Some(size))
        .await
        .map_err(oci_error("push a blob to", target))?;
    cx.reporter.waiting(
        KIND,
        &target.to_string(),
        &progress(copied.load(Ordering::Relaxed), total),
    );
    Ok(Some(size))
}

fn progress(done: u64, total: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    // Display only; precision loss past 2^52 bytes does not matter.
    #[allow(clippy::cast_precision_loss)]
    let (done, total) = (done as f64 / MIB, total as f64 / MIB);
    format!("copied {done:.1} of {total:.1} MiB")
}

/// One image a deployment runs and the architectures it runs it on.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The image.
    pub image: ImageLocation,
    /// Every architecture a task using it runs on.
    pub platforms: Vec<Architecture>,
}

/// Why an image would not pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageProblem {
    /// The repository or tag does not exist.
    NotFound {
        /// The image reference.
        image: String,
    },
    /// The image has no manifest for a platform a task needs.
    PlatformMissing {
        /// The image reference.
        image: String,
        /// `linux/arm64` or `linux/amd64`.
        platform: String,
        /// The linux architectures it does offer.
        offered: Vec<String>,
    },
}

impl fmt::Display for ImageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageProblem::NotFound { image } => write!(f, "{image} does not exist"),
            ImageProblem::PlatformMissing {
                image,
                platform,
                offered,
            } => write!(
                f,
                "{image} has no {platform} image (it offers: {})",
                if offered.is_empty() {
                    "nothing for linux".to_string()
                } else {
                    offered.join(", ")
                }
            ),
        }
    }
}

/// Checks that every requirement resolves in its registry and offers each of its platforms,
/// the way a container runtime resolves a pull. Read-only.
///
/// # Errors
/// [`Error::Preflight`] listing every problem found; [`Error::Oci`] when a registry cannot be
/// asked at all.
pub async fn preflight(requirements: &[Requirement]) -> Result<()> {
    let mut problems = Vec::new();
    for requirement in requirements {
        let image = &requirement.image;
        let client = oci_client(&[image]);
        client
            .store_auth_if_needed(
                image.reference.resolve_registry(),
                &image.credentials.to_auth(),
            )
            .await;
        let pulled = match pull(&client, image, &image.reference).await {
            Ok(p) => p,
            Err(Error::ImageNotFound { image }) => {
                problems.push(ImageProblem::NotFound { image });
                continue;
            }
            Err(e) => return Err(e),
        };
        let offered = offered_platforms(&client, image, &pulled).await?;
        let wanted: BTreeSet<&str> = requirement
            .platforms
            .iter()
            .map(|a| oci_architecture(*a))
            .collect();
        for arch in wanted {
            if !offered.iter().any(|o| o == arch) {
                problems.push(ImageProblem::PlatformMissing {
                    image: image.to_string(),
                    platform: format!("linux/{arch}"),
                    offered: offered.clone(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Preflight(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_uris_map_to_repository_and_tag() {
        assert_eq!(
            ecr_repository_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/airflow:3.1.0"),
            Some(("demo/airflow".into(), "3.1.0".into()))
        );
        assert_eq!(
            ecr_repository_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/git-sync"),
            Some(("demo/git-sync".into(), "latest".into()))
        );
        assert_eq!(ecr_repository_of("apache/airflow:3.1.0"), None);
        assert_eq!(
            ecr_repository_of("registry.k8s.io/git-sync/git-sync:v4.4.0"),
            None
        );
    }

    #[test]
    fn loopback_registries_are_plain_http_and_nothing_else_is() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("index.docker.io"));
        assert!(!is_loopback("123.dkr.ecr.eu-west-1.amazonaws.com"));
    }

    #[test]
    fn references_default_to_docker_hub() {
        let image =
            ImageLocation::parse("apache/airflow:3.1.0", Credentials::Anonymous).expect("parse");
        assert_eq!(image.registry(), "docker.io");
        assert_eq!(image.repository(), "apache/airflow");
        assert_eq!(image.tag(), Some("3.1.0"));
        assert!(ImageLocation::parse("apache/airflow:bad tag!", Credentials::Anonymous).is_err());
    }

    #[test]
    fn credentials_never_format_their_password() {
        let credentials = Credentials::Basic {
            username: "AWS".into(),
            password: Sensitive::new("very-secret-ecr-password"),
        };
        assert!(!format!("{credentials:?}").contains("very-secret"));
    }
}
