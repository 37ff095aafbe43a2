#!/usr/bin/env bash
# EventSync engine benchmarks, one command: builds the eventsync CLI (Release) and the benchmark tool, starts a
# throwaway PostgreSQL (scripts/pg-temp.sh), runs every measurement against real `eventsync serve` processes on a
# SQLite file and on PostgreSQL, and prints a markdown table (also saved under .artifacts/bench/).
#   benchmarks/run.sh              full size (about 15 minutes)
#   benchmarks/run.sh --quick      reduced counts, for CI (about 1.5 minutes including incremental builds)
#   benchmarks/run.sh --quick --backends sqlite --only ingest,drain     other arguments go to the tool (--help)
# Everything listens on 127.0.0.1; every server started here is stopped on exit, including Ctrl-C.
# Exit status: 0 when every measurement ran and found nothing wrong (performance targets are reported, not enforced).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/.artifacts/bench"
build="$out/build"   # separate obj/bin, so this never races another build of src/ or tests/
mkdir -p "$out"

limit=3600
for arg in "$@"; do [ "$arg" = "--quick" ] && limit=600; done

work="$(mktemp -d /tmp/eventsync-bench.XXXXXX)"
tool_pid=""
source scripts/pg-temp.sh

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$tool_pid" ] && kill -0 "$tool_pid" 2>/dev/null; then
    kill -TERM "$tool_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$tool_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$tool_pid" 2>/dev/null || true
  fi
  # Servers the tool started and could not stop itself: it keeps child-<pid>.pid in the work dir while each runs.
  local f pid
  for f in "$work"/child-*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "ref-server|$work"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  pg_temp_stop
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Both builds share one artifacts tree with the same global properties, so the second reuses the first's compiled
# src/ projects (an -o build would not: it changes OutputPath for every project and the two would rebuild each other).
echo "building the eventsync CLI and the benchmark tool (Release) ..." >&2
dotnet build src/EventSync.Cli/EventSync.Cli.csproj -c Release --artifacts-path "$build" -nologo -v quiet -clp:ErrorsOnly >&2
dotnet build benchmarks/EventSync.Benchmarks/EventSync.Benchmarks.csproj -c Release --artifacts-path "$build" -nologo -v quiet -clp:ErrorsOnly >&2
# The CLI runs from where ./eventsync puts it; -u copies only what changed, so an unchanged build rewrites nothing.
mkdir -p "$root/.artifacts/cli"
cp -a -u "$build/bin/EventSync.Cli/release/." "$root/.artifacts/cli/"
touch "$root/.artifacts/cli/.built"   # the ./eventsync launcher's "up to date" stamp
tool="$build/bin/EventSync.Benchmarks/release/EventSync.Benchmarks.dll"

pg_temp_start
pg_pid="$(head -n 1 "$PG_TEMP_DIR/data/postmaster.pid")"
echo "PostgreSQL $("$PG_TEMP_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_TEMP_PORT (pid $pg_pid)" >&2

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
# The tool bounds each wait itself; `timeout` bounds the whole run in case something still hangs.
timeout --kill-after=30 "$limit" dotnet "$tool" --cli "$root/.artifacts/cli/eventsync.dll" --work-dir "$work" \
  --postgres "$EVENTSYNC_TEST_POSTGRES" --postgres-pid "$pg_pid" \
  --markdown "$out/results-$stamp.md" --json "$out/results-$stamp.json" "$@" &
tool_pid=$!
set +e
wait "$tool_pid"
status=$?
set -e
tool_pid=""
[ -f "$out/results-$stamp.md" ] && echo "saved: .artifacts/bench/results-$stamp.md (and .json)" >&2
exit "$status"
