#!/usr/bin/env python3
"""Side-by-side benchmark of ftp/ftpd against the limits of the machine and against peers.

Started by bench/run.sh (which installs the peers and builds the release binaries). Every
server runs on 127.0.0.1 with a config from bench/config/. The cases of a workload run
interleaved: one warm-up of each, then ROUNDS rounds that each run every case once, so a row
and the limits and peers it is compared with are measured in the same minutes even while the
machine's own speed drifts; the table reports medians and the spread. Targets are fresh names
each round, and the page cache is flushed to disk (sync) between runs, outside the timing, so
no run pays for the previous one's writeback. Nothing here is asserted: it measures and
reports.

The "tree" workload (bench/tree.py) moves whole folders with each tool: fresh, again with
nothing changed, and synced after 1 % changed; and measures the memory a tree of 100,000 files
takes the client and the server.

The "link" workload moves the big file over an emulated 1 Gbit/s Ethernet link instead: a
network namespace joined to the host by a veth pair shaped with tc in both directions (see
NetLink). ftpd, an rsync daemon and a raw TCP receiver run inside the namespace, the clients on
the host; the limit is the link rate. It is skipped, with the reason printed, where network
namespaces or tc are not available.
"""

import argparse
import csv
import os
import pathlib
import platform
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from s3 import S3Workload
from tree import TreeWorkload

REPO = pathlib.Path(__file__).resolve().parent.parent
CONFIG = REPO / "bench" / "config"
RELEASE = REPO / "target" / "release"
BENCH_USER = "ftpbench"
BENCH_PASSWORD = "bench-password-not-secret"
# ftpd's user "bench" (at least min_password_length, 8, characters).
FTPD_PASSWORD = "bench-password"
PORTS = {"pure-ftpd": 22021, "sshd": 22022, "rsyncd": 22023, "ftpd-fsync": 22024,
         "ftpd-nofsync": 22025, "raw": 22026, "ftpd-tls-fsync": 22027, "ftpd-tls-nofsync": 22028,
         "ftpd-mem": 22029, "ftpd-s3": 22030, "ftpd-local": 22031, "radosgw-mon": 22032,
         "radosgw": 22033}
# The ftpd servers: the first two serve plain TCP (insecure_plaintext, as the rows before TLS
# measured), the TLS ones the default transport; the client pins their certificates.
FTPDS = ("ftpd-fsync", "ftpd-nofsync", "ftpd-tls-fsync", "ftpd-tls-nofsync")
# Upload rows: server and label.
FTP_PUTS = (("ftpd-fsync", "ftp put (plaintext, fsync on)"),
            ("ftpd-nofsync", "ftp put (plaintext, fsync off)"),
            ("ftpd-tls-fsync", "ftp put (TLS, fsync on, default)"),
            ("ftpd-tls-nofsync", "ftp put (TLS, fsync off)"))
SSH_OPTIONS = ["-i", None, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-c", "aes128-gcm@openssh.com"]


@dataclass
class Case:
    """One row of a workload: how to run and tidy a round, and what its rounds measured."""
    workload: str
    tool: str
    run: object  # run(i): one timed round
    clean: object  # clean(i): tidies after it, untimed
    amount: int  # bytes or files moved per round
    unit: str  # "B" or "files"
    rounds: int
    times: list = field(default_factory=list)
    client_cpu: list = field(default_factory=list)
    rest_cpu: list = field(default_factory=list)


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"nothing listens on port {port}")


def template(name, work, port, addr="127.0.0.1"):
    text = (CONFIG / name).read_text()
    return text.replace("@WORK@", str(work)).replace("@PORT@", str(port)).replace("@ADDR@", addr)


def stop_all(procs):
    """Terminates the processes we started, then waits for each (killing any that hangs)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds():
    """CPU time the whole machine has spent busy since boot (user, nice, system, irq, softirq;
    not idle, iowait or steal), and the time the host ran something else on its CPUs while
    this machine wanted them (steal), in seconds, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def children_cpu_seconds():
    """User and system CPU time of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sha256_seconds_per_gib(streams):
    """Seconds one SHA-256 stream takes per GiB while `streams` run at once (openssl speed,
    1 MiB blocks): on a machine whose two vCPUs share a core's SHA unit, two streams each run
    at half speed, and that is the floor of a transfer that hashes on both ends at once."""
    args = ["openssl", "speed", "-evp", "sha256", "-bytes", str(1 << 20), "-seconds", "3"]
    if streams > 1:
        args[2:2] = ["-multi", str(streams)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    line = [l for l in out.splitlines() if l.startswith("sha256")][-1]
    kb_per_s = float(line.split()[-1].rstrip("k"))  # all streams together, 1000-byte units
    return streams * (1 << 30) / (kb_per_s * 1000)


def machine_state():
    """What the figures depend on: the CPU, how long the machine has been up, its load, and
    whether the guest gives free memory back to its host (free page reporting), which makes
    every page the kernel hands out afresh (a new file's page cache) cost a fault on the host."""
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), platform.processor())
    uptime = float(open("/proc/uptime").read().split()[0])
    load = os.getloadavg()[0]
    state = (f"{os.cpu_count()} × {model}; up {uptime / 60:.0f} min when the run began;"
             f" load average {load:.2f}")
    reporting = pathlib.Path("/sys/module/page_reporting/parameters")
    try:
        order = int((reporting / "page_reporting_order").read_text())
        state += (f"; free memory goes back to the host in blocks of {4 << order >> 10} MiB"
                  " (page reporting)")
        reported = reporting / "reported_kib"
        if reported.exists():
            state += f", {int(reported.read_text()) / (1 << 20):.0f} GiB so far"
    except (OSError, ValueError):
        state += "; no free page reporting"
    return state


def remove(*paths):
    """Removes files and folders that may or may not be there."""
    for p in paths:
        p = pathlib.Path(p)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists() or p.is_symlink():
            p.unlink()


def timed_once(prepare, run, clean, i):
    """Round `i` of a case: `prepare(i)`, a sync, `run(i)` timed, `clean(i)`; the seconds."""
    prepare(i)
    sh("sync")
    start = time.perf_counter()
    run(i)
    elapsed = time.perf_counter() - start
    clean(i)
    return elapsed


def interrupted_upload(cmd, env, partials, have):
    """Runs the upload `cmd` and kills it once `have` bytes are in the server's `partials`
    folder; then awaits the server's sealed checkpoint list (a resume comes later in real
    life)."""
    client = subprocess.Popen(cmd, env=env)
    while sum(p.stat().st_size for p in partials.glob("*.part")) < have:
        if client.poll() is not None:
            raise RuntimeError("the upload finished before it could be interrupted")
        time.sleep(0.001)
    client.kill()
    client.wait()
    deadline = time.monotonic() + 30
    while not list(partials.glob("*.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.01)


def rss_kib(pid):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class LinkUnavailable(Exception):
    """The emulated link could not be built here (no network namespaces, no tbf, ...)."""


class NetLink:
    """An emulated 1 Gbit/s Ethernet link between the host and a network namespace.

    `with NetLink() as link:` creates the namespace and a veth pair (HOST on the host side,
    PEER inside), shapes both directions with tbf, and always tears it all down again, with
    every process started through `link.start`, also after a failure or ctrl-C.
    """

    NAME = "ftpbench"
    HOST_IF, PEER_IF = "ftpb0", "ftpb1"
    HOST, PEER = "10.77.0.1", "10.77.0.2"
    RATE = 125_000_000  # bytes/s on the wire: 1 Gbit/s
    LIMIT = "1 Gbit/s link rate (limit)"  # the table's limit row: computed, not measured

    def __init__(self, mtu=1500):
        # tbf counts the frame (MTU + 14 bytes of header); the wire also carries preamble, FCS
        # and the gap between frames (24 bytes more). Shaping at frame/(frame + 24) of the
        # rate gives every full frame its wire time, so one TCP stream tops out where it does
        # on real Gigabit Ethernet: 941 Mbit/s of goodput with 1500-byte frames, 990 with
        # 9000-byte (jumbo) frames. The 256 KiB burst lets veth's 64 KiB GSO segments through
        # whole and rides out timer jitter (16 and 64 KiB lost 15-25 %); over a 9 s transfer
        # it adds at most 0.03 %.
        self.mtu = mtu
        frame, wire = mtu + 14, mtu + 14 + 24
        self.SHAPER = ["tbf", "rate", f"{self.RATE * 8 * frame // wire}bit", "burst", "256kb",
                       "latency", "10ms"]
        self.GOODPUT = self.RATE * (mtu - 52) / wire  # TCP payload (timestamps on) per frame
        self.procs = []

    @staticmethod
    def unavailable():
        """Why the link cannot be built here, or None."""
        missing = [tool for tool in ("ip", "tc", "socat") if not shutil.which(tool)]
        return f"{', '.join(missing)} not found (iproute2 and socat are needed)" if missing else None

    def setup_commands(self):
        ns = ["ip", "-n", self.NAME]
        return [
            ["ip", "netns", "add", self.NAME],
            ["ip", "link", "add", self.HOST_IF, "type", "veth", "peer", "name", self.PEER_IF,
             "netns", self.NAME],
            ["ip", "addr", "add", f"{self.HOST}/24", "dev", self.HOST_IF],
            ["ip", "link", "set", self.HOST_IF, "up"],
            [*ns, "addr", "add", f"{self.PEER}/24", "dev", self.PEER_IF],
            [*ns, "link", "set", self.PEER_IF, "up"],
            [*ns, "link", "set", "lo", "up"],
            ["ip", "link", "set", "dev", self.HOST_IF, "mtu", str(self.mtu)],
            [*ns, "link", "set", "dev", self.PEER_IF, "mtu", str(self.mtu)],
            ["tc", "qdisc", "add", "dev", self.HOST_IF, "root", *self.SHAPER],
            ["tc", "-n", self.NAME, "qdisc", "add", "dev", self.PEER_IF, "root", *self.SHAPER],
        ]

    def __enter__(self):
        self.down()  # leftovers of an interrupted run
        try:
            for cmd in self.setup_commands():
                sh(*cmd, capture_output=True, text=True)
        except subprocess.CalledProcessError as e:
            self.down()
            raise LinkUnavailable(f"`{' '.join(e.cmd)}` failed: {e.stderr.strip()}") from None
        return self

    def __exit__(self, *exc_info):
        stop_all(self.procs)
        self.down()

    def down(self):
        # Deleting one end of a veth pair deletes both.
        sh("ip", "link", "del", self.HOST_IF, check=False, stderr=subprocess.DEVNULL)
        sh("ip", "netns", "del", self.NAME, check=False, stderr=subprocess.DEVNULL)

    def start(self, cmd, **kw):
        """Starts `cmd` inside the namespace; it is stopped when the link goes down."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.NAME, *cmd], **kw)
        self.procs.append(proc)
        return proc


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = pathlib.Path(args.work)
        self.rounds = args.rounds
        self.size = args.size_mib << 20
        self.label = "1 GiB" if args.size_mib == 1024 else f"{args.size_mib} MiB"
        self.results = []  # (workload, tool, seconds list, amount, unit)
        self.procs = []
        self.memory = {}
        self.fingerprints = {}  # (work folder, ftpd name) -> its TLS certificate fingerprint
        self.loopback_up = False
        self.client_cache = self.work / "client-cache"
        self.cpu = {}  # (workload, tool) -> (client CPU-s list, rest-of-machine CPU-s list)
        self.pending = []  # cases queued by `measure`, run by `run_cases`
        self.steal = 0.0  # seconds the host kept the CPUs from the timed runs, in all
        self.floor = None  # seconds two SHA-256 streams at once take for the big file
        self.state = machine_state()
        self.tree_memory = []  # (what, peak KiB) for the 100,000-file tree
        self.tables = []  # more tables for the report, each a list of markdown lines

    # ---------------------------------------------------------------- set-up
    def setup(self):
        if self.work.exists():
            shutil.rmtree(self.work)
        (self.work / "ssh").mkdir(parents=True)
        (self.work / "rsync").mkdir()
        try:
            pwd.getpwnam(BENCH_USER)
        except KeyError:
            sh("useradd", "-m", "-s", "/bin/bash", BENCH_USER)
        sh("chpasswd", input=f"{BENCH_USER}:{BENCH_PASSWORD}\n".encode())
        self.home = pathlib.Path(pwd.getpwnam(BENCH_USER).pw_dir)
        self.big = self.work / "big.bin"
        print(f"writing a {self.args.size_mib} MiB test file and 1,000 files of 4 KiB ...", flush=True)
        with open(self.big, "wb") as out:
            left = self.size
            while left:
                n = min(left, 1 << 24)
                out.write(os.urandom(n))
                left -= n
        os.chmod(self.big, 0o644)
        self.small = self.work / "small"
        self.small.mkdir()
        for i in range(1000):
            (self.small / f"f{i:04}.bin").write_bytes(os.urandom(4096))
        sh("chmod", "-R", "a+rX", str(self.work))

    def spawn(self, cmd, **kw):
        """Starts a server on the host; `stop` ends it."""
        proc = subprocess.Popen(cmd, **kw)
        self.procs.append(proc)
        return proc

    def start_rsyncd(self, work, addr, start):
        (work / "rsyncd.conf").write_text(template("rsyncd.conf", work, PORTS["rsyncd"]))
        return start(["rsync", "--daemon", "--no-detach", f"--config={work / 'rsyncd.conf'}",
                      f"--port={PORTS['rsyncd']}", f"--address={addr}"])

    def start_ftpds(self, work, addr, start):
        """Every ftpd config (plaintext and TLS, fsync on and off), with user "bench", state under
        `work`. A TLS server generates its certificate in its own folder (its working folder);
        its fingerprint is kept for the client to pin."""
        ftpd = str(RELEASE / "ftpd")
        self.add_ftpd_user(work)
        procs = {}
        for name in FTPDS:
            (work / name).mkdir()
            (work / f"{name}.toml").write_text(template(f"{name}.toml", work, PORTS[name], addr))
            if name.startswith("ftpd-tls"):
                printed = subprocess.run([ftpd, "--config", str(work / f"{name}.toml"), "fingerprint"],
                                         cwd=work / name, check=True, capture_output=True, text=True)
                self.fingerprints[(str(work), name)] = printed.stdout.strip()
            procs[name] = start([ftpd, "--config", str(work / f"{name}.toml")], cwd=work / name,
                                stdout=subprocess.DEVNULL, stderr=open(work / f"{name}.log", "w"))
        return procs

    def add_ftpd_user(self, work):
        """ftpd's user "bench" in `work`'s users file, unless it is there already."""
        users = work / "ftpd-users.toml"
        if not users.exists():
            sh(str(RELEASE / "ftpd"), "--users", str(users), "user", "add", "bench", "--password-stdin",
               input=f"{FTPD_PASSWORD}\n".encode(), stdout=subprocess.DEVNULL)

    def start_fresh_ftpd(self, name):
        """A new ftpd (TLS, fsync off) on PORTS[name] with a root of its own, for measuring
        what one workload alone makes it use; stopped with the others."""
        text = template("ftpd-tls-nofsync.toml", self.work, PORTS[name]).replace("ftpd-tls-nofsync", name)
        return self.start_ftpd_with(name, text)

    def start_ftpd_with(self, name, config_text, env=None, timeout=10.0):
        """An ftpd on PORTS[name], run in work/NAME with CONFIG_TEXT as its config and ENV as
        its environment, its fingerprint recorded for the clients; stopped with the others."""
        work = self.work
        (work / name).mkdir()
        config = work / f"{name}.toml"
        config.write_text(config_text)
        ftpd = str(RELEASE / "ftpd")
        printed = subprocess.run([ftpd, "--config", str(config), "fingerprint"], cwd=work / name,
                                 check=True, capture_output=True, text=True, env=env)
        self.fingerprints[(str(work), name)] = printed.stdout.strip()
        proc = self.spawn([ftpd, "--config", str(config)], cwd=work / name, env=env,
                          stdout=subprocess.DEVNULL, stderr=open(work / f"{name}.log", "w"))
        wait_port(PORTS[name], timeout=timeout)
        return proc

    def start_servers(self):
        """The peers and ftpd on 127.0.0.1, for the loopback workloads."""
        w = self.work
        self.loopback_up = True
        # pure-ftpd (daemonizes itself)
        args = [a for a in template("pure-ftpd.args", w, PORTS["pure-ftpd"]).splitlines()
                if a and not a.startswith("#")]
        sh("/usr/sbin/pure-ftpd", *args)
        # OpenSSH
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(w / "ssh" / "hostkey"))
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(w / "ssh" / "clientkey"))
        shutil.copy(w / "ssh" / "clientkey.pub", w / "ssh" / "authorized_keys")
        os.chmod(w / "ssh" / "authorized_keys", 0o644)
        (w / "ssh" / "sshd_config").write_text(template("sshd_config", w, PORTS["sshd"]))
        pathlib.Path("/run/sshd").mkdir(exist_ok=True)
        sh("/usr/sbin/sshd", "-f", str(w / "ssh" / "sshd_config"))
        SSH_OPTIONS[1] = str(w / "ssh" / "clientkey")
        self.start_rsyncd(w, "127.0.0.1", self.spawn)
        for name, proc in self.start_ftpds(w, "127.0.0.1", self.spawn).items():
            self.memory[name] = proc.pid
        for name, port in PORTS.items():
            if name not in ("raw", "ftpd-mem", "ftpd-s3", "ftpd-local", "radosgw-mon", "radosgw"):
                wait_port(port)
        time.sleep(0.2)
        for name, pid in list(self.memory.items()):
            self.memory[name] = rss_kib(pid)
        for name, pattern in (("pure-ftpd", "pure-ftpd"), ("sshd", "sshd -f"), ("rsyncd", "rsync --daemon")):
            pids = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
            self.memory[name] = rss_kib(int(pids[0])) if pids else None

    def stop(self):
        if self.loopback_up:  # the daemons we started, by the pid they wrote
            for pid_file in (self.work / "pure-ftpd.pid", self.work / "ssh" / "sshd.pid"):
                if pid_file.exists():
                    sh("kill", pid_file.read_text().strip(), check=False)
        stop_all(self.procs)

    # ---------------------------------------------------------------- clients
    def ftp(self, port, *args, host="127.0.0.1", work=None, cache=None):
        """The ftp command line and environment for the ftpd on `host:port` with state in `work`:
        pinned to a TLS server's certificate, or plain TCP for a plaintext one."""
        # The client's cache (checkpoint lists, whole-file hashes) lives in the bench's folder;
        # `run_cases` empties it before every round, so each put hashes its file as a first put
        # does (the "hash cached" row passes a `cache` of its own, which stays).
        env = dict(os.environ, FTP_PASSWORD=FTPD_PASSWORD,
                   XDG_CACHE_HOME=str(cache or self.client_cache))
        work = work or self.work
        name = next(n for n, p in PORTS.items() if p == port)
        fingerprint = self.fingerprints.get((str(work), name))
        transport = ["--fingerprint", fingerprint] if fingerprint else ["--insecure-plaintext"]
        return [str(RELEASE / "ftp"), "--server", f"{host}:{port}", "--secret-file",
                str(work / "ftpd.key"), *transport, "--user", "bench", "--quiet", *args], env

    def ssh_target(self, path):
        return f"{BENCH_USER}@127.0.0.1:{path}"

    # ---------------------------------------------------------------- timing
    def measure(self, workload, tool, run, clean, amount, unit, rounds=None):
        """Queues a case: `run(i)` does one timed run, `clean(i)` tidies after it (not timed).
        Queued cases run when `run_cases` is called, interleaved, so every row of a table is
        measured in the same minutes as the limits and peers it is compared with, whatever the
        machine does meanwhile."""
        self.pending.append(Case(workload, tool, run, clean, amount, unit, rounds or self.rounds))

    def run_cases(self):
        """Runs the queued cases round by round: one warm-up of each, in order, then each round
        runs every case once, the client's cache emptied first (a case that wants its cache
        kept names a folder of its own). Besides the wall time, each round's CPU time is taken:
        the client's (the commands `run` started, from RUSAGE_CHILDREN) and the rest of the
        machine's (all CPU time /proc/stat counted, less the client's: the server, and the
        kernel's network and disk work); and the time the host took the CPUs away (steal)."""
        cases, self.pending = self.pending, []
        for i in range(max((case.rounds for case in cases), default=-1) + 1):
            for case in (case for case in cases if i <= case.rounds):
                shutil.rmtree(self.client_cache, ignore_errors=True)
                sh("sync")
                (machine0, steal0), children0 = cpu_seconds(), children_cpu_seconds()
                start = time.perf_counter()
                case.run(i)
                elapsed = time.perf_counter() - start
                client = children_cpu_seconds() - children0
                machine1, steal1 = cpu_seconds()
                case.clean(i)
                if i > 0:  # the first run warms up
                    case.times.append(elapsed)
                    case.client_cpu.append(client)
                    case.rest_cpu.append(max(machine1 - machine0 - client, 0.0))
                    self.steal += steal1 - steal0
        for case in cases:
            median = statistics.median(case.times)
            rate = case.amount / median
            label = f"{rate / 1e6:,.0f} MB/s" if case.unit == "B" else f"{rate:,.0f} files/s"
            cpu = (f"CPU {statistics.median(case.client_cpu):.2f}"
                   f" + {statistics.median(case.rest_cpu):.2f} s")
            print(f"  {case.workload:28} {case.tool:36} {median:7.2f} s  {label}  {cpu}"
                  f"  ({min(case.times):.2f}-{max(case.times):.2f} s)", flush=True)
            self.results.append((case.workload, case.tool, case.times, case.amount, case.unit))
            self.cpu[(case.workload, case.tool)] = (case.client_cpu, case.rest_cpu)

    def remove(self, *paths):
        remove(*paths)

    # ---------------------------------------------------------------- workloads
    def raw_tcp(self, dest, receiver, sender, bind="127.0.0.1", start=subprocess.Popen):
        listener = start(
            ["socat", "-u", "-b", str(1 << 20), f"TCP-LISTEN:{PORTS['raw']},reuseaddr,bind={bind}",
             receiver])
        sh("bash", "-c", sender)
        listener.wait()

    def hash_floor(self):
        """SHA-256 alone and with two streams at once, as rows of their own: what hashing on
        both ends costs this machine, whatever the transfer does."""
        gib = self.size / (1 << 30)
        for streams, tool in ((1, "SHA-256, one stream alone"),
                              (2, "SHA-256, each of two streams at once (hash floor)")):
            seconds = sha256_seconds_per_gib(streams) * gib
            print(f"  {self.label + ' hashing':28} {tool:36} {seconds:7.2f} s", flush=True)
            self.results.append((f"{self.label} hashing", tool, [seconds], self.size, "B"))
            self.floor = seconds

    def big_upload(self):
        big, w, home = self.big, self.work, self.home
        self.hash_floor()
        dest = lambda i: w / f"raw{i}.bin"
        connect = f"TCP:127.0.0.1:{PORTS['raw']},retry=100,interval=0.005"
        self.measure(f"{self.label} upload", "raw TCP into a new file (limit)",
                     lambda i: self.raw_tcp(dest(i), f"CREATE:{dest(i)}",
                                            f"socat -u -b {1 << 20} FILE:{big} {connect}"),
                     lambda i: self.remove(dest(i)), self.size, "B")
        self.measure(f"{self.label} upload", "raw TCP, fsync before reply",
                     lambda i: self.raw_tcp(dest(i), f"SYSTEM:'dd of={dest(i)} bs=1M conv=fsync status=none'",
                                            f"socat -u -b {1 << 20} FILE:{big} {connect}"),
                     lambda i: self.remove(dest(i)), self.size, "B")
        self.measure(f"{self.label} upload", "raw TCP, SHA-256 on both ends",
                     lambda i: self.raw_tcp(
                         dest(i), f"SYSTEM:'tee {dest(i)} | openssl dgst -sha256 >/dev/null'",
                         f"tee >(openssl dgst -sha256 >/dev/null) < {big} | socat -u -b {1 << 20} - {connect}"),
                     lambda i: self.remove(dest(i)), self.size, "B")
        ftp_url = f"ftp://{BENCH_USER}:{BENCH_PASSWORD}@127.0.0.1:{PORTS['pure-ftpd']}"
        self.measure(f"{self.label} upload", "pure-ftpd + curl -T",
                     lambda i: sh("curl", "-s", "-T", str(big), f"{ftp_url}/c{i}.bin"),
                     lambda i: self.remove(home / f"c{i}.bin"), self.size, "B")
        self.measure(f"{self.label} upload", "pure-ftpd + lftp put",
                     lambda i: sh("lftp", "-u", f"{BENCH_USER},{BENCH_PASSWORD}", "-e",
                                  f"put {big} -o l{i}.bin; bye", f"ftp://127.0.0.1:{PORTS['pure-ftpd']}"),
                     lambda i: self.remove(home / f"l{i}.bin"), self.size, "B")
        self.measure(f"{self.label} upload", "scp (aes128-gcm)",
                     lambda i: sh("scp", *SSH_OPTIONS, "-P", str(PORTS["sshd"]), str(big),
                                  self.ssh_target(f"s{i}.bin")),
                     lambda i: self.remove(home / f"s{i}.bin"), self.size, "B")
        self.measure(f"{self.label} upload", "sftp (aes128-gcm)",
                     lambda i: sh("sftp", "-q", "-b", "-", *SSH_OPTIONS, "-P", str(PORTS["sshd"]),
                                  f"{BENCH_USER}@127.0.0.1", input=f"put {big} f{i}.bin\n".encode(),
                                  stdout=subprocess.DEVNULL),
                     lambda i: self.remove(home / f"f{i}.bin"), self.size, "B")
        self.measure(f"{self.label} upload", "rsync daemon",
                     lambda i: sh("rsync", str(big), f"rsync://127.0.0.1:{PORTS['rsyncd']}/bench/r{i}.bin"),
                     lambda i: self.remove(w / "rsync" / f"r{i}.bin"), self.size, "B")
        for name, label in FTP_PUTS:
            root = w / name / "root" / "bench"
            self.measure(f"{self.label} upload", label,
                         lambda i, name=name: sh(*self.ftp(PORTS[name], "put", str(big), f"p{i}.bin")[0],
                                                 env=self.ftp(PORTS[name])[1]),
                         lambda i, root=root: self.remove(root / f"p{i}.bin"), self.size, "B")
        # The same file put again, unchanged: the client takes its SHA-256 from its cache (the
        # warm-up round puts it there) and only reads it to send it; the server still hashes.
        # Its cache is its own, so the other cases, emptying theirs, leave it alone.
        root = w / "ftpd-tls-fsync" / "root" / "bench"
        kept = w / "client-cache-kept"
        self.measure(f"{self.label} upload", "ftp put again, file unchanged (hash cached; TLS, fsync on)",
                     lambda i: sh(*self.ftp(PORTS["ftpd-tls-fsync"], "put", str(big), f"q{i}.bin")[0],
                                  env=self.ftp(PORTS["ftpd-tls-fsync"], cache=kept)[1]),
                     lambda i: self.remove(root / f"q{i}.bin"), self.size, "B")
        # Downloads: the file is on the server once; each round gets it to a new local name.
        cmd, env = self.ftp(PORTS["ftpd-nofsync"], "put", str(big), "dl.bin")
        sh(*cmd, env=env)
        self.measure(f"{self.label} download", "ftp get (client fsyncs)",
                     lambda i: sh(*self.ftp(PORTS["ftpd-nofsync"], "get", "dl.bin", str(w / f"g{i}.bin"))[0],
                                  env=env),
                     lambda i: self.remove(w / f"g{i}.bin"), self.size, "B")
        self.measure(f"{self.label} download", "ftp get --no-fsync",
                     lambda i: sh(*self.ftp(PORTS["ftpd-nofsync"], "get", "--no-fsync", "dl.bin",
                                            str(w / f"gn{i}.bin"))[0], env=env),
                     lambda i: self.remove(w / f"gn{i}.bin"), self.size, "B")
        # The same, for a file the server has not hashed: copied into its root behind its back,
        # and its change time moved after every round, so every round hashes it again.
        unhashed = w / "ftpd-nofsync" / "root" / "bench" / "dlx.bin"
        shutil.copy(big, unhashed)

        def rehash(i):
            self.remove(w / f"gx{i}.bin")
            os.chmod(unhashed, 0o644)

        self.measure(f"{self.label} download", "ftp get --no-fsync, server hashes (file not uploaded)",
                     lambda i: sh(*self.ftp(PORTS["ftpd-nofsync"], "get", "--no-fsync", "dlx.bin",
                                            str(w / f"gx{i}.bin"))[0], env=env),
                     rehash, self.size, "B")
        shutil.copy(big, w / "rsync" / "dl.bin")
        self.measure(f"{self.label} download", "rsync daemon",
                     lambda i: sh("rsync", f"rsync://127.0.0.1:{PORTS['rsyncd']}/bench/dl.bin",
                                  str(w / f"rg{i}.bin")),
                     lambda i: self.remove(w / f"rg{i}.bin"), self.size, "B")
        self.run_cases()

    def small_files(self):
        w, small, home = self.work, self.small, self.home
        files = sorted(str(p) for p in small.iterdir())
        n = len(files)
        connect = f"TCP:127.0.0.1:{PORTS['raw']},retry=100,interval=0.005"
        # Deleting many files slows the creation of the next ones for a minute on this ext4
        # (PERF.md): every round's files stay until all tools have run.
        leftovers = []
        later = lambda path: (lambda i: leftovers.append(path(i)))

        def tar_limit(i):
            out = w / f"tar{i}"
            out.mkdir()
            self.raw_tcp(out, f"SYSTEM:'tar -x -C {out}'", f"tar -c -C {small} . | socat -u -b {1 << 20} - {connect}")

        self.measure("1,000 × 4 KiB", "tar through one TCP stream (limit)", tar_limit,
                     later(lambda i: w / f"tar{i}"), n, "files")
        self.measure("1,000 × 4 KiB", "rsync daemon",
                     lambda i: sh("rsync", "-r", f"{small}/", f"rsync://127.0.0.1:{PORTS['rsyncd']}/bench/s{i}/"),
                     later(lambda i: w / "rsync" / f"s{i}"), n, "files")
        self.measure("1,000 × 4 KiB", "lftp mirror -R --parallel=4",
                     lambda i: sh("lftp", "-u", f"{BENCH_USER},{BENCH_PASSWORD}", "-e",
                                  f"mirror -R --parallel=4 {small} m{i}; bye",
                                  f"ftp://127.0.0.1:{PORTS['pure-ftpd']}", stdout=subprocess.DEVNULL),
                     later(lambda i: home / f"m{i}"), n, "files")
        self.measure("1,000 × 4 KiB", "scp -r (aes128-gcm)",
                     lambda i: sh("scp", "-r", *SSH_OPTIONS, "-P", str(PORTS["sshd"]), str(small),
                                  self.ssh_target(f"sc{i}")),
                     later(lambda i: home / f"sc{i}"), n, "files")
        for name, label in (("ftpd-fsync", "ftp put --to (plaintext, fsync on)"),
                            ("ftpd-nofsync", "ftp put --to (plaintext, fsync off)")):
            root = w / name / "root" / "bench"
            self.measure("1,000 × 4 KiB", label,
                         lambda i, name=name: sh(*self.ftp(PORTS[name], "put", *files, "--to", f"d{i}")[0],
                                                 env=self.ftp(PORTS[name])[1]),
                         later(lambda i, root=root: root / f"d{i}"), n, "files")
        self.run_cases()
        self.remove(*leftovers)

    def resume(self):
        """The big file with 90 % already on the server: time to finish, for each tool that resumes."""
        big, w, home = self.big, self.work, self.home
        have = self.size * 9 // 10

        def seed(path):
            with open(big, "rb") as src, open(path, "wb") as out:
                left = have
                while left:
                    chunk = src.read(min(left, 1 << 24))
                    out.write(chunk)
                    left -= len(chunk)
            if str(path).startswith(str(home)):
                shutil.chown(path, BENCH_USER, BENCH_USER)

        partials = w / "ftpd-nofsync" / "root" / ".ftpd-internal" / "partials"

        def interrupt_ftp_put(i):
            cmd, env = self.ftp(PORTS["ftpd-nofsync"], "put", str(big), f"z{i}.bin")
            interrupted_upload(cmd, env, partials, have)

        ftp_url = f"ftp://{BENCH_USER}:{BENCH_PASSWORD}@127.0.0.1:{PORTS['pure-ftpd']}"
        rounds = max(3, self.rounds // 2)

        for tool, prepare, run, clean in (
            ("full upload, for reference (ftp put, fsync off)",
             lambda i: None,
             lambda i: sh(*self.ftp(PORTS["ftpd-nofsync"], "put", str(big), f"z{i}.bin")[0],
                          env=self.ftp(PORTS["ftpd-nofsync"])[1]),
             lambda i: self.remove(w / "ftpd-nofsync" / "root" / "bench" / f"z{i}.bin")),
            ("ftp put, killed at 90 %, resumed (fsync off)",
             interrupt_ftp_put,
             lambda i: sh(*self.ftp(PORTS["ftpd-nofsync"], "put", str(big), f"z{i}.bin")[0],
                          env=self.ftp(PORTS["ftpd-nofsync"])[1]),
             lambda i: self.remove(w / "ftpd-nofsync" / "root" / "bench" / f"z{i}.bin")),
            ("rsync --append-verify",
             lambda i: seed(w / "rsync" / f"a{i}.bin"),
             lambda i: sh("rsync", "--append-verify", str(big), f"rsync://127.0.0.1:{PORTS['rsyncd']}/bench/a{i}.bin"),
             lambda i: self.remove(w / "rsync" / f"a{i}.bin")),
            ("curl -C - (pure-ftpd, checks nothing)",
             lambda i: seed(home / f"cc{i}.bin"),
             lambda i: sh("curl", "-s", "-C", "-", "-T", str(big), f"{ftp_url}/cc{i}.bin"),
             lambda i: self.remove(home / f"cc{i}.bin")),
            ("sftp reput",
             lambda i: seed(home / f"rp{i}.bin"),
             lambda i: sh("sftp", "-q", "-b", "-", *SSH_OPTIONS, "-P", str(PORTS["sshd"]),
                          f"{BENCH_USER}@127.0.0.1", input=f"reput {big} rp{i}.bin\n".encode(),
                          stdout=subprocess.DEVNULL),
             lambda i: self.remove(home / f"rp{i}.bin")),
        ):
            times = []
            for i in range(rounds + 1):
                # As for a first put: what the client's cache holds then is only what the
                # interrupted run itself left there.
                shutil.rmtree(self.client_cache, ignore_errors=True)
                # Seeding the 90 % is set-up, not part of the timing.
                elapsed = timed_once(prepare, run, clean, i)
                if i > 0:
                    times.append(elapsed)
            median = statistics.median(times)
            print(f"  {self.label + ', 90 % there':28} {tool:36} {median:7.2f} s", flush=True)
            self.results.append((f"{self.label}, resume from 90 %", tool, times, self.size - have, "B"))

    # ---------------------------------------------------------------- emulated link
    def link(self):
        """The big file over the emulated 1 Gbit/s link, or the reason it cannot run here."""
        reason = NetLink.unavailable()
        if reason:
            print(f"  skipped: {reason}", flush=True)
            return
        try:
            # Standard 1500-byte frames, every tool; then jumbo frames, a few rows, to show
            # what the frame size, not the tools, leaves of the line rate.
            for mtu, full in ((1500, True), (9000, False)):
                with NetLink(mtu) as link:
                    print(f"  {link.HOST_IF} {link.HOST} <-> {link.PEER_IF} {link.PEER} (netns {link.NAME}),"
                          f" MTU {mtu}, {' '.join(link.SHAPER)} each way", flush=True)
                    work = self.start_link_servers(link)
                    self.check_link(link)
                    self.link_transfers(link, work, full)
        except LinkUnavailable as e:
            print(f"  skipped: no emulated link here: {e}", flush=True)

    def start_link_servers(self, link):
        """ftpd (both configs) and an rsync daemon inside the namespace, state in their own folder."""
        work = self.work / "link"
        if work.exists():
            shutil.rmtree(work)
        (work / "rsync").mkdir(parents=True)
        self.start_rsyncd(work, link.PEER, link.start)
        self.start_ftpds(work, link.PEER, link.start)
        for name in ("rsyncd", *FTPDS):
            wait_port(PORTS[name], host=link.PEER)
        return work

    def check_link(self, link):
        """Raw TCP, memory to memory: one stream should get the goodput of Gigabit Ethernet."""
        amount = 256 << 20
        listener = link.start(["socat", "-u", "-b", str(1 << 20),
                               f"TCP-LISTEN:{PORTS['raw']},reuseaddr,bind={link.PEER}", "OPEN:/dev/null"])
        start = time.perf_counter()
        sh("bash", "-c", f"head -c {amount} /dev/zero | socat -u -b {1 << 20} - "
                         f"TCP:{link.PEER}:{PORTS['raw']},retry=100,interval=0.005")
        listener.wait()
        rate = amount / (time.perf_counter() - start)
        print(f"  link check: raw TCP, memory to memory, {rate * 8 / 1e6:.0f} Mbit/s ({rate / 1e6:.1f} MB/s;"
              f" Gigabit Ethernet carries at most {link.GOODPUT * 8 / 1e6:.0f})", flush=True)
        if rate < 0.95 * link.GOODPUT:
            print("  WARNING: the link is slower than it should be; the figures below understate"
                  " every tool", flush=True)

    def link_transfers(self, link, work, full):
        """Uploads from the host into the namespace (and downloads back) at the link rate: every
        tool when `full`, else raw TCP and the default `ftp put` and `ftp get`."""
        big, rounds = self.big, min(self.rounds, 3)
        frames = "" if link.mtu == 1500 else f", {link.mtu}-byte frames"
        workload = f"{self.label} over 1 Gbit/s link{frames}"
        rsync_url = f"rsync://{link.PEER}:{PORTS['rsyncd']}/bench"

        def measure(tool, run, clean):
            self.measure(workload, tool, run, clean, self.size, "B", rounds)

        def ftp(name, *args):
            cmd, env = self.ftp(PORTS[name], *args, host=link.PEER, work=work)
            sh(*cmd, env=env)

        limit = self.size / link.RATE
        print(f"  {workload:28} {link.LIMIT:36} {limit:7.2f} s  {link.RATE / 1e6:,.0f} MB/s")
        self.results.append((workload, link.LIMIT, [limit], self.size, "B"))
        dest = lambda i: work / f"raw{i}.bin"
        connect = f"TCP:{link.PEER}:{PORTS['raw']},retry=100,interval=0.005"
        measure("raw TCP into a new file (goodput)",
                lambda i: self.raw_tcp(dest(i), f"CREATE:{dest(i)}",
                                       f"socat -u -b {1 << 20} FILE:{big} {connect}",
                                       bind=link.PEER, start=link.start),
                lambda i: self.remove(dest(i)))
        if full:
            measure("rsync daemon", lambda i: sh("rsync", str(big), f"{rsync_url}/r{i}.bin"),
                    lambda i: self.remove(work / "rsync" / f"r{i}.bin"))
        for name, label in FTP_PUTS if full else FTP_PUTS[2:3]:
            root = work / name / "root" / "bench"
            measure(label, lambda i, name=name: ftp(name, "put", str(big), f"p{i}.bin"),
                    lambda i, root=root: self.remove(root / f"p{i}.bin"))
        # Downloads: the file goes to the server once; each round gets it to a new local name.
        ftp("ftpd-nofsync", "put", str(big), "dl.bin")
        measure("ftp get (download, client fsyncs)",
                lambda i: ftp("ftpd-nofsync", "get", "dl.bin", str(self.work / f"lg{i}.bin")),
                lambda i: self.remove(self.work / f"lg{i}.bin"))
        if full:
            shutil.copy(big, work / "rsync" / "dl.bin")
            measure("rsync daemon (download)",
                    lambda i: sh("rsync", f"{rsync_url}/dl.bin", str(self.work / f"lr{i}.bin")),
                    lambda i: self.remove(self.work / f"lr{i}.bin"))
        self.run_cases()

    # ---------------------------------------------------------------- report
    def report(self):
        if not self.results:
            print("nothing was measured: no results written")
            return
        out_dir = pathlib.Path(self.args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        limits = {}
        for workload, tool, times, amount, unit in self.results:
            # A resume is compared with a full upload of the same file.
            if "(limit)" in tool or tool.startswith("full upload"):
                limits[workload] = statistics.median(times)
        rows = []
        for workload, tool, times, amount, unit in self.results:
            median = statistics.median(times)
            limit = limits.get(workload) or limits.get(workload.replace("download", "upload"))
            rate = amount / median
            if "resume" in workload:
                rate = self.size / median  # as if the whole file had moved
            client_cpu, rest_cpu = self.cpu.get((workload, tool), ([], []))
            per_gib = (1 << 30) / amount if unit == "B" else 1.0
            hashed = unit == "B" and self.floor and workload in (f"{self.label} upload",
                                                                  f"{self.label} download")
            rows.append({
                "workload": workload, "tool": tool, "median_s": f"{median:.3f}",
                "min_s": f"{min(times):.3f}", "max_s": f"{max(times):.3f}",
                "rate": f"{rate / 1e6:.0f} MB/s" if unit == "B" else f"{rate:.0f} files/s",
                "x_limit": f"{median / limit:.2f}" if limit else "",
                "x_hash_floor": f"{median / self.floor:.2f}" if hashed else "",
                "client_cpu_s": f"{statistics.median(client_cpu) * per_gib:.2f}" if client_cpu else "",
                "rest_cpu_s": f"{statistics.median(rest_cpu) * per_gib:.2f}" if rest_cpu else "",
                "rounds": 0 if tool == NetLink.LIMIT else len(times),
            })
        with open(out_dir / "results.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            writer.writeheader()
            writer.writerows(rows)
        lines = [f"Machine: {self.state}; the host kept the CPUs from the timed runs for"
                 f" {self.steal:.1f} s in all (steal).", "",
                 "| workload | tool | median s | min-max s | rate | × limit (time) | × hash floor |"
                 " CPU s client | CPU s rest |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            spread = f"{r['min_s']}-{r['max_s']}" if r["rounds"] > 1 else ""
            lines.append(f"| {r['workload']} | {r['tool']} | {r['median_s']} | {spread} | {r['rate']} |"
                         f" {r['x_limit']} | {r['x_hash_floor']} | {r['client_cpu_s']} | {r['rest_cpu_s']} |")
        if self.tree_memory:
            lines.append("")
            lines.append("| 100,000 files of 256 B in 1,000 folders | peak RSS |")
            lines.append("|---|---|")
            for what, kib in self.tree_memory:
                lines.append(f"| {what} | {kib / 1024:.1f} MiB |" if kib else f"| {what} | ? |")
        for extra in self.tables:
            lines.append("")
            lines.extend(extra)
        if self.memory:
            lines.append("")
            lines.append("| server | idle RSS |")
            lines.append("|---|---|")
            for name, kib in self.memory.items():
                lines.append(f"| {name} | {kib / 1024:.1f} MiB |" if kib else f"| {name} | ? |")
        table = "\n".join(lines)
        (out_dir / "results.md").write_text(table + "\n")
        print()
        print(table)
        self.chart(out_dir, rows)

    def chart(self, out_dir, rows):
        if not shutil.which("gnuplot"):
            print("gnuplot not found: no chart")
            return
        bars = [r for r in rows if r["workload"] in (f"{self.label} upload", f"{self.label} download")]
        if not bars:
            print("no loopback transfers measured: no chart")
            return
        data = out_dir / "upload.dat"
        with open(data, "w") as f:
            for r in bars:
                label = (r["tool"] if r["workload"] == f"{self.label} upload" else "get: " + r["tool"])
                f.write(f"\"{label}\" {float(r['rate'].split()[0])}\n")
        script = f"""
set terminal pngcairo size 1200,650 font ',10'
set rmargin 24
set output '{out_dir / "upload.png"}'
set title '{self.label} over loopback, median of {self.rounds} rounds (MB/s, higher is better)'
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set xtics rotate by -35 left
set ylabel 'MB/s'
set yrange [0:*]
set grid ytics
set key off
plot '{data}' using 2:xtic(1) lc rgb '#3572a5'
"""
        subprocess.run(["gnuplot"], input=script.encode(), check=False)
        print(f"chart: {out_dir / 'upload.png'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--work", default="/var/tmp/ftpd-bench")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--only", choices=["big", "small", "resume", "tree", "link", "s3"],
                        action="append",
                        help="run only these workloads (repeatable); tree: whole folders (bench/tree.py), "
                             "at most 3 rounds; link: the big file over an emulated 1 Gbit/s link, "
                             "at most 3 rounds; s3: the big file through ftpd's S3 backend and rclone to a "
                             "local radosgw, at most 3 rounds")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py runs peers as system services and needs root")
    bench = Bench(args)
    try:
        bench.setup()
        parts = args.only or ["big", "small", "resume", "tree", "link", "s3"]
        if {"big", "small", "resume", "tree"} & set(parts):
            bench.start_servers()
        if "big" in parts:
            print(f"{bench.label} transfers:", flush=True)
            bench.big_upload()
        if "small" in parts:
            print("1,000 small files:", flush=True)
            bench.small_files()
        if "resume" in parts:
            print("resume from 90 %:", flush=True)
            bench.resume()
        if "tree" in parts:
            print("whole folders:", flush=True)
            trees = TreeWorkload(bench, sh, PORTS, SSH_OPTIONS, BENCH_USER, BENCH_PASSWORD,
                                 min(args.rounds, 3))
            trees.run()
            trees.memory()
        if "link" in parts:
            print(f"{bench.label} over an emulated 1 Gbit/s link:", flush=True)
            bench.link()
        if "s3" in parts:
            print(f"{bench.label} through S3 (radosgw on 127.0.0.1):", flush=True)
            S3Workload(bench, sh, PORTS, template, min(args.rounds, 3)).run()
        bench.report()
    finally:
        bench.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
