#!/usr/bin/env bash
# Runs the whole test suite against a real SQLite file and a real, throwaway PostgreSQL server.
#   ./test.sh                 all tests
#   ./test.sh --filter Name   passes extra arguments to dotnet test
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
source scripts/pg-temp.sh
pg_temp_start
trap pg_temp_stop EXIT
echo "PostgreSQL $("$PG_TEMP_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_TEMP_PORT"
dotnet build tests/EventSync.Tests -c Release -nologo -v quiet -clp:ErrorsOnly
mkdir -p "$root/.artifacts"
rm -f "$root/.artifacts/faults/summary.json" # the fault tests rewrite it with this run's counts
set +e
dotnet test tests/EventSync.Tests -c Release --no-build -nologo --logger "console;verbosity=minimal" --logger "trx;LogFileName=results.trx" --results-directory "$root/.artifacts/test-results" "$@" 2>&1 | tee "$root/.artifacts/test-output.log"
status=${PIPESTATUS[0]}
set -e
# A plain closing line that any CI reader understands, from the run's TRX counters.
counters=$(grep -o '<Counters [^>]*>' "$root/.artifacts/test-results/results.trx" 2>/dev/null | tail -1 || true)
count() { echo "$counters" | sed -nE "s/.* $1=\"([0-9]+)\".*/\1/p"; }
total=$(count total); passed=$(count passed); failed=$(count failed)
echo "${passed:-0} passed, ${failed:-0} failed, $(( ${total:-0} - ${passed:-0} - ${failed:-0} )) skipped"
[ -f "$root/.artifacts/faults/summary.json" ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("Fault suite: %d/%d cases passed (%s); details in %s" % (s["passed"], s["tried"], ", ".join("%s %d/%d" % (c["category"], c["passed"], c["tried"]) for c in s["categories"]), sys.argv[1]))' "$root/.artifacts/faults/summary.json"
exit "$status"
