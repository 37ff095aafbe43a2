#!/usr/bin/env bash
# EventSync engine benchmarks, one command: builds the eventsync CLI (Release) and the benchmark tool, starts a
# throwaway PostgreSQL (scripts/pg-temp.sh), runs every measurement against real `eventsync serve` processes on a
# SQLite file and on PostgreSQL, and prints a markdown table (also saved under .artifacts/bench/).
# Then the vector figures (benchmarks/vectors.sh, same size) unless --only picks some measurements.
#   benchmarks/run.sh              full size (about 35 minutes)
#   benchmarks/run.sh --quick      reduced counts, for CI (a few minutes including incremental builds)
#   benchmarks/run.sh --quick --backends sqlite --only ingest,drain     other arguments go to the tool (--help)
# Setup (not measured): `npm install graphile-worker` into .artifacts/bench/node for the queue reference; if that
# fails the run says why and goes on without that figure.
# Everything listens on 127.0.0.1; every server started here is stopped on exit, including Ctrl-C.
# Exit status: 0 when every measurement ran and found nothing wrong (performance targets are reported, not enforced).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/.artifacts/bench"
build="$out/build"   # separate obj/bin, so this never races another build of src/ or tests/
mkdir -p "$out"

limit=5400
quick=""
partial=""
for arg in "$@"; do
  [ "$arg" = "--quick" ] && { limit=900; quick="--quick"; }
  [ "$arg" = "--only" ] && partial=1
done
graphile_version=0.16.6   # 0.17 and later need Node 22; Node 20 is what the machines have

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

# The queue reference: graphile-worker from npm (the only network use, and it belongs to setup, not measurement).
node_dir="$out/node"
graphile_args=()
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  graphile_args=(--graphile-missing "Node.js/npm is not installed")
elif grep -qs "\"version\": \"$graphile_version\"" "$node_dir/node_modules/graphile-worker/package.json"; then
  graphile_args=(--graphile "$node_dir")
else
  mkdir -p "$node_dir"
  [ -f "$node_dir/package.json" ] || echo '{"private": true}' >"$node_dir/package.json"
  echo "installing graphile-worker@$graphile_version from npm (queue reference) ..." >&2
  if (cd "$node_dir" && timeout 300 npm install --no-audit --no-fund "graphile-worker@$graphile_version") >"$out/npm-install.log" 2>&1; then
    graphile_args=(--graphile "$node_dir")
  else
    echo "npm could not install graphile-worker@$graphile_version (see .artifacts/bench/npm-install.log); going on without that figure" >&2
    graphile_args=(--graphile-missing "npm install graphile-worker@$graphile_version failed: $(tail -n 1 "$out/npm-install.log" | cut -c1-200)")
  fi
fi

pg_temp_start
pg_pid="$(head -n 1 "$PG_TEMP_DIR/data/postmaster.pid")"
echo "PostgreSQL $("$PG_TEMP_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_TEMP_PORT (pid $pg_pid)" >&2

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
# The tool bounds each wait itself; `timeout` bounds the whole run in case something still hangs.
timeout --kill-after=30 "$limit" dotnet "$tool" --cli "$root/.artifacts/cli/eventsync.dll" --work-dir "$work" \
  --postgres "$EVENTSYNC_TEST_POSTGRES" --postgres-pid "$pg_pid" \
  --markdown "$out/results-$stamp.md" --json "$out/results-$stamp.json" "${graphile_args[@]}" "$@" &
tool_pid=$!
set +e
wait "$tool_pid"
status=$?
set -e
tool_pid=""
if [ -z "$partial" ]; then
  # Vector freshness, backfill and search: their own throwaway PostgreSQL, so stop ours first (2 cores).
  pg_temp_stop
  echo "vector sync (benchmarks/vectors.sh $quick) ..." >&2
  set +e
  vectors="$(timeout --kill-after=30 900 "$root/benchmarks/vectors.sh" $quick)"
  vstatus=$?
  set -e
  if [ "$vstatus" -ne 0 ]; then
    echo "vectors.sh failed with status $vstatus" >&2
    status=1
  elif [ -f "$out/results-$stamp.md" ]; then
    printf '\nVector sync (benchmarks/vectors.sh %s):\n\n| Measure | Result | Target |\n|---|---|---|\n%s\n' "$quick" "$vectors" >>"$out/results-$stamp.md"
  fi
  printf '%s\n' "$vectors"
fi
[ -f "$out/results-$stamp.md" ] && echo "saved: .artifacts/bench/results-$stamp.md (and .json)" >&2
exit "$status"
