//! Test support for the S3 storage backend: a real single-node Ceph cluster with a radosgw (the
//! S3 server) on loopback, one per test process, started on first use by [`shared`].
//!
//! `radosgw.sh` (next to this crate's manifest) runs the daemons: a mon, a memstore OSD, a mgr
//! and radosgw, on ports picked free here, in a temporary folder. It prints one `ready` line
//! once radosgw answers HTTP, then waits for its stdin to close. That stdin's write end lives in
//! a static for the rest of the process, so when the test process exits, however it exits (even
//! SIGKILL), the pipe closes and the script stops every daemon and removes the folder. Start-up
//! takes about 12 to 17 seconds; `RADOSGW_MEMSTORE_BYTES` sizes the OSD's in-RAM store (default
//! 2 GiB, taken lazily) and `RADOSGW_READY_TIMEOUT` the wait for radosgw (default 180 s).
//!
//! Missing Ceph packages are an error, never a skip: `.ci/run` installs them, and a test that
//! `expect()`s [`shared`] fails loudly where they are absent instead of passing silently.
//!
//! This is test-support code: an `Err` with a clear message is how it reports a broken set-up.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The programs the cluster needs; `ceph` comes with ceph-common.
const TOOLS: &[&str] = &[
    "bash",
    "curl",
    "radosgw",
    "radosgw-admin",
    "ceph",
    "ceph-mon",
    "ceph-osd",
    "ceph-mgr",
    "ceph-authtool",
    "monmaptool",
];

/// How many times start-up is tried, on new ports each time, when a port was taken meanwhile.
const ATTEMPTS: usize = 3;

/// A running radosgw and the credentials of its one S3 user.
#[derive(Debug)]
pub struct Radosgw {
    /// Base URL, `http://127.0.0.1:PORT` (no trailing slash); buckets are path-style below it.
    pub endpoint: String,
    /// The S3 user's access key id.
    pub access_key: String,
    /// The S3 user's secret key.
    pub secret_key: String,
    /// The region to sign requests for (`default`).
    pub region: String,
    /// Write end of the script's stdin: closing it (at process exit) stops the cluster.
    _stdin: ChildStdin,
    /// The script's stdout, kept open so it never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

/// The cluster of this test process, started by the first caller; concurrent callers wait for
/// that start and get the same cluster (or the same error).
pub fn shared() -> Result<&'static Radosgw, String> {
    static SHARED: OnceLock<Result<Radosgw, String>> = OnceLock::new();
    SHARED.get_or_init(start).as_ref().map_err(Clone::clone)
}

impl Radosgw {
    /// Creates a new, empty bucket (S3 CreateBucket) named `prefix` plus a unique suffix, and
    /// returns its name. The prefix is lowercased and anything but `a-z0-9-` becomes `-`.
    pub fn bucket(&self, prefix: &str) -> Result<String, String> {
        let name = bucket_name(prefix);
        let out = self
            .curl()
            .args(["-X", "PUT"])
            .arg(format!("{}/{name}", self.endpoint))
            .output()
            .map_err(|e| format!("running curl to create bucket {name}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "creating bucket {name} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        Ok(name)
    }

    /// A `curl` command that signs its request (AWS SigV4) as this cluster's user, fails on an
    /// HTTP error (`--fail`) and is quiet but for errors; add the method, body and URL.
    pub fn curl(&self) -> Command {
        let mut curl = Command::new("curl");
        curl.args(["--fail", "-sS", "--aws-sigv4"])
            .arg(format!("aws:amz:{}:s3", self.region))
            .arg("--user")
            .arg(format!("{}:{}", self.access_key, self.secret_key))
            // curl 7.88 does not send the payload hash radosgw requires; it signs this instead.
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .stdin(Stdio::null());
        curl
    }
}

/// A fresh DNS-style bucket name: `prefix` sanitised and cut so the whole fits 3..=63 chars.
fn bucket_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("-{}-{n}", std::process::id());
    let mut head: String = prefix
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .take(63 - suffix.len())
        .collect();
    // A name starts with a letter or digit.
    let trimmed = head.trim_start_matches('-').len();
    head.drain(..head.len() - trimmed);
    if head.is_empty() {
        head.push('b');
    }
    format!("{head}{suffix}")
}

/// Whether `tool` is an executable file in a `PATH` folder.
fn on_path(tool: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        use std::os::unix::fs::PermissionsExt;
        dir.join(tool)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Starts the cluster: checks the tools, then tries up to [`ATTEMPTS`] times on fresh ports.
fn start() -> Result<Radosgw, String> {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the S3 backend's tests need a real Ceph radosgw, but {} not on PATH. \
             .ci/run installs them; by hand: \
             apt-get install radosgw ceph-mon ceph-osd ceph-mgr ceph-common curl",
            if missing.len() == 1 {
                format!("{} is", missing[0])
            } else {
                format!("{} are", missing.join(", "))
            }
        ));
    }
    let mut errors = Vec::new();
    for attempt in 1..=ATTEMPTS {
        match start_once() {
            Ok(rgw) => return Ok(rgw),
            Err(e) => {
                // Another process may have taken a port between our probe and the daemon's bind.
                // The script's message then holds a daemon's log line saying so.
                let retry = e.contains("Address already in use");
                errors.push(format!("attempt {attempt}: {e}"));
                if !retry {
                    break;
                }
            }
        }
    }
    Err(format!("starting radosgw failed:\n{}", errors.join("\n")))
}

/// Two loopback ports that were free a moment ago (bound to port 0 together, then released).
fn free_ports() -> Result<(u16, u16), String> {
    let bind = || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .map_err(|e| format!("binding a loopback port: {e}"))
    };
    let (a, _first) = bind()?;
    let (b, _second) = bind()?;
    Ok((a, b))
}

/// One start-up: runs the script and reads its `ready` line.
fn start_once() -> Result<Radosgw, String> {
    let (mon_port, rgw_port) = free_ports()?;
    // The script removes this folder when it stops; nothing here ever drops it.
    let dir = tempfile::Builder::new()
        .prefix("radosgw-")
        .tempdir()
        .map_err(|e| format!("creating a temporary folder: {e}"))?
        .keep();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("radosgw.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg(mon_port.to_string())
        .arg(rgw_port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("the script's pipes were not set up".into());
    };
    // Drained all along, so the script never blocks on a full stderr pipe.
    let errors = Arc::new(Mutex::new(String::new()));
    let drain = {
        let errors = Arc::clone(&errors);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                if let Ok(mut e) = errors.lock() {
                    e.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        })
    };
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let read = stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading the script's output: {e}"))?;
        if read == 0 {
            // The script failed: it exited, so its stderr is complete once the drain ends.
            let status = child
                .wait()
                .map_err(|e| format!("waiting for the script: {e}"))?;
            let _ = drain.join();
            let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
            return Err(format!("{} exited ({status}):\n{errors}", script.display()));
        }
        if let Some(fields) = line.trim_end().strip_prefix("ready ") {
            let field = |key: &str| {
                fields
                    .split(' ')
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .map(str::to_owned)
                    .ok_or_else(|| format!("no {key} in the ready line: {line}"))
            };
            return Ok(Radosgw {
                endpoint: field("endpoint")?,
                access_key: field("access_key")?,
                secret_key: field("secret_key")?,
                region: field("region")?,
                _stdin: stdin,
                _stdout: stdout,
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn cluster() -> &'static Radosgw {
        shared().expect("the radosgw test cluster")
    }

    #[test]
    fn bucket_names_are_dns_style_and_unique() {
        for prefix in ["", "-", "Store_Tests", &"x".repeat(100), "ok"] {
            let a = bucket_name(prefix);
            let b = bucket_name(prefix);
            assert_ne!(a, b);
            assert!((3..=63).contains(&a.len()), "{a}");
            assert!(a.starts_with(|c: char| c.is_ascii_alphanumeric()), "{a}");
            assert!(
                a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{a}"
            );
        }
    }

    #[test]
    fn signed_put_and_get_round_trip_in_two_buckets() {
        let rgw = cluster();
        let one = rgw.bucket("fixture-one").expect("first bucket");
        let two = rgw.bucket("fixture-two").expect("second bucket");
        assert_ne!(one, two);

        let body = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(body.path(), b"round trip through radosgw\n").expect("write body");
        let put = rgw
            .curl()
            .arg("-T")
            .arg(body.path())
            .arg(format!("{}/{one}/object", rgw.endpoint))
            .output()
            .expect("run curl");
        assert!(put.status.success(), "PUT: {put:?}");

        let get = rgw
            .curl()
            .arg(format!("{}/{one}/object", rgw.endpoint))
            .output()
            .expect("run curl");
        assert!(get.status.success(), "GET: {get:?}");
        assert_eq!(get.stdout, b"round trip through radosgw\n");

        // The other bucket is a different bucket, and signing is checked.
        let missing = rgw
            .curl()
            .arg(format!("{}/{two}/object", rgw.endpoint))
            .output()
            .expect("run curl");
        assert!(!missing.status.success(), "GET from {two}: {missing:?}");
        let anonymous = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{}/{one}/object", rgw.endpoint))
            .output()
            .expect("run curl");
        assert_eq!(anonymous.stdout, b"403");
    }

    #[test]
    fn concurrent_callers_share_one_cluster() {
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let rgw = cluster();
                    (rgw.endpoint.clone(), std::ptr::from_ref(rgw) as usize)
                })
            })
            .collect();
        let got: Vec<(String, usize)> = callers
            .into_iter()
            .map(|c| c.join().expect("caller thread"))
            .collect();
        assert_eq!(got[0], got[1]);
    }
}
