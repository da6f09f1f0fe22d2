"""The folder workload of bench.py: whole trees moved by each tool, side by side.

The tree is issue 16's: 10,000 files of 4 KiB in 100 folders plus 10 files of 100 MiB (about
1.04 GB). Four tables, each run interleaved like every workload (bench.Bench.run_cases):
- upload into a fresh destination: a tar stream through one TCP connection (the limit), the
  rsync daemon (`rsync -a`, and `rsync -a --fsync`, durable as ftp is by default), `scp -r`, `lftp mirror -R` (pure-ftpd), `ftp put -r`;
- download into a fresh local folder: the same tools the other way, `ftp get -r`;
- a re-run with nothing changed (a no-op): `rsync -a` and `ftp put -r` / `ftp get -r` again;
- a sync after 1 % of the files changed (100 small files rewritten, same size, new time):
  `rsync -a` against `ftp sync`; each tool has its own copy of the tree, changed between
  rounds (outside the timing).
Then the memory of a tree of 100,000 small files: the client's peak RSS (from wait4) for
`ftp put -r` and `ftp get -r`, and a fresh ftpd's peak RSS (VmHWM) after serving both.

Deleting many files makes creating the next ones slow for a while on this machine's ext4
(PERF.md), so the small files of every round stay until the workload ends; the big ones go at
once (disk space).
"""

import os
import pathlib
import shutil
import subprocess
import time

FOLDERS = 100
PER_FOLDER = 100
SMALL = 4096
BIG_FILES = 10
BIG = 100 << 20
MEMORY_FILES = 100_000
MEMORY_FOLDERS = 1000


def make_tree(root, folders, per_folder, small, big_files, big):
    """Writes the tree: `folders` folders of `per_folder` random files of `small` bytes, and
    `big_files` random files of `big` bytes at the top."""
    root.mkdir(parents=True)
    for d in range(folders):
        folder = root / f"d{d:03}"
        folder.mkdir()
        for f in range(per_folder):
            (folder / f"f{f:04}.bin").write_bytes(os.urandom(small))
    for b in range(big_files):
        with open(root / f"big{b:02}.bin", "wb") as out:
            left = big
            while left:
                n = min(left, 1 << 24)
                out.write(os.urandom(n))
                left -= n


def tree_files(root):
    """(relative path, size) of every file under `root`, sorted."""
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


def change_one_percent(root, round_):
    """Rewrites 100 of the small files (the same size, new content, a new modification time)."""
    for d in range(0, FOLDERS, 1):
        path = root / f"d{d:03}" / f"f{round_ % PER_FOLDER:04}.bin"
        path.write_bytes(os.urandom(SMALL))
        stamp = time.time() + round_
        os.utime(path, (stamp, stamp))


def peak_rss_kib(cmd, env):
    """Runs `cmd` and returns its peak resident memory in KiB (ru_maxrss of wait4)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
    return usage.ru_maxrss


def vm_hwm_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


class TreeWorkload:
    """Queues and runs the tree cases on a started bench.Bench (servers up, peers installed)."""

    def __init__(self, bench, sh, ports, ssh_options, user, password, rounds):
        self.b = bench
        self.sh = sh
        self.ports = ports
        self.ssh = ssh_options
        self.user = user
        self.password = password
        self.rounds = rounds
        self.tree = bench.work / "tree"
        self.count = FOLDERS * PER_FOLDER + BIG_FILES
        self.leftovers = []

    def ftp(self, name, *args):
        cmd, env = self.b.ftp(self.ports[name], *args)
        self.sh(*cmd, env=env, stdout=subprocess.DEVNULL)

    def later(self, path, check=None):
        """A clean-up that removes the big files now and keeps the small ones for the end; with
        `check`, it first makes sure the last round's copy is the whole tree."""
        def clean(i):
            root = path(i)
            if check and i == self.rounds:
                self.check_copy(root, check)
            for big in root.glob("big*.bin"):
                big.unlink()
            self.leftovers.append(root)
        return clean

    def check_copy(self, copy, what):
        """Stops the bench if a tool's copy is not the whole tree (a broken row measures nothing)."""
        if tree_files(copy) != self.expected:
            raise RuntimeError(f"{what}: the copy in {copy} is not the whole tree")

    def run(self):
        b, w = self.b, self.b.work
        print(f"writing the tree ({FOLDERS * PER_FOLDER:,} × 4 KiB in {FOLDERS} folders + "
              f"{BIG_FILES} × 100 MiB) ...", flush=True)
        make_tree(self.tree, FOLDERS, PER_FOLDER, SMALL, BIG_FILES, BIG)
        # The bench user's home outlives the bench's folder: what an earlier run left goes.
        b.remove(b.home / "tree", *b.home.glob("tsc*"), *b.home.glob("tm*"))
        self.sh("chmod", "-R", "a+rX", str(self.tree))
        self.expected = tree_files(self.tree)
        amount = self.count
        upload = f"tree of {self.count:,} files upload"
        download = f"tree of {self.count:,} files download"
        noop = f"tree of {self.count:,} files, re-run, nothing changed"
        sync = f"tree of {self.count:,} files, sync after 1 % changed"
        rsync_url = f"rsync://127.0.0.1:{self.ports['rsyncd']}/bench"
        pure_ftpd = f"ftp://127.0.0.1:{self.ports['pure-ftpd']}"
        lftp_login = ["lftp", "-u", f"{self.user},{self.password}", "-e"]
        connect = f"TCP:127.0.0.1:{self.ports['raw']},retry=100,interval=0.005"
        home = b.home
        tls_root = w / "ftpd-tls-fsync" / "root" / "bench"

        # ---- upload into a fresh destination
        def tar_limit(i):
            out = w / f"tar-tree{i}"
            out.mkdir()
            b.raw_tcp(out, f"SYSTEM:'tar -x -C {out}'",
                      f"tar -c -C {self.tree} . | socat -u -b {1 << 20} - {connect}")

        b.measure(upload, "tar through one TCP stream (limit)", tar_limit,
                  self.later(lambda i: w / f"tar-tree{i}"), amount, "files", self.rounds)
        b.measure(upload, "rsync -a (daemon)",
                  lambda i: self.sh("rsync", "-a", f"{self.tree}/", f"{rsync_url}/tu{i}/"),
                  self.later(lambda i: w / "rsync" / f"tu{i}"), amount, "files", self.rounds)
        # rsync does not sync what it writes unless asked; ftp does by default.
        b.measure(upload, "rsync -a --fsync (daemon, durable like ftp)",
                  lambda i: self.sh("rsync", "-a", "--fsync", f"{self.tree}/", f"{rsync_url}/tuf{i}/"),
                  self.later(lambda i: w / "rsync" / f"tuf{i}"), amount, "files", self.rounds)
        b.measure(upload, "scp -r (aes128-gcm)",
                  lambda i: self.sh("scp", "-r", *self.ssh, "-P", str(self.ports["sshd"]),
                                    str(self.tree), b.ssh_target(f"tsc{i}")),
                  self.later(lambda i: home / f"tsc{i}"), amount, "files", self.rounds)
        b.measure(upload, "lftp mirror -R --parallel=4 (pure-ftpd)",
                  lambda i: self.sh(*lftp_login, f"mirror -R --parallel=4 {self.tree} tm{i}; bye",
                                    pure_ftpd, stdout=subprocess.DEVNULL),
                  self.later(lambda i: home / f"tm{i}"), amount, "files", self.rounds)
        for name, label in (("ftpd-tls-fsync", "ftp put -r (TLS, fsync on, default)"),
                            ("ftpd-fsync", "ftp put -r (plaintext, fsync on)")):
            root = w / name / "root" / "bench"
            b.measure(upload, label,
                      lambda i, name=name: self.ftp(name, "put", "-r", str(self.tree), f"tp{i}"),
                      self.later(lambda i, root=root: root / f"tp{i}", label), amount, "files",
                      self.rounds)
        b.run_cases()

        # ---- download into a fresh local folder
        shutil.copytree(self.tree, w / "rsync" / "tree")
        shutil.copytree(self.tree, home / "tree")
        self.sh("chown", "-R", f"{self.user}:{self.user}", str(home / "tree"))
        self.ftp("ftpd-tls-fsync", "put", "-r", str(self.tree), "tree")
        b.measure(download, "rsync -a (daemon)",
                  lambda i: self.sh("rsync", "-a", f"{rsync_url}/tree/", str(w / f"rd{i}")),
                  self.later(lambda i: w / f"rd{i}"), amount, "files", self.rounds)
        b.measure(download, "rsync -a --fsync (daemon, durable like ftp)",
                  lambda i: self.sh("rsync", "-a", "--fsync", f"{rsync_url}/tree/", str(w / f"rdf{i}")),
                  self.later(lambda i: w / f"rdf{i}"), amount, "files", self.rounds)
        b.measure(download, "scp -r (aes128-gcm)",
                  lambda i: self.sh("scp", "-r", *self.ssh, "-P", str(self.ports["sshd"]),
                                    b.ssh_target("tree"), str(w / f"sd{i}")),
                  self.later(lambda i: w / f"sd{i}"), amount, "files", self.rounds)
        b.measure(download, "lftp mirror --parallel=4 (pure-ftpd)",
                  lambda i: self.sh(*lftp_login, f"mirror --parallel=4 tree {w / f'ld{i}'}; bye",
                                    pure_ftpd, stdout=subprocess.DEVNULL),
                  self.later(lambda i: w / f"ld{i}"), amount, "files", self.rounds)
        b.measure(download, "ftp get -r (TLS, client fsyncs, default)",
                  lambda i: self.ftp("ftpd-tls-fsync", "get", "-r", "tree", str(w / f"gd{i}")),
                  self.later(lambda i: w / f"gd{i}", "ftp get -r"), amount, "files", self.rounds)
        b.run_cases()

        # ---- a re-run with nothing changed
        self.sh("rsync", "-a", f"{self.tree}/", f"{rsync_url}/noop/")
        self.ftp("ftpd-tls-fsync", "put", "-r", str(self.tree), "noop")
        self.ftp("ftpd-tls-fsync", "get", "-r", "tree", str(w / "noop-local"))
        keep = lambda i: None
        b.measure(noop, "rsync -a (daemon), upload",
                  lambda i: self.sh("rsync", "-a", f"{self.tree}/", f"{rsync_url}/noop/"),
                  keep, amount, "files", self.rounds)
        b.measure(noop, "rsync -a (daemon), download",
                  lambda i: self.sh("rsync", "-a", f"{rsync_url}/tree/", str(w / "rsync-noop-local")),
                  keep, amount, "files", self.rounds)
        b.measure(noop, "ftp put -r (TLS)",
                  lambda i: self.ftp("ftpd-tls-fsync", "put", "-r", str(self.tree), "noop"),
                  keep, amount, "files", self.rounds)
        b.measure(noop, "ftp get -r (TLS)",
                  lambda i: self.ftp("ftpd-tls-fsync", "get", "-r", "tree", str(w / "noop-local")),
                  keep, amount, "files", self.rounds)
        b.run_cases()

        # ---- a sync after 1 % changed: each tool its own source copy, changed after each round
        for copy in ("sync-rsync", "sync-ftp"):
            shutil.copytree(self.tree, w / copy)
        self.sh("rsync", "-a", f"{w / 'sync-rsync'}/", f"{rsync_url}/synced/")
        self.ftp("ftpd-tls-fsync", "sync", str(w / "sync-ftp"), ":synced")
        b.measure(sync, "rsync -a (daemon)",
                  lambda i: self.sh("rsync", "-a", f"{w / 'sync-rsync'}/", f"{rsync_url}/synced/"),
                  lambda i: change_one_percent(w / "sync-rsync", i), amount, "files", self.rounds)
        b.measure(sync, "ftp sync (TLS, fsync on)",
                  lambda i: self.ftp("ftpd-tls-fsync", "sync", str(w / "sync-ftp"), ":synced"),
                  lambda i: change_one_percent(w / "sync-ftp", i), amount, "files", self.rounds)
        b.run_cases()
        self.check_copy(tls_root / "synced", "ftp sync")
        b.remove(*self.leftovers)
        self.leftovers = []

    def memory(self):
        """Peak memory of the client and of a fresh server for a tree of 100,000 small files."""
        b, w = self.b, self.b.work
        many = w / "tree-100k"
        per = MEMORY_FILES // MEMORY_FOLDERS
        print(f"writing {MEMORY_FILES:,} small files in {MEMORY_FOLDERS} folders ...", flush=True)
        make_tree(many, MEMORY_FOLDERS, per, 256, 0, 0)
        server = b.start_fresh_ftpd("ftpd-mem")
        cmd, env = b.ftp(self.ports["ftpd-mem"], "put", "-r", str(many), "many")
        put_kib = peak_rss_kib(cmd, env)
        cmd, env = b.ftp(self.ports["ftpd-mem"], "get", "-r", "many", str(w / "many-local"))
        get_kib = peak_rss_kib(cmd, env)
        server_kib = vm_hwm_kib(server.pid)
        rows = (("ftp put -r, client peak RSS", put_kib), ("ftp get -r, client peak RSS", get_kib),
                ("ftpd serving both, peak RSS (VmHWM)", server_kib))
        for label, kib in rows:
            print(f"  {'100,000 files':28} {label:36} {kib / 1024:7.1f} MiB", flush=True)
            b.tree_memory.append((label, kib))
        b.remove(many, w / "many-local")
