//! Starting, probing, resetting and stopping a pinned `moto_server`.
//!
//! moto runs under a tiny `sh` watchdog in its own process group: the watchdog kills moto when
//! our end of its stdin pipe closes, so moto dies with the test process even on SIGKILL, and
//! [`Moto`]'s `Drop` kills the whole group (panicking tests included).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Locates the moto_server executable: `$AWSIM_MOTO_SERVER`, then `<workspace>/.venv/bin/moto_server`,
/// then `./.venv/bin/moto_server`, then `moto_server` on `PATH`.
pub fn find_moto_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("AWSIM_MOTO_SERVER") {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(Error::MotoNotFound)
        };
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for base in [workspace, PathBuf::from(".")] {
        let candidate = base.join(".venv/bin/moto_server");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
        .ok_or(Error::MotoNotFound)
}

/// Ports this process has handed out: a server started on one takes seconds to bind it, and
/// meanwhile the kernel may offer the same port again to a test starting in parallel, whose
/// server would then fail to bind while its readiness probe reached the first one (two tests
/// sharing one moto: seen as another test's lease and as InternalFailure answers).
static CLAIMED: std::sync::Mutex<std::collections::BTreeSet<u16>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Picks a currently free loopback port that this process has not handed out before.
pub fn free_port() -> Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut claimed = CLAIMED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if claimed.insert(port) {
            return Ok(port);
        }
    }
    Err(Error::MotoNotReady(
        "no free loopback port not already handed out".into(),
    ))
}

/// A running moto_server, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
    stopped: bool,
}

impl Moto {
    /// Starts moto_server on a free loopback port and waits until it answers.
    pub fn start() -> Result<Self> {
        let program = find_moto_server()?;
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            match Self::start_on(&program, port) {
                Ok(m) => return Ok(m),
                Err(Error::MotoNotReady(why)) => last = why,
                Err(e) => return Err(e),
            }
        }
        Err(Error::MotoNotReady(last))
    }

    fn start_on(program: &PathBuf, port: u16) -> Result<Self> {
        let log =
            std::env::temp_dir().join(format!("awsim-moto-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log)?;
        // $0 = moto_server, $1 = port. The subshell waits for EOF on stdin, then kills moto.
        // Asynchronous lists get /dev/null as stdin, so the pipe is kept on fd 3 explicitly.
        let script = r#"exec 3<&0; "$0" -H 127.0.0.1 -p "$1" </dev/null 3<&- & m=$!; (read _x <&3; kill -9 $m 2>/dev/null) & wait $m"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(program)
            .arg(port.to_string())
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            // moto issues DNS-validated certificates at once; the proxy's ACM lifecycle
            // decides when they are issued (lifecycle::acm).
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: program.clone(),
                source,
            })?;
        let mut moto = Moto {
            child,
            port,
            log,
            stopped: false,
        };
        moto.wait_ready(Duration::from_secs(60))?;
        Ok(moto)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::MotoNotReady(format!(
                    "moto_server exited with {status}: {}",
                    self.log_tail()
                )));
            }
            if http_get(self.port, "/moto-api/data.json").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::MotoNotReady(format!(
                    "no answer on port {} after {timeout:?}: {}",
                    self.port,
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(1500);
        text.get(start..).unwrap_or("").to_string()
    }

    /// The port moto listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// moto's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id of the watchdog shell (also moto's process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Forgets every resource moto holds (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<()> {
        http_post(self.port, "/moto-api/reset").map(|_| ())
    }

    /// Kills moto and its watchdog, and reaps them.
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
        // SIGKILL is asynchronous: moto (a grandchild) may take a moment to die. Wait until its
        // port refuses connections, so "stopped" means stopped.
        for _ in 0..100 {
            if TcpStream::connect_timeout(
                &([127, 0, 0, 1], self.port).into(),
                Duration::from_millis(50),
            )
            .is_err()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn http_request(port: u16, method: &str, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    if out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200") {
        Ok(out)
    } else {
        Err(Error::Moto(format!(
            "{method} {path}: {}",
            out.lines().next().unwrap_or("")
        )))
    }
}

fn http_get(port: u16, path: &str) -> Result<String> {
    http_request(port, "GET", path)
}

fn http_post(port: u16, path: &str) -> Result<String> {
    http_request(port, "POST", path)
}
