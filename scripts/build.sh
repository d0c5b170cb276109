#!/usr/bin/env bash
# Configures and builds jobd. Usage: scripts/build.sh BUILD_DIR [cmake args...]
# Output goes to stderr (stdout may be an MCP channel).
set -euo pipefail
exec 1>&2
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-"$root/build"}
shift || true
jobs=${JOBD_JOBS:-$(nproc)}
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="${JOBD_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$dir" -j "$jobs"
