#!/usr/bin/env bash
# start-azurite.sh - Azure Blob Storage for the S3lo tests: Azurite's blob service, in memory, on 127.0.0.1 only,
# telemetry off. On first use installs azurite@3.37.0 from npm into <repo>/tests/work/azurite (needs node >= 20 and
# npm). Account devstoreaccount1 with the emulator's well-known key; blob endpoint
# http://127.0.0.1:$AZURITE_PORT/devstoreaccount1. Stop with stop-azurite.sh (kills by the saved PID).
# Environment: AZURITE_BASE (default <repo>/out/azurite; wiped on start), AZURITE_PORT (10000),
# AZURITE_PREFIX (npm prefix, default <repo>/tests/work/azurite), AZURITE_START_TIMEOUT (60 s),
# AZURITE_MEMORY_MB (extent memory limit, 2048).
# Usage: start-azurite.sh [--install-only]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/azurite-common.sh"   # REPO_ROOT, BASE, PREFIX, BIN, AZURITE_VERSION, running()
PORT=${AZURITE_PORT:-10000}
TIMEOUT=${AZURITE_START_TIMEOUT:-60}
MEMORY_MB=${AZURITE_MEMORY_MB:-2048}
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

die() { echo "start-azurite: ERROR: $*" >&2; exit 1; }

installed() { # the exact version, fully installed (npm writes the .bin link last)
  [ -x "$BIN" ] && [ "$(node -p "require('$PREFIX/node_modules/azurite/package.json').version" 2>/dev/null)" = "$AZURITE_VERSION" ]
}
if ! installed; then
  command -v npm >/dev/null || die "missing 'npm' (Node.js 20 or later) to install azurite@$AZURITE_VERSION"
  mkdir -p "$PREFIX"
  # test runs started together install once: the others wait for the lock and find it installed
  (
    flock 9
    if ! installed; then
      echo "start-azurite: installing azurite@$AZURITE_VERSION into $PREFIX"
      npm install --prefix "$PREFIX" "azurite@$AZURITE_VERSION" --no-audit --no-fund --loglevel=error >"$PREFIX/npm-install.log" 2>&1 \
        || die "npm install azurite@$AZURITE_VERSION failed: $(tail -5 "$PREFIX/npm-install.log")"
    fi
  ) 9>"$PREFIX.lock"
  installed || die "azurite@$AZURITE_VERSION is not installed in $PREFIX"
fi
[ "${1:-}" = "--install-only" ] && exit 0

command -v ss >/dev/null || die "missing 'ss' (apt-get install -y iproute2)"
if [ -f "$BASE/azurite.pid" ] && running "$(cat "$BASE/azurite.pid")"; then
  die "already running (pid $(cat "$BASE/azurite.pid")); run stop-azurite.sh first"
fi
ss -Hltn "sport = :$PORT" | grep -q . && die "TCP port $PORT is already in use"
rm -rf "$BASE"; mkdir -p "$BASE"

started_ok=0
cleanup_on_fail() { # kill what this run started if it did not finish
  [ "$started_ok" = 1 ] && return
  [ -f "$BASE/azurite.pid" ] && kill -KILL "$(cat "$BASE/azurite.pid")" 2>/dev/null && rm -f "$BASE/azurite.pid"
  return 0
}
trap cleanup_on_fail EXIT

# setsid: survives the caller's process group; the bin script's shebang execs node, so $! is node's PID.
# Run in $BASE: whatever Azurite might write beside it lands there.
cd "$BASE"
setsid "$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --inMemoryPersistence --extentMemoryLimit "$MEMORY_MB" \
  --skipApiVersionCheck --loose --disableTelemetry --silent </dev/null >"$BASE/azurite.log" 2>&1 &
echo $! >"$BASE/azurite.pid"

end=$(( $(date +%s) + TIMEOUT ))
until ss -Hltn "sport = :$PORT" | grep -q .; do
  running "$(cat "$BASE/azurite.pid")" || die "azurite exited: $(tail -5 "$BASE/azurite.log")"
  [ "$(date +%s)" -lt "$end" ] || die "timeout waiting for azurite on 127.0.0.1:$PORT (log: $BASE/azurite.log)"
  sleep 0.1
done
echo "start-azurite: blob endpoint http://127.0.0.1:$PORT/$ACCOUNT  account=$ACCOUNT key=$KEY  (pid $(cat "$BASE/azurite.pid"))"
started_ok=1
