//! Test support for the end-to-end suite: builds and finds the real `ftpd` and `ftp` binaries,
//! starts a server on port 0 in a temporary folder (reading its bound address and certificate
//! fingerprint from its stdout, never sleeping), and runs the client against it, pinned to that
//! fingerprint. The server is killed when dropped. Every command gets a private config folder
//! (XDG_CONFIG_HOME, HOME), so no test reads or writes the real `~/.config`.
//!
//! This is test-support code: a panic here is how a test reports a broken set-up.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

pub mod proxies;
pub mod trees;

/// Folder holding the binaries cargo built for this test run.
fn bin_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            // target/<profile>/deps/<test> -> target/<profile>
            let dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test executable lives in target/<profile>/deps")
                .to_path_buf();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "-p", "ftpd", "-p", "ftp", "--bins"]);
            // What cargo set for this test crate is not the build's: some build scripts rerun
            // when such a variable differs, rebuilding ring and rustls on every test run.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if name == "CARGO_MANIFEST_DIR"
                    || name == "CARGO_MANIFEST_PATH"
                    || name == "CARGO_CRATE_NAME"
                    || name == "CARGO_PRIMARY_PACKAGE"
                    || name == "OUT_DIR"
                    || name.starts_with("CARGO_PKG_")
                {
                    build.env_remove(name.as_ref());
                }
            }
            if dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "cargo build of ftpd and ftp failed");
            dir
        })
        .clone()
}

/// Path of the `ftpd` binary.
pub fn ftpd_bin() -> PathBuf {
    bin_dir().join("ftpd")
}

/// Path of the `ftp` binary.
pub fn ftp_bin() -> PathBuf {
    bin_dir().join("ftp")
}

/// Variables of ours that must not leak from the developer's shell into a test.
const OUR_VARIABLES: &[&str] = &[
    "FTP_CONFIG",
    "FTP_SERVER",
    "FTP_USER",
    "FTP_PASSWORD",
    "FTP_PASSWORD_FILE",
    "FTP_SECRET_FILE",
    "FTPD_CONFIG",
    "FTPD_ROOT",
    "FTPD_LISTEN",
    "FTPD_USERS",
    "FTPD_SECRET_FILE",
    "FTP_FINGERPRINT",
    "FTP_CA_FILE",
    "FTP_KNOWN_SERVERS",
    "FTP_INSECURE_PLAINTEXT",
    "FTPD_TLS_CERT",
    "FTPD_TLS_KEY",
    "FTPD_INSECURE_PLAINTEXT",
];

/// A config folder for commands that belong to no site, shared by the whole test process.
fn spare_home() -> PathBuf {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp home"))
        .path()
        .to_path_buf()
}

/// A command for one of our binaries with a clean environment of ours.
pub fn command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    for variable in OUR_VARIABLES {
        command.env_remove(variable);
    }
    let home = spare_home();
    command
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"));
    command.stdin(Stdio::null());
    command
}

/// `command` run on a terminal: script(1) gives it one (stdout then carries what the terminal
/// showed). Its environment goes along.
pub fn on_a_terminal(command: &Command) -> Command {
    let quoted =
        |word: &std::ffi::OsStr| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(quoted)
        .collect();
    let mut terminal = Command::new("script");
    terminal.args(["-qec", &line.join(" "), "/dev/null"]);
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => terminal.env(name, value),
            None => terminal.env_remove(name),
        };
    }
    terminal
}

/// Longest a single client command may run before the test calls it hung.
const COMMAND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs a command to completion, feeding `stdin`; panics (after killing it) if it hangs.
pub fn run(mut command: Command, stdin: Option<&str>) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("spawn command");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A command that refuses before reading its input may already have exited.
        if let Err(error) = pipe.write_all(text.as_bytes()) {
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "write stdin");
        }
    }
    output_of(child, &format!("{command:?}"))
}

/// Waits for a spawned command (`what`, for the message) and collects its piped output;
/// panics (after killing it) if it hangs.
pub fn output_of(child: Child, what: &str) -> Output {
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(COMMAND_DEADLINE) {
        Ok(output) => output.expect("wait for command"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{what} did not finish within {COMMAND_DEADLINE:?}");
        }
    }
}

/// Sends a signal (`TERM`, `INT`, …) to a process.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Exit code of a finished command (-1 when killed by a signal).
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A folder laid out for one server: config, users file, key, root.
pub struct Site {
    /// Owns the temporary folder.
    pub dir: tempfile::TempDir,
}

impl Site {
    /// A site that serves plain TCP (`insecure_plaintext`), for tests about the protocol rather
    /// than the transport; its clients are run with `--insecure-plaintext`.
    pub fn plaintext(extra: &str) -> Site {
        Site::new(&format!("insecure_plaintext = true\n{extra}"))
    }

    /// A new site whose config file adds `extra` TOML lines to the paths and `listen = port 0`.
    /// It serves TLS with a self-signed certificate generated in its folder on first start.
    pub fn new(extra: &str) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = Site { dir };
        let config = format!(
            "listen = \"127.0.0.1:0\"\nroot = {:?}\nusers = {:?}\nsecret_file = {:?}\n{extra}\n",
            site.root(),
            site.users_file(),
            site.key_file()
        );
        std::fs::write(site.config_file(), config).expect("write config");
        site
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("ftpd.toml")
    }

    /// The root folder served.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The users file.
    pub fn users_file(&self) -> PathBuf {
        self.dir.path().join("users.toml")
    }

    /// The shared key file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("ftpd.key")
    }

    /// The TLS certificate (generated on first start; the key is `ftpd-cert.key` beside it).
    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("ftpd-cert.pem")
    }

    /// The config folder of the site's clients (`XDG_CONFIG_HOME`): its known-servers file is
    /// `ftp/known_servers` inside.
    pub fn client_config(&self) -> PathBuf {
        self.dir.path().join("client-config")
    }

    /// `ftpd --config <site> ARGS…`
    pub fn ftpd(&self, args: &[&str]) -> Command {
        let mut command = command(&ftpd_bin());
        command.arg("--config").arg(self.config_file()).args(args);
        command.current_dir(self.dir.path());
        command
    }

    /// Adds a user through `ftpd user add --password-stdin`, with extra flags.
    pub fn add_user(&self, name: &str, password: &str, flags: &[&str]) {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        args.extend_from_slice(flags);
        let output = run(self.ftpd(&args), Some(&format!("{password}\n")));
        assert_eq!(code(&output), 0, "user add failed: {}", stderr(&output));
    }

    /// Starts the server; returns once it listens.
    pub fn start(&self) -> Server {
        self.start_with(self.ftpd(&[]))
    }

    /// Starts the server from `command` (this site's [`Site::ftpd`], maybe wrapped, e.g. in a
    /// shell that sets a umask first); returns once it listens.
    pub fn start_with(&self, mut command: Command) -> Server {
        command
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn ftpd");
        let log: Arc<Log> = Arc::default();
        let mut stderr = child.stderr.take().expect("stderr piped");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&chunk[..n]).into_owned();
                sink.text.lock().expect("log lock").push_str(&text);
                sink.grew.notify_all();
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut line = String::new();
        let mut fingerprint = None;
        let address = loop {
            line.clear();
            let read = stdout.read_line(&mut line).expect("read ftpd stdout");
            if read == 0 {
                let status = child.wait().expect("wait ftpd");
                panic!(
                    "ftpd exited ({status}) before listening:\n{}",
                    log.text.lock().expect("log lock")
                );
            }
            if let Some(found) = line.trim().strip_prefix("ftpd certificate fingerprint ") {
                fingerprint = Some(found.to_owned());
            }
            if let Some(address) = line.trim().strip_prefix("ftpd listening on ") {
                break address.parse().expect("listen address");
            }
        };
        // The line after the address is the client command to paste.
        line.clear();
        stdout.read_line(&mut line).expect("read ftpd stdout");
        let connect_line = line
            .trim()
            .strip_prefix("connect with: ")
            .map(str::to_owned);
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server {
            child,
            address,
            log,
            key: self.key_file(),
            fingerprint,
            connect_line,
            client_config: self.client_config(),
        }
    }
}

/// A server's stderr, collected by a reader thread that signals each addition.
#[derive(Default)]
struct Log {
    /// The text so far.
    text: Mutex<String>,
    /// Notified whenever `text` grows.
    grew: Condvar,
}

/// A running `ftpd`, killed when dropped.
pub struct Server {
    /// The process.
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    /// Everything it wrote to stderr so far.
    log: Arc<Log>,
    /// Its shared key file.
    pub key: PathBuf,
    /// Its certificate's fingerprint as it printed it; `None` for a plaintext server.
    pub fingerprint: Option<String>,
    /// The client command it printed after `connect with: `.
    pub connect_line: Option<String>,
    /// The config folder its clients run with (`XDG_CONFIG_HOME`).
    pub client_config: PathBuf,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `INT`, …) to the server.
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// Waits (bounded) for the server to exit; returns its exit code (-1 for a signal).
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = std::time::Instant::now() + COMMAND_DEADLINE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.code().unwrap_or(-1),
                Ok(None) => {
                    assert!(std::time::Instant::now() < deadline, "ftpd did not exit");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => panic!("waiting for ftpd: {error}"),
            }
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.log.text.lock().expect("log lock").clone()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The client's cache folder (its checkpoint lists live beneath), one per site.
    pub fn client_cache(&self) -> PathBuf {
        self.key.with_file_name("client-cache")
    }

    /// `ftp --server … --secret-file … --user USER` with FTP_PASSWORD set.
    pub fn ftp(&self, user: &str, password: &str) -> Command {
        self.ftp_via(self.address, user, password)
    }

    /// Like [`Server::ftp`], but connecting to `address` (a proxy in front of this server).
    /// The client is pinned to the server's fingerprint (or told to use plaintext, for a
    /// plaintext server).
    pub fn ftp_via(&self, address: SocketAddr, user: &str, password: &str) -> Command {
        let mut command = self.ftp_unpinned(address, user, password);
        match &self.fingerprint {
            Some(fingerprint) => command.arg("--fingerprint").arg(fingerprint),
            None => command.arg("--insecure-plaintext"),
        };
        command
    }

    /// `ftp` with no transport option at all: TLS, trusting on first use through the
    /// known-servers file in [`Server::client_config`].
    pub fn ftp_unpinned(&self, address: SocketAddr, user: &str, password: &str) -> Command {
        let mut command = command(&ftp_bin());
        command
            .arg("--server")
            .arg(address.to_string())
            .arg("--secret-file")
            .arg(&self.key)
            .arg("--user")
            .arg(user)
            .env("FTP_PASSWORD", password)
            .env("XDG_CACHE_HOME", self.client_cache())
            .env("XDG_CONFIG_HOME", &self.client_config);
        command
    }

    /// The transport a library client uses to reach this server: TLS pinned to its
    /// certificate, or plain TCP for a plaintext server.
    pub fn transport(&self) -> ftp::transport::Transport {
        use ftp::transport::{Transport, Trust};
        match &self.fingerprint {
            Some(fingerprint) => {
                Transport::Tls(Trust::Pinned(fingerprint.parse().expect("fingerprint")))
            }
            None => Transport::Plaintext,
        }
    }

    /// Runs `ftp` with `args` as `user`.
    pub fn run_ftp(&self, user: &str, password: &str, args: &[&str]) -> Output {
        let mut command = self.ftp(user, password);
        command.args(args);
        run(command, None)
    }

    /// Waits until the log contains `needle` (the server logs each event once it happened).
    pub fn wait_for_log(&self, needle: &str) {
        let text = self.log.text.lock().expect("log lock");
        let (text, timeout) = self
            .log
            .grew
            .wait_timeout_while(text, COMMAND_DEADLINE, |text| !text.contains(needle))
            .expect("log lock");
        assert!(
            !timeout.timed_out(),
            "server log never showed {needle:?}:\n{text}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `len` bytes of reproducible pseudo-random data (xorshift, from `seed`) to `path`.
pub fn random_file(path: &Path, len: usize, seed: u64) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data).expect("write test file");
}

/// Whether two files have the same bytes (with a readable failure message otherwise).
pub fn same_content(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Total bytes of the partial uploads under a root.
pub fn partial_bytes(root: &Path) -> u64 {
    let folder = root.join(".ftpd-internal/partials");
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "part"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Paths of the partial uploads under a root.
pub fn partials(root: &Path) -> Vec<PathBuf> {
    let folder = root.join(".ftpd-internal/partials");
    let mut partials = files_ending(&folder, "part");
    // Small files sent whole have their partials in two folders inside.
    for whole in ["whole-a", "whole-b"] {
        partials.extend(files_ending(&folder.join(whole), "part"));
    }
    partials
}

/// The checkpoint lists in a folder (the server's partials folder, or a client cache's
/// `ftp/checkpoints`).
pub fn checkpoint_lists(folder: &Path) -> Vec<PathBuf> {
    files_ending(folder, "ckpt")
}

/// Files in `folder` with extension `extension`.
fn files_ending(folder: &Path, extension: &str) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == extension))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (polling the file system, bounded) until `condition` holds.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + COMMAND_DEADLINE;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A TCP proxy on 127.0.0.1:0 that cuts each of its first `cuts` connections (both ways)
/// once `cut_after` bytes have crossed it in either direction together; later connections
/// pass untouched.
pub struct CutProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    /// Connections cut so far.
    cut: Arc<std::sync::atomic::AtomicUsize>,
}

/// Copies `from` to `to`, adding to `crossed`; stops (cutting both sockets of both pairs)
/// once `limit` is reached.
fn pump(
    from: std::net::TcpStream,
    to: std::net::TcpStream,
    crossed: Arc<std::sync::atomic::AtomicU64>,
    limit: Option<u64>,
    was_cut: Arc<std::sync::atomic::AtomicBool>,
    cut: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match (&from).read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let before = crossed.fetch_add(n as u64, Ordering::SeqCst);
        let n = match limit {
            Some(limit) if before >= limit => 0,
            Some(limit) => n.min((limit - before) as usize),
            None => n,
        };
        if n > 0 && (&to).write_all(&chunk[..n]).is_err() {
            break;
        }
        if limit.is_some_and(|limit| before + n as u64 >= limit) {
            if !was_cut.swap(true, Ordering::SeqCst) {
                cut.fetch_add(1, Ordering::SeqCst);
            }
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

impl CutProxy {
    /// Starts the proxy in front of `target`.
    pub fn start(target: SocketAddr, cut_after: u64, cuts: usize) -> CutProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let cut = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&cut);
        std::thread::spawn(move || {
            for (index, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                let limit = (index < cuts).then_some(cut_after);
                let crossed = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let was_cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let (up_crossed, up_flag, up_cut) = (
                    Arc::clone(&crossed),
                    Arc::clone(&was_cut),
                    Arc::clone(&counter),
                );
                std::thread::spawn(move || {
                    pump(client, server, up_crossed, limit, up_flag, up_cut)
                });
                let down_cut = Arc::clone(&counter);
                std::thread::spawn(move || {
                    pump(server2, client2, crossed, limit, was_cut, down_cut)
                });
            }
        });
        CutProxy { address, cut }
    }

    /// How many connections were cut.
    pub fn cuts(&self) -> usize {
        self.cut.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// SHA-256 of a file as `sha256sum` prints it.
pub fn sha256sum(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The `.part` file a download of `local` writes first.
pub fn part_of(local: &Path) -> PathBuf {
    let mut name = local.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Every path under `folder` with its size (0 for folders), sorted: a snapshot to compare.
pub fn tree(folder: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                pending.push(path.clone());
                found.push((path, 0));
            } else {
                found.push((path, meta.len()));
            }
        }
    }
    found.sort();
    found
}

/// A connection on which no message has been exchanged yet (TLS, pinned to the server's
/// certificate, or plain TCP for a plaintext server), from a chosen local address if given, and
/// the binding its key proofs must carry.
pub async fn open(
    server: &Server,
    from: Option<std::net::IpAddr>,
) -> (
    ftp_proto::transport::Stream,
    ftp_proto::handshake::ChannelBinding,
) {
    let address = server.address;
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .expect("socket");
    if let Some(ip) = from {
        socket
            .bind(SocketAddr::new(ip, 0))
            .expect("bind local address");
    }
    let tcp = socket.connect(address).await.expect("connect");
    let stream = match server.transport() {
        ftp::transport::Transport::Plaintext => ftp_proto::transport::Stream::Plain(tcp),
        ftp::transport::Transport::Tls(trust) => {
            ftp::transport::tls(tcp, &address.to_string(), &trust)
                .await
                .expect("TLS handshake")
                .0
        }
    };
    let binding = stream.binding().expect("channel binding");
    (stream, binding)
}

/// A connection framed for the client side of the protocol.
pub type RawConn = tokio_util::codec::Framed<ftp_proto::transport::Stream, ftp_proto::ClientCodec>;

/// An async connection that has passed the handshake and logged in, for tests that speak
/// the protocol directly (optionally from a chosen local address such as 127.0.0.2).
pub async fn raw_session(
    server: &Server,
    from: Option<std::net::IpAddr>,
    user: &str,
    password: &str,
) -> Result<RawConn, ftp_proto::ServerMessage> {
    use ftp_proto::{ClientMessage, ServerMessage, handshake};
    use futures::{SinkExt, StreamExt};
    let key = ftp_proto::SharedKey::load(&server.key).expect("key");
    let (stream, binding) = open(server, from).await;
    let mut conn = tokio_util::codec::Framed::new(stream, ftp_proto::ClientCodec::default());
    let server_nonce = match conn.next().await {
        Some(Ok(ServerMessage::Hello { nonce, .. })) => nonce,
        Some(Ok(other)) => return Err(other),
        other => panic!("no hello: {other:?}"),
    };
    let nonce = handshake::new_nonce().expect("nonce");
    let proof = handshake::client_proof(&key, &binding, &server_nonce, &nonce);
    conn.send(ClientMessage::Hello {
        version: ftp_proto::PROTOCOL_VERSION,
        nonce,
        proof,
    })
    .await
    .expect("send hello");
    match conn.next().await {
        Some(Ok(ServerMessage::Proof { .. })) => {}
        Some(Ok(other)) => return Err(other),
        other => panic!("no proof: {other:?}"),
    }
    conn.send(ClientMessage::Login {
        user: user.to_owned(),
        password: ftp_proto::Password::new(password.to_owned()),
    })
    .await
    .expect("send login");
    match conn.next().await {
        Some(Ok(ServerMessage::Welcome { .. })) => Ok(conn),
        Some(Ok(other)) => Err(other),
        other => panic!("no login answer: {other:?}"),
    }
}
