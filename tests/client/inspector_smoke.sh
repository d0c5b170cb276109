#!/usr/bin/env bash
# Smoke test with the MCP Inspector CLI (@modelcontextprotocol/inspector,
# pinned in package.json): `tools/list` against the jobd binary must list the
# eight tools.
#   tests/client/inspector_smoke.sh /path/to/jobd
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
jobd=${1:?usage: inspector_smoke.sh /path/to/jobd}

if [ ! -x "$here/node_modules/.bin/mcp-inspector" ]; then
  echo "FAIL: $here/node_modules is missing (no mcp-inspector): run scripts/test.sh" \
       "(it runs npm ci there) or: (cd $here && npm ci --no-audit --no-fund)" >&2
  exit 1
fi
[ -x "$jobd" ] || { echo "FAIL: no jobd binary at $jobd" >&2; exit 1; }

out=$(mktemp)
errf=$(mktemp)
trap 'rm -f "$out" "$errf"' EXIT
cd "$here"
# The Inspector passes its own environment to the server; keep jobd's stderr
# log quiet so that only a failure shows.
timeout -k 5 60 npx --no-install mcp-inspector --cli -e LOG_LEVEL=warning \
  --method tools/list -- "$jobd" --ephemeral --max-concurrent-jobs 2 >"$out" 2>"$errf"
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL: mcp-inspector --cli --method tools/list exited $rc" >&2
  echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$errf"
  exit 1
fi

missing=()
names=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(r.tools.map((t) => t.name).sort().join("\n"));' "$out") || {
  echo "FAIL: the Inspector output is not a tools/list result:" >&2
  cat "$out"
  exit 1
}
for t in console_execute_async console_get_job_status console_get_job_output \
         console_cancel_job console_list_jobs console_get_job_metrics \
         console_cleanup_jobs console_wait_job console_send_input \
         console_signal_job console_pause_job console_resume_job \
         console_resize_terminal console_restart_job \
         console_create_schedule console_list_schedules \
         console_update_schedule console_delete_schedule \
         console_save_template console_list_templates \
         console_delete_template; do
  grep -qx "$t" <<<"$names" || missing+=("$t")
done
count=$(grep -c . <<<"$names")
if [ ${#missing[@]} -ne 0 ] || [ "$count" -ne 21 ]; then
  echo "FAIL: tools/list via the Inspector: $count tools, missing: ${missing[*]:-none}" >&2
  echo "tools: $names"
  exit 1
fi
echo "inspector_smoke: 21 tools listed: $(tr '\n' ' ' <<<"$names")"
echo "inspector_smoke: 1 passed, 0 failed"
