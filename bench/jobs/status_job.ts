/**
 * The bench job for watching a host (issue 14 item 11): `status` and one `--once` pass with the
 * metrics textfile set, at 100,000 shipped episodes, and the metrics refresh the service makes
 * after each pass. What the job shows is that none of it walks `shipped/`: the times follow the
 * backlog, not the history. `deno task bench` runs it as the rows `status` and `pass`.
 */
import { type Bench, errorText, type Job, progress } from "../context.ts";
import { failedRow, formatSeconds, type Row, targetText } from "../report.ts";
import { join } from "node:path";
import { runCli } from "../../devkit/cli.ts";
import { makeEpisode, shipperConfig, writeConfig } from "../../devkit/fixtures.ts";
import { loadConfig } from "../../src/config/config.ts";
import { layoutOf } from "../../src/layout.ts";
import { writeMetrics } from "../../src/status/publish.ts";
import { newSnapshotCache } from "../../src/status/snapshot.ts";

/** Options for {@linkcode statusJob}. */
export interface StatusJobOptions {
  /** A scratch directory; the job makes `status-job/` in it and removes it. */
  root: string;
  /** Shipped episodes to make. @default {100_000} */
  shipped?: number;
  /** Episodes waiting in `episodes/` (the backlog each pass reads). @default {20} */
  backlog?: number;
  /** Timed runs per row; the row's time is their median. @default {3} */
  runs?: number;
  /** Told what the job is doing. @default {nothing} */
  progress?: (line: string) => void;
}

/** One row of the job. */
export interface StatusJobRow {
  id: "status" | "pass" | "metrics";
  workload: string;
  /** Median wall time, seconds. */
  seconds: number;
  /** Every run's time, seconds. */
  runs: number[];
  /** The other numbers behind the row. */
  data: Record<string, number | string>;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** Makes `count` shipped episodes (meta.json, done.marker, one data file each), 64 at a time. */
async function makeShipped(shipped: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const dir = join(shipped, `ep-${String(i).padStart(6, "0")}`);
      await Deno.mkdir(join(dir, "data"), { recursive: true });
      await Deno.writeTextFile(join(dir, "meta.json"), "{}");
      await Deno.writeTextFile(join(dir, "done.marker"), "");
      await Deno.writeTextFile(join(dir, "data", "obs.csv"), "t,x\n0,1\n");
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

/**
 * Measures `status`, one `--once` pass and the service's metrics refresh at `shipped` shipped
 * episodes; returns one row each.
 * @example
 * ```ts
 * import { statusJob } from "./status_job.ts";
 * const rows = await statusJob({ root: await Deno.makeTempDir(), shipped: 1000, runs: 1 });
 * rows.map((r) => `${r.id}: ${r.seconds.toFixed(3)} s`);
 * ```
 */
export async function statusJob(options: StatusJobOptions): Promise<StatusJobRow[]> {
  const shippedCount = options.shipped ?? 100_000;
  const backlog = options.backlog ?? 20;
  const runs = options.runs ?? 3;
  const say = options.progress ?? (() => {});
  const root = join(options.root, "status-job");
  const dataRoot = join(root, "data");
  const layout = layoutOf(dataRoot);
  try {
    say(`status job: making ${shippedCount} shipped episodes`);
    await makeShipped(layout.shipped, shippedCount);
    for (let i = 0; i < backlog; i++) {
      await makeEpisode(dataRoot, `ready-${i}`, { complete: i % 2 === 0 });
    }
    // Nothing listens there: the pass has nothing it may send (the backlog is held back by
    // the unreachable collector after one probe), as on a host whose collector is down.
    const prom = join(root, "ship.prom");
    const configPath = await writeConfig(
      root,
      shipperConfig({
        dataRoot,
        url: "https://127.0.0.1:9",
        shipper: `metrics_textfile = "${prom}"`,
      }),
    );
    const statusRuns: number[] = [];
    const passRuns: number[] = [];
    for (let run = 0; run < runs; run++) {
      say(`status job: run ${run + 1} of ${runs}`);
      statusRuns.push(
        await time(async () => {
          const out = await runCli(["status", "--json", "--config", configPath]);
          if (out.code !== 0) throw new Error(`status failed: ${out.stderr.trim()}`);
        }),
      );
      passRuns.push(
        await time(async () => {
          const out = await runCli(["--once", "--config", configPath]);
          if (out.code !== 0 && out.code !== 75) throw new Error(`--once failed: ${out.stderr}`);
        }),
      );
    }
    const { config } = await loadConfig(configPath);
    const cache = newSnapshotCache();
    // The service's cache counts a folder again only after it changed, and only once its
    // times are out of the racy window: measured as the service sees it a pass later.
    const later = () => Date.now() + 60_000;
    const cold = await time(() => writeMetrics(config, { cache, now: later }));
    const warm: number[] = [];
    for (let run = 0; run < runs; run++) {
      warm.push(await time(() => writeMetrics(config, { cache, now: later })));
    }
    await Deno.mkdir(join(layout.shipped, "ep-new"));
    const changed = await time(() => writeMetrics(config, { cache, now: later }));
    const workload = `${shippedCount} shipped episodes, ${backlog} in episodes/`;
    return [
      {
        id: "status",
        workload: `cis490-ship status --json: ${workload}`,
        seconds: median(statusRuns),
        runs: statusRuns,
        data: { shipped: shippedCount },
      },
      {
        id: "pass",
        workload: `cis490-ship --once with metrics_textfile: ${workload}`,
        seconds: median(passRuns),
        runs: passRuns,
        data: { shipped: shippedCount },
      },
      {
        id: "metrics",
        workload: `the service's metrics refresh after a pass (in process): ${workload}`,
        seconds: median(warm),
        runs: warm,
        data: { cold_s: cold, after_one_new_shipped_s: changed, shipped: shippedCount },
      },
    ];
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const shipped = Number(Deno.args[0] ?? 100_000);
  const root = await Deno.makeTempDir({ prefix: "cis490-bench-" });
  try {
    const rows = await statusJob({
      root,
      shipped,
      progress: (line) => console.error(line),
    });
    for (const r of rows) {
      console.log(
        `${r.id.padEnd(8)} ${r.seconds.toFixed(3)} s  (runs ${
          r.runs.map((s) => s.toFixed(3)).join(", ")
        })  ${r.workload}  ${JSON.stringify(r.data)}`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** The job in the bench table: `status`, one pass and the metrics refresh at 100,000 shipped. */
export const statusBenchJob: Job = {
  id: "status",
  async run(b: Bench): Promise<Row[]> {
    try {
      const rows = await statusJob({
        root: b.root,
        shipped: b.quick ? 10_000 : 100_000,
        runs: b.runs,
        progress,
      });
      return rows.map((r) => ({
        id: `status-${r.id}`,
        workload: r.workload,
        ours: formatSeconds(r.seconds),
        peer: "",
        ratio: null,
        target: targetText({ kind: "none" }),
        verdict: "n/a",
        context: "grows with the backlog, not with shipped/ (a listing, never a tree walk)",
        data: { ...r.data, runs: r.runs },
      }));
    } catch (error) {
      return [failedRow("status", "status at 100,000 shipped", { kind: "none" }, errorText(error))];
    }
  },
};
