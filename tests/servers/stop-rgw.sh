#!/usr/bin/env bash
# stop-rgw.sh - stop the throwaway Ceph/RGW started by start-rgw.sh, by saved PIDs only.
# Usage: stop-rgw.sh [--purge]     (--purge also deletes $RGW_BASE)
#  * order: radosgw, then ceph-osd, then ceph-mon.
#  * ceph-mon gets SIGTERM (SIGKILL after $RGW_STOP_GRACE s).
#  * radosgw gets SIGKILL: on SIGTERM it spends ~5 s shutting down, once per test file that
#    starts a server, and nothing it would flush matters for a throwaway cluster.
#  * ceph-osd gets SIGKILL straight away: on SIGTERM a memstore OSD first dumps all
#    objects from RAM to its data dir and, if the mon is already gone, waits 5 s
#    (osd_mon_shutdown_timeout) - pointless for a throwaway cluster.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/rgw-common.sh"   # REPO_ROOT, BASE, running()
RUN=$BASE/run
GRACE=${RGW_STOP_GRACE:-10}

# pid_of NAME BINARY: saved PID, only if it is still that binary (guards against PID reuse)
pid_of() {
  local f=$RUN/$1.fpid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && running "$pid" \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "^$2 " \
    && echo "$pid"
}
wait_gone() { # pid name
  local end=$(( $(date +%s) + GRACE ))
  while running "$1" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
  if running "$1"; then
    echo "stop-rgw: $2 (pid $1) still alive after ${GRACE}s, SIGKILL" >&2
    kill -KILL "$1" 2>/dev/null
    for _ in $(seq 1 50); do running "$1" || break; sleep 0.1; done
  fi
  echo "stop-rgw: stopped $2 (pid $1)"
}

# order matters: radosgw hangs in shutdown (until SIGKILL) if the OSD is already gone
rgw=$(pid_of rgw radosgw) && kill -KILL "$rgw" && wait_gone "$rgw" radosgw
osd=$(pid_of osd.0 ceph-osd) && kill -KILL "$osd" && wait_gone "$osd" ceph-osd
mon=$(pid_of mon.a ceph-mon) && kill -TERM "$mon" && wait_gone "$mon" ceph-mon
rm -f "$RUN"/rgw.fpid "$RUN"/osd.0.fpid "$RUN"/mon.a.fpid

if [ "${1:-}" = "--purge" ]; then rm -rf "$BASE"; echo "stop-rgw: removed $BASE"; fi
exit 0
