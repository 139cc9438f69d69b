//! A local OCI registry (Debian's `docker-registry`, the CNCF distribution registry) for tests
//! and for the emulator's ECR: [`LocalRegistry`] starts one on a free loopback port with its
//! own temporary storage and kills it on drop; [`push_test_image`] seeds a tiny two-platform
//! image (the test "upstream"); [`resolve`] answers "would a pull of this image for this CPU
//! architecture succeed?", which the ECS lifecycle asks before a task starts.
//!
//! Plain HTTP on 127.0.0.1 only. The HTTP client here is a few lines over `TcpStream`
//! (`Connection: close`), enough for a loopback registry; nothing here talks to the internet.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::launcher::free_port;

/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Locates the registry executable: `$AWSIM_DOCKER_REGISTRY`, then `docker-registry` on `PATH`
/// (Debian's package installs `/usr/bin/docker-registry`).
pub fn find_docker_registry() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("AWSIM_DOCKER_REGISTRY") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::RegistryNotFound)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file())
        .ok_or(Error::RegistryNotFound)
}

/// A running `docker-registry serve` on 127.0.0.1, with its own storage; killed (and its
/// storage removed) on drop.
#[derive(Debug)]
pub struct LocalRegistry {
    child: Child,
    port: u16,
    dir: PathBuf,
    stopped: bool,
}

impl LocalRegistry {
    /// Starts a registry on a free loopback port and waits until `/v2/` answers 200.
    ///
    /// # Errors
    /// [`Error::RegistryNotFound`] when the executable is missing (a test failure, never a
    /// skip), [`Error::RegistryNotReady`] when it does not answer within 30 s.
    pub fn start() -> Result<Self> {
        let program = find_docker_registry()?;
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            match Self::start_on(&program, port) {
                Ok(r) => return Ok(r),
                Err(Error::RegistryNotReady(why)) => last = why,
                Err(e) => return Err(e),
            }
        }
        Err(Error::RegistryNotReady(last))
    }

    fn start_on(program: &PathBuf, port: u16) -> Result<Self> {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "awsim-registry-{}-{port}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("storage"))?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("storage").display()
            ),
        )?;
        let log = std::fs::File::create(dir.join("registry.log"))?;
        // Same watchdog as moto's: the registry dies when our end of the stdin pipe closes.
        let script = r#"exec 3<&0; "$0" serve "$1" </dev/null 3<&- & m=$!; (read _x <&3; kill -9 $m 2>/dev/null) & wait $m"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(program)
            .arg(&config)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: program.clone(),
                source,
            })?;
        let mut registry = LocalRegistry {
            child,
            port,
            dir,
            stopped: false,
        };
        registry.wait_ready(Duration::from_secs(30))?;
        Ok(registry)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::RegistryNotReady(format!(
                    "docker-registry exited with {status}: {}",
                    self.log_tail()
                )));
            }
            if let Ok(r) = http(self.port, "GET", "/v2/", &[], &[])
                && r.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::RegistryNotReady(format!(
                    "no answer on port {} after {timeout:?}: {}",
                    self.port,
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        let start = text.len().saturating_sub(1500);
        text.get(start..).unwrap_or("").to_string()
    }

    /// The port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>` (an ECR `proxyEndpoint` for the emulator).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the registry, reaps it and removes its storage.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-9", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Repository of the seeded Airflow test image in [`EmulatorRegistries::upstream`].
pub const UPSTREAM_AIRFLOW: &str = "upstream/airflow";
/// Repository of the seeded git-sync test image in [`EmulatorRegistries::upstream`].
pub const UPSTREAM_GIT_SYNC: &str = "upstream/git-sync";
/// Tag of both seeded test images.
pub const UPSTREAM_TAG: &str = "test";

/// The two registries an emulated deployment pulls through, offline: an empty one standing
/// in for ECR (give [`EmulatorRegistries::ecr_url`] to [`crate::Scenario::with_registry`])
/// and an "upstream" seeded with tiny two-platform (`linux/amd64`, `linux/arm64`) test images
/// of Airflow and git-sync, a few KB each, for `orchestrate images sync` to copy from.
/// Both are stopped on drop.
#[derive(Debug)]
pub struct EmulatorRegistries {
    /// Stands in for ECR.
    pub ecr: LocalRegistry,
    /// The seeded upstream.
    pub upstream: LocalRegistry,
}

impl EmulatorRegistries {
    /// Starts both registries (concurrently) and seeds the upstream.
    ///
    /// # Errors
    /// As [`LocalRegistry::start`] and [`push_test_image`].
    pub fn start() -> Result<Self> {
        let (ecr, upstream) = std::thread::scope(|s| {
            let ecr = s.spawn(LocalRegistry::start);
            let upstream = LocalRegistry::start();
            let ecr = ecr
                .join()
                .unwrap_or_else(|_| Err(Error::RegistryNotReady("start thread panicked".into())));
            (ecr, upstream)
        });
        let (ecr, upstream) = (ecr?, upstream?);
        for repository in [UPSTREAM_AIRFLOW, UPSTREAM_GIT_SYNC] {
            push_test_image(
                upstream.port(),
                repository,
                UPSTREAM_TAG,
                &["amd64", "arm64"],
            )?;
        }
        Ok(Self { ecr, upstream })
    }

    /// `http://127.0.0.1:<port>` of the ECR stand-in.
    pub fn ecr_url(&self) -> String {
        self.ecr.url()
    }

    /// `127.0.0.1:<port>/upstream/airflow:test`.
    pub fn airflow_source(&self) -> String {
        format!("{}/{UPSTREAM_AIRFLOW}:{UPSTREAM_TAG}", self.upstream.host())
    }

    /// `127.0.0.1:<port>/upstream/git-sync:test`.
    pub fn git_sync_source(&self) -> String {
        format!(
            "{}/{UPSTREAM_GIT_SYNC}:{UPSTREAM_TAG}",
            self.upstream.host()
        )
    }
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One plain-HTTP/1.1 request to `127.0.0.1:port` (`Connection: close`, 30 s read timeout).
///
/// # Errors
/// [`Error::Io`] when the connection fails, [`Error::Registry`] on a malformed answer.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| Error::Registry(format!("{method} {path}: no header terminator")))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| Error::Registry(format!("{method} {path}: no status line")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if method == "HEAD" {
        body.clear();
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let mut out = String::from("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Uploads one blob (POST then a monolithic PUT); already-present blobs are skipped.
///
/// # Errors
/// [`Error::Registry`] when the registry refuses.
pub fn push_blob(port: u16, repository: &str, data: &[u8]) -> Result<String> {
    let digest = sha256_digest(data);
    let head = http(
        port,
        "HEAD",
        &format!("/v2/{repository}/blobs/{digest}"),
        &[],
        &[],
    )?;
    if head.status == 200 {
        return Ok(digest);
    }
    let location = start_upload(port, repository)?;
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = http(
        port,
        "PUT",
        &format!("{location}{separator}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    )?;
    if put.status != 201 {
        return Err(Error::Registry(format!(
            "PUT blob {digest}: HTTP {}: {}",
            put.status,
            String::from_utf8_lossy(&put.body)
        )));
    }
    Ok(digest)
}

/// Opens a blob upload session and returns its path (`/v2/<repo>/blobs/uploads/<id>?...`).
///
/// # Errors
/// [`Error::Registry`] when the registry refuses.
pub fn start_upload(port: u16, repository: &str) -> Result<String> {
    let post = http(
        port,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        &[],
    )?;
    let location = post
        .header("location")
        .filter(|_| post.status == 202)
        .ok_or_else(|| Error::Registry(format!("POST upload: HTTP {}", post.status)))?;
    // The registry answers with an absolute URL; keep the path.
    Ok(match location.find("/v2/") {
        Some(i) => location[i..].to_string(),
        None => location.to_string(),
    })
}

/// Uploads a manifest under `reference` (a tag or a digest); returns its digest.
///
/// # Errors
/// [`Error::Registry`] when the registry refuses.
pub fn push_manifest(
    port: u16,
    repository: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> Result<String> {
    let put = http(
        port,
        "PUT",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        body,
    )?;
    if put.status != 201 {
        return Err(Error::Registry(format!(
            "PUT manifest {repository}:{reference}: HTTP {}: {}",
            put.status,
            String::from_utf8_lossy(&put.body)
        )));
    }
    Ok(sha256_digest(body))
}

/// One platform of a [`TestImage`].
#[derive(Debug, Clone)]
pub struct TestPlatform {
    /// OCI architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Digest of its image manifest.
    pub manifest_digest: String,
    /// Digests of its config and layer blobs.
    pub blobs: Vec<String>,
}

/// What [`push_test_image`] pushed.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// Digest of the image index (what the tag points at).
    pub index_digest: String,
    /// One entry per platform, in the order asked.
    pub platforms: Vec<TestPlatform>,
    /// Total bytes of every blob (configs and layers).
    pub blob_bytes: u64,
}

/// Pushes a tiny OCI image index under `repository:tag`: per architecture (OCI names,
/// `amd64`/`arm64`) a config and two generated layers of a few KB, distinct per
/// architecture and per `tag`, so two tags share nothing.
///
/// # Errors
/// [`Error::Registry`] when the registry refuses.
pub fn push_test_image(
    port: u16,
    repository: &str,
    tag: &str,
    architectures: &[&str],
) -> Result<TestImage> {
    let mut platforms = Vec::new();
    let mut entries = Vec::new();
    let mut blob_bytes = 0u64;
    for arch in architectures {
        let layers: Vec<Vec<u8>> = (0..2)
            .map(|n| generated_bytes(&format!("{repository}:{tag}/{arch}/{n}"), 3000 + n * 1500))
            .collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
        .to_string()
        .into_bytes();
        let config_digest = push_blob(port, repository, &config)?;
        let mut blobs = vec![config_digest.clone()];
        let mut layer_descriptors = Vec::new();
        blob_bytes += config.len() as u64;
        for layer in &layers {
            let digest = push_blob(port, repository, layer)?;
            blob_bytes += layer.len() as u64;
            layer_descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest,
                "size": layer.len(),
            }));
            blobs.push(digest);
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": layer_descriptors,
        })
        .to_string()
        .into_bytes();
        let manifest_digest = sha256_digest(&manifest);
        push_manifest(port, repository, &manifest_digest, OCI_MANIFEST, &manifest)?;
        entries.push(serde_json::json!({
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": {"architecture": arch, "os": "linux"},
        }));
        platforms.push(TestPlatform {
            architecture: (*arch).to_string(),
            manifest_digest,
            blobs,
        });
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    })
    .to_string()
    .into_bytes();
    let index_digest = push_manifest(port, repository, tag, OCI_INDEX, &index)?;
    Ok(TestImage {
        index_digest,
        platforms,
        blob_bytes,
    })
}

/// Deterministic pseudo-random bytes (xorshift seeded by `seed`'s hash).
fn generated_bytes(seed: &str, len: usize) -> Vec<u8> {
    let hash = Sha256::digest(seed.as_bytes());
    let mut state = u64::from_le_bytes([
        hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
    ]) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state & 0xff) as u8
        })
        .collect()
}

/// What a pull of one image for one architecture would find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A manifest for the architecture exists (its digest).
    Found(String),
    /// The repository or tag does not exist.
    NotFound,
    /// The tag exists but offers no manifest for the architecture; the ones it offers.
    PlatformMissing(Vec<String>),
}

/// Resolves `repository:reference` for `architecture` (OCI name: `amd64`, `arm64`) the way a
/// container runtime does: the tag's manifest; for an index, the entry for `linux/<arch>`;
/// for a single manifest, its config's architecture.
///
/// # Errors
/// [`Error::Io`] when the registry cannot be reached, [`Error::Registry`] on a malformed
/// answer.
pub fn resolve(
    port: u16,
    repository: &str,
    reference: &str,
    architecture: &str,
) -> Result<Resolution> {
    let accept = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
    let r = http(
        port,
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", &accept)],
        &[],
    )?;
    if r.status == 404 {
        return Ok(Resolution::NotFound);
    }
    if r.status != 200 {
        return Err(Error::Registry(format!(
            "GET manifest {repository}:{reference}: HTTP {}",
            r.status
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| Error::Registry(format!("{repository}:{reference}: {e}")))?;
    if let Some(manifests) = json.get("manifests").and_then(|m| m.as_array()) {
        let mut offered = Vec::new();
        for m in manifests {
            let platform = m.get("platform");
            let arch = platform
                .and_then(|p| p.get("architecture"))
                .and_then(|a| a.as_str());
            let os = platform.and_then(|p| p.get("os")).and_then(|a| a.as_str());
            if let (Some(arch), Some("linux")) = (arch, os) {
                if arch == architecture {
                    let digest = m.get("digest").and_then(|d| d.as_str()).unwrap_or("");
                    return Ok(Resolution::Found(digest.to_string()));
                }
                offered.push(arch.to_string());
            }
        }
        return Ok(Resolution::PlatformMissing(offered));
    }
    let config = json
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(|d| d.as_str())
        .ok_or_else(|| Error::Registry(format!("{repository}:{reference}: no config")))?;
    let blob = http(
        port,
        "GET",
        &format!("/v2/{repository}/blobs/{config}"),
        &[],
        &[],
    )?;
    if blob.status != 200 {
        return Ok(Resolution::NotFound);
    }
    let config: serde_json::Value = serde_json::from_slice(&blob.body)
        .map_err(|e| Error::Registry(format!("{repository}:{reference} config: {e}")))?;
    let arch = config
        .get("architecture")
        .and_then(|a| a.as_str())
        .unwrap_or("");
    if arch == architecture {
        Ok(Resolution::Found(sha256_digest(&r.body)))
    } else {
        Ok(Resolution::PlatformMissing(vec![arch.to_string()]))
    }
}

/// ECR `GetAuthorizationToken` with a registry configured: moto's answer (a token of
/// `AWS:<account>-auth-token`, `proxyEndpoint` `https://<acct>.dkr.ecr.<region>.amazonaws.com`)
/// with `proxyEndpoint` pointing at `registry_url`. `None` for any other call.
pub fn rewrite_authorization(
    operation: &str,
    success: bool,
    body: &[u8],
    registry_url: &str,
) -> Option<crate::protocol::Rendered> {
    if operation != "GetAuthorizationToken" || !success {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    for data in v.get_mut("authorizationData")?.as_array_mut()? {
        data["proxyEndpoint"] = serde_json::Value::String(registry_url.to_string());
    }
    Some(crate::protocol::Rendered {
        status: hyper::StatusCode::OK,
        content_type: "application/x-amz-json-1.1",
        headers: vec![],
        body: bytes::Bytes::from(v.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_seeds_and_resolves_a_two_platform_image() {
        let registry = LocalRegistry::start().expect("docker-registry must be installed");
        let image = push_test_image(registry.port(), "upstream/app", "1.0", &["amd64", "arm64"])
            .expect("push");
        assert_eq!(image.platforms.len(), 2);
        assert!(image.blob_bytes > 9000 && image.blob_bytes < 20_000);
        let arm = resolve(registry.port(), "upstream/app", "1.0", "arm64").expect("resolve");
        assert_eq!(
            arm,
            Resolution::Found(image.platforms[1].manifest_digest.clone())
        );
        let by_digest = resolve(
            registry.port(),
            "upstream/app",
            &image.index_digest,
            "amd64",
        )
        .expect("resolve by digest");
        assert_eq!(
            by_digest,
            Resolution::Found(image.platforms[0].manifest_digest.clone())
        );
        assert_eq!(
            resolve(registry.port(), "upstream/app", "2.0", "arm64").expect("resolve"),
            Resolution::NotFound
        );
        assert_eq!(
            resolve(registry.port(), "nothing/here", "1.0", "arm64").expect("resolve"),
            Resolution::NotFound
        );
        let x86 =
            push_test_image(registry.port(), "upstream/x86", "1.0", &["amd64"]).expect("push");
        assert_eq!(x86.platforms.len(), 1);
        assert_eq!(
            resolve(registry.port(), "upstream/x86", "1.0", "arm64").expect("resolve"),
            Resolution::PlatformMissing(vec!["amd64".into()])
        );
    }

    #[test]
    fn stop_kills_the_registry_and_removes_its_storage() {
        let mut registry = LocalRegistry::start().expect("docker-registry must be installed");
        let port = registry.port();
        let dir = registry.dir.clone();
        registry.stop();
        assert!(!dir.exists());
        let mut refused = false;
        for _ in 0..100 {
            if http(port, "GET", "/v2/", &[], &[]).is_err() {
                refused = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(refused, "the registry still answers after stop");
    }
}
