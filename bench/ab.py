#!/usr/bin/env python3
"""A/B of two builds of ftpd and ftp, interleaved in one run: does a change keep the speed and
memory of the build before it? Each round runs every case once on each build, the builds'
order swapped every round, so both see the same minutes of the machine. Cases: a 1 GiB put
(TLS, fsync on: the defaults), a 1 GiB get (--no-fsync), 1,000 files of 4 KiB put --to (TLS,
fsync on), and the last 10 % of a 1 GiB put killed at 90 % (fsync off). Then memory: each
server's idle RSS, and its peak RSS (VmHWM) after 200 concurrent uploads of 4 MiB over TLS.
Prints a table of medians, B / A, and writes it to --out.

    bash bench/run.sh --ab /path/to/base/release     # A = that build, B = this checkout's
    python3 bench/ab.py --a DIR --b DIR [--rounds 5] [--size-mib 1024]
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import time

from bench import interrupted_upload, remove, rss_kib, sh, timed_once, wait_port

REPO = pathlib.Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
PORTS = {"a": {"tls": 22041, "plain": 22042, "mem": 22043},
         "b": {"tls": 22051, "plain": 22052, "mem": 22053}}
MIB = 1 << 20


def status_kib(pid, field):
    """A memory figure (VmHWM, RssAnon, ...) of `pid` from /proc, in KiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class Build:
    """One build's binaries, its servers and its client command line."""

    def __init__(self, name, bins, work):
        self.name, self.bins, self.work = name, pathlib.Path(bins), work / name
        self.work.mkdir(parents=True)
        self.procs, self.fingerprints = {}, {}
        sh(str(self.bins / "ftpd"), "--users", str(self.work / "users.toml"), "user", "add",
           "bench", "--password-stdin", input=f"{PASSWORD}\n".encode(), stdout=subprocess.DEVNULL)

    def start(self, kind, fsync, tls):
        """Starts the server `kind` (fsync and TLS as given) with a root of its own."""
        port = PORTS[self.name][kind]
        folder = self.work / kind
        folder.mkdir()
        config = folder / "ftpd.toml"
        text = (f'listen = "127.0.0.1:{port}"\nroot = "{folder / "root"}"\n'
                f'users = "{self.work / "users.toml"}"\nsecret_file = "{self.work / "ftpd.key"}"\n'
                f"fsync = {'true' if fsync else 'false'}\n")
        if not tls:
            text += "insecure_plaintext = true\n"
        config.write_text(text)
        if tls:
            printed = subprocess.run([str(self.bins / "ftpd"), "--config", str(config), "fingerprint"],
                                     cwd=folder, check=True, capture_output=True, text=True)
            self.fingerprints[kind] = printed.stdout.strip()
        self.procs[kind] = subprocess.Popen([str(self.bins / "ftpd"), "--config", str(config)],
                                            cwd=folder, stdout=subprocess.DEVNULL,
                                            stderr=open(folder / "ftpd.log", "w"))
        wait_port(port)

    def root(self, kind):
        return self.work / kind / "root" / "bench"

    def ftp(self, kind, *args):
        """The ftp command line and environment for the server `kind`."""
        env = dict(os.environ, FTP_PASSWORD=PASSWORD, XDG_CACHE_HOME=str(self.work / "cache"))
        fingerprint = self.fingerprints.get(kind)
        transport = ["--fingerprint", fingerprint] if fingerprint else ["--insecure-plaintext"]
        cmd = [str(self.bins / "ftp"), "--server", f"127.0.0.1:{PORTS[self.name][kind]}",
               "--secret-file", str(self.work / "ftpd.key"), *transport, "--user", "bench",
               "--quiet", *args]
        return cmd, env

    def run(self, kind, *args):
        cmd, env = self.ftp(kind, *args)
        sh(*cmd, env=env)

    def stop(self):
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def interrupted_put(build, big, have, name):
    """An upload to the fsync-off server, killed once `have` bytes are on the server."""
    partials = build.work / "plain" / "root" / ".ftpd-internal" / "partials"
    cmd, env = build.ftp("plain", "put", str(big), name)
    interrupted_upload(cmd, env, partials, have)


def cases(build, big, small_files, have, label):
    """Each case: (label, set-up of round i (untimed), timed run of round i, clean-up)."""
    files = sorted(str(p) for p in small_files.iterdir())
    return [
        (f"{label} put (TLS, fsync on)", lambda i: None,
         lambda i: build.run("tls", "put", str(big), f"p{i}.bin"),
         lambda i: remove(build.root("tls") / f"p{i}.bin")),
        (f"{label} get --no-fsync", lambda i: None,
         lambda i: build.run("plain", "get", "--no-fsync", "dl.bin", str(build.work / f"g{i}.bin")),
         lambda i: remove(build.work / f"g{i}.bin")),
        ("1,000 x 4 KiB put --to (TLS, fsync on)", lambda i: None,
         lambda i: build.run("tls", "put", *files, "--to", f"d{i}"),
         lambda i: None),  # kept until the end: deleting many files slows the next creations
        ("resume the last 10 % (fsync off)",
         lambda i: interrupted_put(build, big, have, f"z{i}.bin"),
         lambda i: build.run("plain", "put", str(big), f"z{i}.bin"),
         lambda i: remove(build.root("plain") / f"z{i}.bin")),
    ]


def concurrent_uploads(build, sources, count):
    """`count` concurrent puts of the files in `sources` to a fresh TLS server; its VmHWM."""
    build.start("mem", fsync=True, tls=True)
    clients = []
    for i, source in enumerate(sorted(sources.iterdir())[:count]):
        cmd, env = build.ftp("mem", "put", str(source), f"many/f{i:03}.bin")
        clients.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
    failed = sum(1 for c in clients if c.wait() != 0)
    if failed:
        raise RuntimeError(f"{failed} of {count} concurrent uploads failed ({build.name})")
    return status_kib(build.procs["mem"].pid, "VmHWM")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="folder of build A's ftpd and ftp (the base)")
    parser.add_argument("--b", default=str(REPO / "target" / "release"), help="build B's (this checkout's)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--work", default="/var/tmp/ftpd-ab")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ab.md"))
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    big = work / "big.bin"
    with open(big, "wb") as out:
        for _ in range(args.size_mib // 16):
            out.write(os.urandom(16 * MIB))
    small_files = work / "small"
    small_files.mkdir()
    for i in range(1000):
        (small_files / f"f{i:04}.bin").write_bytes(os.urandom(4096))
    sources = work / "sources"
    sources.mkdir()
    for i in range(200):
        (sources / f"s{i:03}.bin").write_bytes(os.urandom(4 * MIB))
    have = (args.size_mib << 20) * 9 // 10

    builds = [Build("a", args.a, work), Build("b", args.b, work)]
    times = {}
    idle = {}
    try:
        for build in builds:
            build.start("tls", fsync=True, tls=True)
            build.start("plain", fsync=False, tls=False)
        time.sleep(0.2)
        for build in builds:
            pid = build.procs["tls"].pid
            idle[build.name] = (rss_kib(pid), status_kib(pid, "RssAnon"), status_kib(pid, "RssFile"))
            build.run("plain", "put", str(big), "dl.bin")
        label = "1 GiB" if args.size_mib == 1024 else f"{args.size_mib} MiB"
        plans = {build.name: cases(build, big, small_files, have, label) for build in builds}
        for i in range(args.rounds + 1):  # round 0 warms up
            order = builds if i % 2 == 0 else builds[::-1]
            for case in range(len(plans["a"])):
                for build in order:
                    label, prepare, run, clean = plans[build.name][case]
                    shutil.rmtree(build.work / "cache", ignore_errors=True)
                    elapsed = timed_once(prepare, run, clean, i)
                    if i > 0:
                        times.setdefault((label, build.name), []).append(elapsed)
            print(f"round {i} done", flush=True)
        peaks = {build.name: concurrent_uploads(build, sources, 200) for build in builds}
    finally:
        for build in builds:
            build.stop()

    lines = [f"A/B, {args.rounds} interleaved rounds; A = {args.a}, B = {args.b}", "",
             "| case | A median (range) | B median (range) | B / A |", "|---|---|---|---|"]
    for label, *_ in plans["a"]:
        a, b = times[(label, "a")], times[(label, "b")]
        ma, mb = statistics.median(a), statistics.median(b)
        lines.append(f"| {label} | {ma:.2f} s ({min(a):.2f}-{max(a):.2f}) | "
                     f"{mb:.2f} s ({min(b):.2f}-{max(b):.2f}) | {mb / ma:.3f} |")
    # An idle server's RSS is mostly its binary's pages (RssFile), which depend on how much of
    # the file the page cache holds: copy both builds' binaries fresh before comparing.
    for what, a, b in (("idle RSS, TLS server", idle["a"][0], idle["b"][0]),
                       ("of which heap and stacks (RssAnon)", idle["a"][1], idle["b"][1]),
                       ("of which the binary and libraries (RssFile)", idle["a"][2], idle["b"][2]),
                       ("peak RSS after 200 concurrent 4 MiB uploads (TLS)", peaks["a"], peaks["b"])):
        lines.append(f"| {what} | {a / 1024:.1f} MiB | {b / 1024:.1f} MiB | {b / a:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
