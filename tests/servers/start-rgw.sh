#!/usr/bin/env bash
# start-rgw.sh - S3 server for the S3lo tests: throwaway single-node Ceph (1 mon, 1 memstore OSD, no mgr) + RADOS Gateway
# serving S3 on 127.0.0.1 only. Wipes and recreates $RGW_BASE on every start.
# Needs: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common curl iproute2
# (./build.sh Test installs them). Stop with stop-rgw.sh (kills by the saved PIDs).
# Environment: RGW_BASE (default <repo>/out/rgw), RGW_PORT (7480), RGW_MON_V2_PORT (3300),
# RGW_MON_V1_PORT (6789), RGW_ACCESS_KEY, RGW_SECRET_KEY, RGW_STORAGE_CLASSES, RGW_MEMSTORE_BYTES,
# RGW_SSL_PORT (unset: no HTTPS; set: also serve https://127.0.0.1:$RGW_SSL_PORT with a self-signed certificate
# for 127.0.0.1 made at start, written to $RGW_BASE/tls/cert.pem for clients to trust).
set -euo pipefail
started_ok=0
cleanup_on_fail() { # kill whatever this run started if it did not finish
  [ "$started_ok" = 1 ] && return
  for f in "${RUN:-/nonexistent}"/rgw.fpid "${RUN:-/nonexistent}"/osd.0.fpid "${RUN:-/nonexistent}"/mon.a.fpid; do
    [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null && rm -f "$f"
  done
  return 0
}

. "$(dirname "${BASH_SOURCE[0]}")/rgw-common.sh"   # REPO_ROOT, BASE, running()
PORT=${RGW_PORT:-7480}                  # S3 endpoint http://127.0.0.1:$PORT
MON_V2=${RGW_MON_V2_PORT:-3300}
MON_V1=${RGW_MON_V1_PORT:-6789}
ACCESS=${RGW_ACCESS_KEY:-testkey}
SECRET=${RGW_SECRET_KEY:-testsecret}
MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-4294967296}   # OSD "disk" size, held in RAM
# extra S3 storage classes to accept (RGW 16 rejects unknown ones with 400 InvalidArgument)
# S3lo's tests store blobs with INTELLIGENT_TIERING; set RGW_STORAGE_CLASSES="" for none.
STORAGE_CLASSES=${RGW_STORAGE_CLASSES-INTELLIGENT_TIERING}
TIMEOUT=${RGW_START_TIMEOUT:-90}
SSL_PORT=${RGW_SSL_PORT:-}

T0=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[start-rgw %d.%03ds] %s\n' $((ms/1000)) $((ms%1000)) "$*"; }
die() { echo "start-rgw: ERROR: $*" >&2; exit 1; }

for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool curl ss; do
  command -v $b >/dev/null || die "missing '$b' (apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common curl iproute2)"
done

RUN=$BASE/run LOGD=$BASE/log DATA=$BASE/data
if [ -d "$RUN" ]; then
  for f in "$RUN"/*.fpid; do
    [ -f "$f" ] && running "$(cat "$f")" && die "already running ($f); run stop-rgw.sh first"
  done
fi
for p in $PORT $MON_V2 $MON_V1 $SSL_PORT; do
  ss -Hltn "sport = :$p" | grep -q . && die "TCP port $p is already in use"
done
rm -rf "$BASE"; mkdir -p "$RUN" "$LOGD" "$DATA"
trap cleanup_on_fail EXIT   # from here on, a failure kills what this run started

export CEPH_CONF=$BASE/ceph.conf
FRONTEND="beast endpoint=127.0.0.1:$PORT tcp_nodelay=1"
if [ -n "$SSL_PORT" ]; then
  command -v openssl >/dev/null || die "missing 'openssl' (RGW_SSL_PORT needs it for the certificate)"
  mkdir -p "$BASE/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
      -keyout "$BASE/tls/key.pem" -out "$BASE/tls/cert.pem" 2>"$LOGD/openssl.log" || die "openssl req failed: $(tail -3 "$LOGD/openssl.log")"
  FRONTEND="$FRONTEND ssl_endpoint=127.0.0.1:$SSL_PORT ssl_certificate=$BASE/tls/cert.pem ssl_private_key=$BASE/tls/key.pem"
fi
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$CEPH_CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw defaults ms_mon_client_mode to "secure", impossible without cephx -> EACCES (-13) loop
ms mon client mode = crc
run dir = $RUN
admin socket = $RUN/\$name.asok
log file = $LOGD/\$name.log
pid file = $RUN/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool delete = true
mon allow pool size one = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false

[mon]
mon data = $DATA/\$name
mon cluster log file = $LOGD/cluster.log
# default 1s: every pool create / map change would cost ~1s
paxos propose interval = 0.05

[osd]
osd data = $DATA/\$name
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client.rgw.test]
rgw data = $DATA/\$name
# tcp_nodelay: without it every small response pays a ~40 ms Nagle/delayed-ACK stall
rgw frontends = $FRONTEND
# deleted/overwritten object data is garbage-collected after 2 h by default; memstore
# keeps it in RAM (and counts it against memstore device bytes) until then
rgw gc obj min wait = 5
rgw gc processor period = 10
EOF

start_daemon() { # name cmd...   (setsid: survives the caller's process group; $! = daemon PID)
  local name=$1; shift
  setsid "$@" </dev/null >"$LOGD/$name.stdout" 2>&1 &
  echo $! > "$RUN/$name.fpid"; disown
}
wait_for() { # description command...
  local what=$1; shift
  local end=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "timeout waiting for $what (logs: $LOGD)"
    sleep 0.2
  done
}
alive() { running "$(cat "$RUN/$1.fpid")" || die "$1 died, see $LOGD/$1.stdout and $LOGD/*.log"; }

# --- monitor ---
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" "$BASE/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$BASE/monmap" 2>"$LOGD/mon.mkfs.log"
start_daemon mon.a ceph-mon -f -i a
wait_for "monitor" ceph --connect-timeout 5 mon stat
alive mon.a; log "mon up"

# --- OSD (memstore: everything in RAM, nothing on disk) ---
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph --connect-timeout 10 osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || die "unexpected osd id '$OSD_ID'"
mkdir -p "$DATA/osd.0"
ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$LOGD/osd.mkfs.log" 2>&1
start_daemon osd.0 ceph-osd -f -i 0
osd_up() { ceph --connect-timeout 5 osd dump 2>/dev/null | grep -q '^osd.0 up'; }
wait_for "osd.0 up" osd_up
alive osd.0; log "osd up"

# --- pre-create the RGW pools (otherwise RGW creates them lazily: +1-2s on first
#     start, first CreateBucket, first PutObject, first multipart upload) ---
{
  for p in .rgw.root default.rgw.control default.rgw.meta default.rgw.log \
           default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    echo "osd pool create $p 8 8"
    echo "osd pool application enable $p rgw"
  done
} | ceph --connect-timeout 10 >"$LOGD/pools.log" 2>&1
[ "$(ceph osd pool ls | wc -l)" = 7 ] || die "pool creation failed: $(cat "$LOGD/pools.log")"
log "pools created"

# --- S3 user (written straight to RADOS, gateway need not be running) ---
radosgw-admin -n client.rgw.test user create --uid=test --display-name=test \
    --access-key="$ACCESS" --secret-key="$SECRET" >"$LOGD/user.json" 2>>"$LOGD/radosgw-admin.log" \
  || die "radosgw-admin user create failed: $(tail -3 "$LOGD/radosgw-admin.log")"
log "user created"

# --- optional extra storage classes (after user create: that is what creates the
#     default zonegroup/zone; before radosgw starts, so no restart/period commit needed) ---
for sc in $STORAGE_CLASSES; do
  radosgw-admin -n client.rgw.test zonegroup placement add --rgw-zonegroup default \
      --placement-id default-placement --storage-class "$sc" >>"$LOGD/radosgw-admin.log" 2>&1 \
    || die "zonegroup placement add $sc failed: $(tail -3 "$LOGD/radosgw-admin.log")"
  radosgw-admin -n client.rgw.test zone placement add --rgw-zone default \
      --placement-id default-placement --storage-class "$sc" \
      --data-pool default.rgw.buckets.data >>"$LOGD/radosgw-admin.log" 2>&1 \
    || die "zone placement add $sc failed: $(tail -3 "$LOGD/radosgw-admin.log")"
done
[ -n "$STORAGE_CLASSES" ] && log "storage classes added: $STORAGE_CLASSES"

# --- gateway ---
mkdir -p "$DATA/client.rgw.test"
start_daemon rgw radosgw -f -n client.rgw.test
s3_ok() { # signed ListBuckets must answer 200 (proves user + signature path work)
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --aws-sigv4 'aws:amz:us-east-1:s3' \
        --user "$ACCESS:$SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$PORT/")" = 200 ]
}
wait_for "S3 endpoint on 127.0.0.1:$PORT" s3_ok
if [ -n "$SSL_PORT" ]; then
  s3s_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$BASE/tls/cert.pem" --aws-sigv4 'aws:amz:us-east-1:s3' \
        --user "$ACCESS:$SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "https://127.0.0.1:$SSL_PORT/")" = 200 ]; }
  wait_for "S3 endpoint on https://127.0.0.1:$SSL_PORT" s3s_ok
  log "HTTPS: https://127.0.0.1:$SSL_PORT (certificate $BASE/tls/cert.pem)"
fi
alive rgw
log "S3 ready: http://127.0.0.1:$PORT  access=$ACCESS secret=$SECRET  (pids: mon $(cat "$RUN/mon.a.fpid"), osd $(cat "$RUN/osd.0.fpid"), rgw $(cat "$RUN/rgw.fpid"))"
started_ok=1
