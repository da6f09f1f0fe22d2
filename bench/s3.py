"""The S3 workload of bench.py: the big file through ftpd's S3 backend, side by side with rclone.

A single-node Ceph radosgw (tests/radosgw/radosgw.sh, the one the tests start; its OSD keeps
objects in RAM, so the disk is not what is measured) serves one bucket on 127.0.0.1. Three
cases per direction, interleaved like every workload (bench.Bench.run_cases):
- `ftp put` / `ftp get --no-fsync` through an ftpd whose homes are in the bucket (TLS, the
  default transport; the server streams the upload into a multipart upload, 8 MiB parts);
- `rclone copyto` straight to the same radosgw (its defaults: 5 MiB parts, 4 at once, an MD5
  of the file first; rclone does not fsync what it downloads, hence `--no-fsync` above);
- `ftp put` / `ftp get --no-fsync` through an ftpd on the local disk (TLS, fsync off: the
  closest local analogue of a store in RAM).
"× limit" is against rclone. The peak memory (VmHWM) of the S3-backed ftpd is taken over the
uploads and again over the downloads (reset in between through /proc/PID/clear_refs): a part
in flight, not the file. Deleted objects are reclaimed (radosgw-admin gc) between rounds,
outside the timing, so the in-RAM store does not fill.
"""

import os
import pathlib
import subprocess

from tree import vm_hwm_kib

RADOSGW_SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "radosgw" / "radosgw.sh"
BUCKET = "ftpd-bench"
# The OSD's store in RAM: the rounds' objects live there until the gc between rounds.
MEMSTORE_BYTES = 6 << 30


def reset_peak(pid):
    """Makes the kernel start the process's peak RSS (VmHWM) afresh from its current RSS."""
    pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")


class S3Workload:
    def __init__(self, bench, sh, ports, template, rounds):
        self.bench = bench
        self.sh = sh
        self.ports = ports
        self.template = template
        self.rounds = rounds
        self.work = bench.work
        self.rgw = None
        self.settings = {}

    # ---------------------------------------------------------------- set-up
    def start_radosgw(self):
        """Starts the cluster and waits for its ready line; it stops when our end of its stdin
        closes (bench.stop terminates it with the other servers)."""
        env = dict(os.environ, RADOSGW_MEMSTORE_BYTES=str(MEMSTORE_BYTES))
        self.cluster = self.work / "radosgw"
        print("starting a single-node Ceph radosgw ...", flush=True)
        self.rgw = self.bench.spawn(
            ["bash", str(RADOSGW_SCRIPT), str(self.cluster), str(self.ports["radosgw-mon"]),
             str(self.ports["radosgw"])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        line = self.rgw.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError("radosgw did not start (its script printed the reason above)")
        self.settings = dict(field.split("=", 1) for field in line.split()[1:])

    def rclone_env(self):
        s = self.settings
        # rclone 1.60 refuses a CA bundle it cannot read; this endpoint is plain http.
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(RCLONE_CONFIG_RGW_TYPE="s3", RCLONE_CONFIG_RGW_PROVIDER="Ceph",
                   RCLONE_CONFIG_RGW_ENDPOINT=s["endpoint"], RCLONE_CONFIG_RGW_REGION=s["region"],
                   RCLONE_CONFIG_RGW_ACCESS_KEY_ID=s["access_key"],
                   RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY=s["secret_key"])
        return env

    def rclone(self, *args):
        self.sh("rclone", "--config", "/dev/null", *args, env=self.rclone_env())

    def start_ftpd_s3(self):
        name = "ftpd-s3"
        text = self.template("ftpd-s3.toml", self.work, self.ports[name])
        text = text.replace("@ENDPOINT@", self.settings["endpoint"]).replace("@BUCKET@", BUCKET)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.settings["access_key"],
                   AWS_SECRET_ACCESS_KEY=self.settings["secret_key"])
        return self.bench.start_ftpd_with(name, text, env=env, timeout=60)

    def gc(self):
        """Frees what deleted objects held in the OSD's RAM (radosgw defers it by hours)."""
        self.sh("radosgw-admin", "-c", str(self.cluster / "ceph.conf"), "gc", "process", "--include-all", stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)

    # ---------------------------------------------------------------- cases
    def run(self):
        bench, big, label = self.bench, self.bench.big, self.bench.label
        self.start_radosgw()
        self.rclone("mkdir", f"rgw:{BUCKET}")
        bench.add_ftpd_user(self.work)
        s3 = self.start_ftpd_s3()
        local = bench.start_fresh_ftpd("ftpd-local")
        local_root = self.work / "ftpd-local" / "root" / "bench"

        def ftp(name, *args):
            cmd, env = bench.ftp(self.ports[name], *args)
            self.sh(*cmd, env=env)

        def ftp_rm(name, path):
            ftp(name, "rm", path)
            self.gc()

        def rclone_rm(path):
            self.rclone("deletefile", f"rgw:{BUCKET}/{path}")
            self.gc()

        workload = f"{label} upload, S3"
        bench.measure(workload, "rclone copyto to radosgw (limit)",
                      lambda i: self.rclone("copyto", str(big), f"rgw:{BUCKET}/r{i}.bin"),
                      lambda i: rclone_rm(f"r{i}.bin"), bench.size, "B", self.rounds)
        bench.measure(workload, "ftp put, ftpd on S3 (TLS)",
                      lambda i: ftp("ftpd-s3", "put", str(big), f"p{i}.bin"),
                      lambda i: ftp_rm("ftpd-s3", f"p{i}.bin"), bench.size, "B", self.rounds)
        bench.measure(workload, "ftp put, ftpd on local disk (TLS, fsync off)",
                      lambda i: ftp("ftpd-local", "put", str(big), f"p{i}.bin"),
                      lambda i: bench.remove(local_root / f"p{i}.bin"), bench.size, "B", self.rounds)
        reset_peak(s3.pid)
        bench.run_cases()
        put_peak = vm_hwm_kib(s3.pid)

        # Downloads: the file is in each store once; each round gets it to a new local name.
        ftp("ftpd-s3", "put", str(big), "dl.bin")
        self.rclone("copyto", str(big), f"rgw:{BUCKET}/dl.bin")
        ftp("ftpd-local", "put", str(big), "dl.bin")
        got = lambda i: self.work / f"s3-got{i}.bin"
        workload = f"{label} download, S3"
        bench.measure(workload, "rclone copyto from radosgw (limit)",
                      lambda i: self.rclone("copyto", f"rgw:{BUCKET}/dl.bin", str(got(i))),
                      lambda i: bench.remove(got(i)), bench.size, "B", self.rounds)
        bench.measure(workload, "ftp get --no-fsync, ftpd on S3 (TLS)",
                      lambda i: ftp("ftpd-s3", "get", "--no-fsync", "dl.bin", str(got(i))),
                      lambda i: bench.remove(got(i)), bench.size, "B", self.rounds)
        bench.measure(workload, "ftp get --no-fsync, ftpd on local disk (TLS)",
                      lambda i: ftp("ftpd-local", "get", "--no-fsync", "dl.bin", str(got(i))),
                      lambda i: bench.remove(got(i)), bench.size, "B", self.rounds)
        reset_peak(s3.pid)
        bench.run_cases()
        get_peak = vm_hwm_kib(s3.pid)

        bench.tables.append(["| ftpd on S3 (8 MiB parts) | peak RSS (VmHWM) |", "|---|---|",
                             f"| over the {label} uploads | {put_peak / 1024:.1f} MiB |",
                             f"| over the {label} downloads | {get_peak / 1024:.1f} MiB |",
                             f"| local ftpd over both, for comparison | "
                             f"{vm_hwm_kib(local.pid) / 1024:.1f} MiB |"])
