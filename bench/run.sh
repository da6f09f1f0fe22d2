#!/usr/bin/env bash
# Reproduces the benchmark table in the README: installs the peers (pure-ftpd, OpenSSH, rsync,
# lftp, socat, gnuplot, iproute2) from Debian's packages, builds the release binaries, and runs
# bench/bench.py, which starts every server on 127.0.0.1 with the configs in bench/config/,
# runs the cases of each workload interleaved for several rounds, and writes bench/results/{results.md,
# results.csv, upload.png}. The "tree" workload (bench/tree.py) moves whole folders: 10,000 small
# files plus 10 of 100 MiB, fresh, again unchanged, and synced after 1 % changed; then the
# memory a tree of 100,000 files takes. The "s3" workload (bench/s3.py) moves the big file
# through ftpd's S3 backend and with rclone to a single-node Ceph radosgw (installed here
# too). The "link" workload also builds a network namespace joined by a veth pair shaped to
# 1 Gbit/s (ip, tc) and removes it at the end. Needs root (it adds a system user, runs sshd
# and creates the namespace).
#
#   bash bench/run.sh                    # 5 rounds, 1 GiB (the link case: at most 3 rounds)
#   bash bench/run.sh --rounds 7 --only big
#   bash bench/run.sh --rounds 3 --only link
#   bash bench/run.sh --only tree
#   bash bench/run.sh --only s3 --rounds 3 --out bench/results/s3
#   bash bench/run.sh --ab BASE_RELEASE_DIR   # A/B of this build against another (bench/ab.py)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--ab" ]; then
  base="${2:?--ab needs the folder holding the other build, its ftpd and ftp}"
  shift 2
  cargo build --release -p ftpd -p ftp
  exec python3 bench/ab.py --a "$base" "$@"
fi

if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh needs root (it installs packages, adds a user and runs sshd)" >&2
  exit 1
fi
missing=()
for pkg in pure-ftpd openssh-server openssh-client rsync lftp socat gnuplot-nox curl openssl iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  # One at a time: Debian's FTP servers conflict with each other, and a combined install can
  # refuse where single ones succeed.
  for pkg in "${missing[@]}"; do
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  done
fi
# The S3 workload (bench/s3.py): a single-node Ceph radosgw, the tests' own (tests/radosgw), and
# rclone as the peer that talks S3 to it directly.
s3_missing=()
for pkg in radosgw ceph-mon ceph-osd ceph-mgr ceph-common rclone; do
  dpkg -s "$pkg" >/dev/null 2>&1 || s3_missing+=("$pkg")
done
if [ ${#s3_missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${s3_missing[@]}" >/dev/null
fi
cargo build --release -p ftpd -p ftp
exec python3 bench/bench.py "$@"
