#!/usr/bin/env bash
# stop-azurite.sh - stop the Azurite started by start-azurite.sh, by its saved PID only (SIGTERM, SIGKILL after
# $AZURITE_STOP_GRACE s). Its data lived in memory and goes with it.
# Usage: stop-azurite.sh [--purge]     (--purge also deletes $AZURITE_BASE)
set -u
. "$(dirname "${BASH_SOURCE[0]}")/azurite-common.sh"   # REPO_ROOT, BASE, running()
GRACE=${AZURITE_STOP_GRACE:-10}
f=$BASE/azurite.pid

# the saved PID, only if it is still azurite (guards against PID reuse)
if [ -f "$f" ] && pid=$(cat "$f") && [ -n "$pid" ] && running "$pid" \
   && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "azurite-blob "; then
  kill -TERM "$pid"
  end=$(( $(date +%s) + GRACE ))
  while running "$pid" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
  if running "$pid"; then
    echo "stop-azurite: azurite (pid $pid) still alive after ${GRACE}s, SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
  fi
  echo "stop-azurite: stopped azurite (pid $pid)"
fi
rm -f "$f"

if [ "${1:-}" = "--purge" ]; then rm -rf "$BASE"; echo "stop-azurite: removed $BASE"; fi
exit 0
