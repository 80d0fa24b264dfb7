# rgw-common.sh - sourced by start-rgw.sh and stop-rgw.sh: where the throwaway Ceph/RGW lives ($BASE)
# and how to tell that one of its PIDs still runs.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Ceph puts unix admin sockets under $BASE/run; their paths must stay under ~107 bytes, so a deep
# checkout falls back to $TMPDIR.
if [ -n "${RGW_BASE:-}" ]; then BASE=$RGW_BASE
elif [ ${#REPO_ROOT} -le 60 ]; then BASE=$REPO_ROOT/out/rgw
else BASE=${TMPDIR:-/tmp}/s3lo-rgw; fi

# running = exists and is not a zombie (PID 1 in some sandboxes reaps orphans only every ~2 s)
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
