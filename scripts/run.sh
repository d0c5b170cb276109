#!/usr/bin/env bash
# Sets up what is missing, builds, and runs jobd: an MCP server on stdio.
# Arguments are passed to jobd (see `scripts/run.sh --help`). Only jobd
# writes to stdout; set-up and build messages go to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build-release" -DJOBD_TESTS=OFF -DJOBD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Release
exec "$root/build-release/jobd" "$@"
