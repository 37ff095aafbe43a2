#!/usr/bin/env bash
# Vector sync figures with the built-in local embedder (384 dimensions), on a throwaway PostgreSQL:
#   backfill: N rows indexed by `eventsync vectors reconcile` (rows/s)
#   search:   GET /api/search over those N vectors in one tenant, sequential requests after one warm-up (p50/p99)
#   freshness: rows updated at about 200/s (one psql session, each UPDATE its own transaction, paced by pg_sleep);
#              commit time (the row's clock_timestamp()) → the end of the job run that indexed it (runs.finished_at)
#   benchmarks/vectors.sh            100,000 rows, 200 searches
#   benchmarks/vectors.sh --quick    5,000 rows, 50 searches
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rows=100000; searches=200; changes=6000
[ "${1:-}" = "--quick" ] && { rows=5000; searches=50; changes=1000; }
source scripts/pg-temp.sh
work="$(mktemp -d /tmp/eventsync-vbench.XXXXXX)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; pg_temp_stop; rm -rf "$work"; }
trap cleanup EXIT
pg_temp_start
db="postgres://eventsync@127.0.0.1:$PG_TEMP_PORT/eventsync_test"
./eventsync --help >/dev/null  # build once, outside the timings
"$PG_TEMP_BIN/psql" -q "$db" <<SQL
CREATE TABLE projects (id serial PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL, description text, caracteristicas jsonb, changed_at timestamptz);
INSERT INTO projects (tenant_id, name, description, caracteristicas)
SELECT 'acme', 'Project ' || g, 'Pipeline segment ' || g || ' with pumping station and ' || (g % 97) || ' valves near kilometre ' || (g % 1000),
       jsonb_build_object('location', 'Region ' || (g % 50), 'value', (g % 300) || ' MUSD')
FROM generate_series(1, $rows) g;
SQL
cat > "$work/eventsync.yaml" <<YAML
store: sqlite:$work/store.db
server: { urls: http://127.0.0.1:0 }
sources:
  app: { kind: postgres, connection: "$db", table: public.projects }
sinks:
  index:
    kind: vectors
    database: "$db"
    table: public.projects
    tenantColumn: tenant_id
    template: "{{name}}\n{{description}}\n{{caracteristicas}}"
    embedder: { kind: local, dimensions: 384 }
flows:
  - { name: projects, from: app, key: \$.key, to: index }
YAML
start=$(date +%s.%N)
./eventsync vectors reconcile -c "$work/eventsync.yaml" --json > "$work/reconcile.json"
end=$(date +%s.%N)
added=$(python3 -c "import json;print(json.load(open('$work/reconcile.json'))['added'])")
backfill=$(python3 -c "print(f'{$added/($end-$start):,.0f}')")
# Capture is installed before serve starts, as an operator would (serve retries with backoff until the outbox exists).
./eventsync pg install --connection "$db" --table public.projects --tenant-column tenant_id >/dev/null
dotnet .artifacts/cli/eventsync.dll serve -c "$work/eventsync.yaml" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(grep -m1 -o "http://127.0.0.1:[0-9]*" "$work/serve.log")
curl -sf "$url/api/search?tenant=acme&q=warmup" >/dev/null
python3 - "$changes" > "$work/changes.sql" <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print(f"UPDATE projects SET description = 'fresh change {i} token{i}x', changed_at = clock_timestamp() WHERE id = {i};")
    print("SELECT pg_sleep(0.004);")
PY
"$PG_TEMP_BIN/psql" -q -o /dev/null "$db" -f "$work/changes.sql"
for _ in $(seq 1 1200); do
  [ "$(curl -sf "$url/api/status" | python3 -c "import json,sys; f=json.load(sys.stdin)['flows'][0]; print(f['pending']+f['running'])")" = "0" ] && \
  [ "$("$PG_TEMP_BIN/psql" -At "$db" -c 'SELECT COUNT(*) FROM eventsync.outbox')" = "0" ] && break
  sleep 0.1
done
"$PG_TEMP_BIN/psql" -At -F, "$db" -c "SELECT id, (extract(epoch FROM changed_at) * 1000)::bigint FROM projects WHERE changed_at IS NOT NULL" > "$work/committed.csv"
python3 - "$work/store.db" "$work/committed.csv" "$changes" <<'PY' > "$work/freshness.txt"
import sys, sqlite3, csv
db, committed, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = dict(sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
    "SELECT entity_key, MAX(finished_at) FROM runs WHERE flow = 'projects' AND outcome = 'succeeded' GROUP BY entity_key").fetchall())
lat = sorted(done[k] - int(t) for k, t in csv.reader(open(committed)) if k in done)
missing = n - len(lat)
p = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))]
print(f"| Freshness at ~200 changes/s, row commit → indexed ({n:,} changes) | p50 {p(0.5)} ms, p99 {p(0.99)} ms, max {lat[-1]} ms; not indexed: {missing} | p50 < 100 ms, p99 < 500 ms |")
PY
python3 - "$url" "$searches" "$rows" "$added" "$backfill" <<'PY'
import sys, time, urllib.request, urllib.parse, json, statistics
url, n, rows, added, backfill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
lat = []
for i in range(n):
    q = urllib.parse.quote(f"pumping station kilometre {i % 1000} valves")
    t = time.perf_counter()
    body = urllib.request.urlopen(f"{url}/api/search?tenant=acme&top=5&q={q}", timeout=30).read()
    lat.append((time.perf_counter() - t) * 1000)
    assert json.loads(body)["hits"], "no hits"
lat.sort()
p = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))]
print(f"| Backfill ({rows:,} rows, local embedder, 384 dims) | {backfill} rows/s ({added} added) | — |")
print(f"| Search over {rows:,} vectors in one tenant, GET /api/search | p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms ({n} requests) | p50 < 20 ms |")
PY
cat "$work/freshness.txt"
