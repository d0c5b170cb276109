#!/usr/bin/env bash
# Installs what jobd needs to build and test, from Debian's archive. Idempotent:
# when everything is there it only checks, in well under a second.
# All output goes to stderr (stdout may be an MCP channel).
set -euo pipefail
exec 1>&2

packages=(
  g++ cmake make pkg-config
  libcaf-dev rapidjson-dev libboost1.81-dev libboost-filesystem1.81-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libre2-dev
  libsqlite3-dev
  libhowardhinnant-date-dev libdate-tz3
  sqlite3
  # The tests run /usr/bin/python3 (interactive jobs, pipes) and ps.
  python3 procps
)
if [ "${JOBD_SETUP_CLANG:-0}" = 1 ]; then
  packages+=(clang libclang-rt-dev)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
