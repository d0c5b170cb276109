#!/usr/bin/env bash
# Sets up what is missing, builds with warnings as errors, and runs the whole
# test suite twice: a normal build, then an AddressSanitizer + UBSan build.
# JOBD_SANITIZE=0 skips the sanitizer pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
jobs=${JOBD_JOBS:-$(nproc)}

# The real-MCP-client tests (tests/client) need the npm packages pinned in
# its package-lock.json; install them when missing or older than the lock.
client="$root/tests/client"
if command -v node >/dev/null && command -v npm >/dev/null \
   && { [ ! -d "$client/node_modules" ] \
        || [ "$client/package-lock.json" -nt "$client/node_modules" ]; }; then
  echo "== npm ci in tests/client" >&2
  if (cd "$client" && npm ci --no-audit --no-fund --loglevel=error >&2); then
    touch "$client/node_modules"
  else
    echo "warning: npm ci in tests/client failed; sdk_client and inspector_smoke will fail" >&2
  fi
fi

run_suite() {
  local dir=$1; shift
  echo "== build $dir" >&2
  "$root/scripts/build.sh" "$dir" -DJOBD_WERROR=ON "$@"
  echo "== test $dir" >&2
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 300)
}

run_suite "$root/build"
if [ "${JOBD_SANITIZE:-1}" = 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "$root/build-asan" -DJOBD_SANITIZE=ON -DJOBD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
fi
echo "all tests passed" >&2
