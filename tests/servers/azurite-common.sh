# azurite-common.sh - sourced by start-azurite.sh and stop-azurite.sh: where the throwaway Azurite keeps its PID and
# log ($BASE), where its npm package lives ($PREFIX), and how to tell that its PID still runs.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AZURITE_VERSION=3.37.0
BASE=${AZURITE_BASE:-$REPO_ROOT/out/azurite}
# project-local, never global; tests/work/ is in .gitignore
PREFIX=${AZURITE_PREFIX:-$REPO_ROOT/tests/work/azurite}
BIN=$PREFIX/node_modules/.bin/azurite-blob

# running = exists and is not a zombie (PID 1 in some sandboxes reaps orphans only every ~2 s)
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
