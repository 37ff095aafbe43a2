// graphile-worker reference for the drain benchmark (run by EventSync.Benchmarks, see BENCHMARKS.md).
//   node bench.mjs setup MODULES_DIR CONNECTION JOBS          migrate, then queue JOBS no-op jobs in one statement
//   node bench.mjs work  MODULES_DIR CONNECTION CONCURRENCY TIMEOUT_S
//       runs a worker with a no-op task until no job is left (or TIMEOUT_S passes), then prints one JSON line:
//       {"done": n, "first": epoch ms of the first job's start, "last": epoch ms of the last job's finish}
// MODULES_DIR is where `npm install graphile-worker` put node_modules (benchmarks/run.sh: .artifacts/bench/node).
import { createRequire } from "node:module";
import path from "node:path";

const [mode, modulesDir, connectionString, countArg, timeoutArg] = process.argv.slice(2);
if (!mode || !modulesDir || !connectionString || !countArg) {
  console.error("usage: node bench.mjs setup|work MODULES_DIR CONNECTION JOBS|CONCURRENCY [TIMEOUT_S]");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(modulesDir), "package.json"));
const { run, runMigrations } = require("graphile-worker");
const { Pool } = require("pg");
const quiet = new (require("graphile-worker").Logger)(() => () => {});

if (mode === "setup") {
  const jobs = Number(countArg);
  await runMigrations({ connectionString, logger: quiet });
  const pool = new Pool({ connectionString, max: 1 });
  // add_jobs takes an array of job specs: one round trip for the whole backlog, like our preload's batches.
  await pool.query(
    "SELECT graphile_worker.add_jobs(ARRAY(SELECT json_populate_record(NULL::graphile_worker.job_spec, json_build_object('identifier', 'noop', 'payload', json_build_object('i', g))) FROM generate_series(1, $1::int) g))",
    [jobs]);
  const { rows } = await pool.query("SELECT COUNT(*)::int AS n FROM graphile_worker.jobs");
  await pool.end();
  console.log(JSON.stringify({ queued: rows[0].n }));
} else if (mode === "work") {
  const concurrency = Number(countArg);
  const deadline = Date.now() + 1000 * Number(timeoutArg ?? 600);
  let first = 0, last = 0, done = 0;
  const runner = await run({
    connectionString,
    concurrency,
    maxPoolSize: concurrency + 2,
    pollInterval: 100,
    noHandleSignals: false,
    logger: quiet,
    taskList: {
      noop: async () => {
        if (first === 0) first = Date.now();
        done++;
        last = Date.now();
      },
    },
  });
  // Completed jobs are deleted: the queue is drained when no row is left (bounded by the deadline).
  const pool = new Pool({ connectionString, max: 1 });
  let left = -1;
  while (Date.now() < deadline) {
    left = (await pool.query("SELECT COUNT(*)::int AS n FROM graphile_worker.jobs")).rows[0].n;
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await pool.end();
  await runner.stop();
  // A job's "finish" is its completion being recorded; the last one is recorded when left reached 0.
  console.log(JSON.stringify({ done, first, last, left }));
  process.exit(left === 0 ? 0 : 1);
} else {
  console.error(`unknown mode '${mode}'`);
  process.exit(2);
}
