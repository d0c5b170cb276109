#!/usr/bin/env bash
# Sets up what is missing, builds with warnings as errors, and runs the whole
# test suite twice: a normal build, then an AddressSanitizer + UBSan build.
# JOBD_SANITIZE=0 skips the sanitizer pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
jobs=${JOBD_JOBS:-$(nproc)}

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
