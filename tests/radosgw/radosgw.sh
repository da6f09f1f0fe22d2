#!/usr/bin/env bash
# Runs a throw-away single-node Ceph cluster (one mon, one memstore OSD, one mgr) and a radosgw
# (S3) on loopback, supervised from the foreground:
#
#   radosgw.sh DIR MONPORT RGWPORT
#
# Starts every daemon with its state and logs in DIR (created, and removed at the end), waits
# until radosgw answers HTTP 200 on `/`, creates an S3 user with a random key pair, prints ONE
# line to stdout:
#
#   ready endpoint=http://127.0.0.1:RGWPORT access_key=... secret_key=... region=default
#
# then reads stdin until EOF and stops every daemon it started. Whoever starts it keeps the write
# end of its stdin open for as long as it wants the cluster; when that process exits for any
# reason (even SIGKILL) the pipe closes and the cluster goes with it. TERM, INT and any failure
# stop the daemons too. On failure the tail of the daemons' logs goes to stderr.
#
# RADOSGW_MEMSTORE_BYTES sets the OSD's in-RAM store size (default 2 GiB; allocated lazily).
# RADOSGW_READY_TIMEOUT sets how many seconds to wait for radosgw (default 180).
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 DIR MONPORT RGWPORT" >&2
  exit 2
fi
D=$1
MONPORT=$2
RGWPORT=$3
MEMSTORE_BYTES=${RADOSGW_MEMSTORE_BYTES:-2147483648}
READY_TIMEOUT=${RADOSGW_READY_TIMEOUT:-180}

pids=()
names=()
cleaned=0
cleanup() {
  # Best effort from here on: one failed kill must not leave the other daemons running.
  set +e
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  # The mon last (it is the first pid): an OSD stopping tells the mon, and waits for it.
  if [ "${#pids[@]}" -gt 1 ]; then
    stop 80 "${pids[@]:1}"
  fi
  stop 20 "${pids[@]}"
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$D"
}
# stop TENTHS PID...: sends TERM, then waits up to TENTHS tenths of a second for them to exit.
stop() {
  local tenths=$1 pid i alive
  shift
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < tenths; i++)); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    # An explicit status: a bare return in a trap returns the failure that set off the trap.
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
}
# Tail of every log, for a failure message.
logs() {
  local f
  for f in "$D"/log/*; do
    [ -f "$f" ] || continue
    echo "--- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}
fail() {
  echo "radosgw.sh: $*" >&2
  logs
  exit 1
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# A reader that went away must not kill us before the daemons are stopped: the write fails, set -e
# exits, the EXIT trap runs.
trap '' PIPE

for tool in ceph ceph-mon ceph-osd ceph-mgr radosgw radosgw-admin ceph-authtool monmaptool curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install radosgw ceph-mon ceph-osd ceph-mgr ceph-common curl)"
done

rm -rf "$D"
mkdir -p "$D"/{mon,osd,run,log,mgr,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MONPORT
keyring = $D/keyring
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
# The mon shuts itself down when its disk is nearly full: a shared test machine's often is.
mon data avail crit = 0
mon data avail warn = 0
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd data = $D/osd
mon data = $D/mon
mgr data = $D/mgr
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
ms bind ipv6 = false
public addr = 127.0.0.1
osd crush chooseleaf type = 0
osd max object name len = 256
osd max object namespace len = 64
rgw frontends = beast endpoint=127.0.0.1:$RGWPORT
rgw dns name = localhost
CONF
C=(-c "$D/ceph.conf")
K=$D/keyring

# Runs a daemon in the foreground (-f) as our own child, so we know its pid and stop it ourselves.
daemon() {
  local name=$1
  shift
  "$@" -f </dev/null >"$D/log/$name.out" 2>&1 &
  pids+=($!)
  names+=("$name")
}
# Runs a set-up command, its output into the logs.
step() {
  local name=$1
  shift
  "$@" </dev/null >>"$D/log/setup.out" 2>&1 || fail "$name failed: $*"
}

step keyring ceph-authtool --create-keyring "$K" --gen-key -n mon. --cap mon 'allow *'
step keyring ceph-authtool "$K" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
step keyring ceph-authtool "$K" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd'
step keyring ceph-authtool "$K" --gen-key -n mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *'
step keyring ceph-authtool "$K" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw'
step monmap monmaptool --create --addv a "[v2:127.0.0.1:$MONPORT]" --fsid "$FSID" "$D/monmap"
step mon-mkfs ceph-mon "${C[@]}" -i a --mkfs --monmap "$D/monmap" --keyring "$K"
daemon mon ceph-mon "${C[@]}" -i a
# Until the mon answers; fails at once if it exits (its port taken, say).
deadline=$((SECONDS + READY_TIMEOUT))
until ceph "${C[@]}" --connect-timeout 2 mon stat </dev/null >>"$D/log/setup.out" 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || fail "ceph-mon exited during start-up (port $MONPORT in use?)"
  [ "$SECONDS" -lt "$deadline" ] || fail "ceph-mon did not answer on port $MONPORT within ${READY_TIMEOUT}s"
done
step "osd create" ceph "${C[@]}" --connect-timeout 60 osd create
step osd-mkfs ceph-osd "${C[@]}" -i 0 --mkfs
daemon osd ceph-osd "${C[@]}" -i 0
daemon mgr ceph-mgr "${C[@]}" -i x
daemon rgw radosgw "${C[@]}" -n client.rgw --rgw-data "$D/rgw"

deadline=$((SECONDS + READY_TIMEOUT))
until [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$RGWPORT/" || true)" = 200 ]; do
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || fail "${names[$i]} exited during start-up (a port of $MONPORT, $RGWPORT in use?)"
  done
  [ "$SECONDS" -lt "$deadline" ] || fail "radosgw did not answer HTTP 200 on http://127.0.0.1:$RGWPORT/ within ${READY_TIMEOUT}s"
  sleep 0.5
done

hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
ACCESS_KEY=$(hex 10 | tr a-f A-F)
SECRET_KEY=$(hex 20)
step "user create" radosgw-admin "${C[@]}" user create --uid=ftpd --display-name=ftpd \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY"

echo "ready endpoint=http://127.0.0.1:$RGWPORT access_key=$ACCESS_KEY secret_key=$SECRET_KEY region=default"

# Until whoever started us closes our stdin (or exits). A background reader with an explicit
# redirection (a plain `&` would read /dev/null) and `wait`, which a trapped signal interrupts.
exec 3<&0
cat <&3 >/dev/null &
reader=$!
pids+=("$reader")
names+=(stdin-reader)
wait "$reader" || true
