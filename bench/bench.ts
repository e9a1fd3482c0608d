/**
 * `deno task bench`: cis490-ship against the tools an operator would otherwise script (GNU tar,
 * gzip, zstd, curl), every row measured in the same run, interleaved (ours, peer, ours, peer…),
 * medians. One mTLS nginx (`ssl_verify_client on`, `dav_methods PUT`) receives for everybody.
 * Runs the jobs of bench/jobs.ts, prints one table and writes it as JSON. See docs/bench.md.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makePki } from "../devkit/pki.ts";
import { type Nginx, startNginx } from "../devkit/nginx.ts";
import { Bench, errorText, HOST, progress } from "./context.ts";
import { JOBS } from "./jobs.ts";
import { type BenchArgs, failedRow, parseBenchArgs, type Row, tableOf, usage } from "./report.ts";

const DEFAULT_OUT = fileURLToPath(new URL("../bench-results.json", import.meta.url));
const IDS = JOBS.map((j) => j.id);

async function gitHead(): Promise<string | null> {
  const out = await new Deno.Command("git", {
    args: ["rev-parse", "HEAD"],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : null;
}

async function loadavg(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ").slice(0, 3).join(" ");
}

/** Runs the chosen jobs; a failing job gives an n/a row, the others go on. */
async function runJobs(b: Bench, only: readonly string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const job of JOBS.filter((j) => only.includes(j.id))) {
    try {
      rows.push(...await job.run(b));
    } catch (error) {
      rows.push(failedRow(job.id, job.id, { kind: "none" }, errorText(error)));
    }
  }
  return rows;
}

async function bench(args: BenchArgs): Promise<void> {
  const started = new Date();
  const loadStart = await loadavg();
  const root = await Deno.makeTempDir({ prefix: "cis490-bench-" });
  let nginx: Nginx | undefined;
  const cleanup = async () => {
    await Promise.resolve(nginx?.[Symbol.asyncDispose]()).catch(() => {});
    nginx = undefined;
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  const onSignal = () => {
    progress("interrupted: stopping nginx and removing the data");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let rows: Row[];
  try {
    const pki = await makePki(join(root, "pki"), [HOST]);
    // Bodies larger than nginx's default limit (the 2 GiB episode).
    nginx = await startNginx(join(root, "nginx"), pki, "client_max_body_size 0;");
    progress(`temp dir ${root}; receiver ${nginx.url}; jobs: ${args.only.join(", ")}`);
    rows = await runJobs(new Bench(root, pki, nginx, args.quick, args.runs), args.only);
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  const loadEnd = await loadavg();
  const title = `cis490-ship bench — ${
    args.quick ? "QUICK (small sizes; verdicts mean nothing)" : "full"
  }, median of ${args.runs} interleaved run${
    args.runs > 1 ? "s" : ""
  }, ${started.toISOString()}, ${navigator.hardwareConcurrency} CPUs, load ${loadStart} → ${loadEnd}`;
  const table = tableOf(rows);
  console.log(title);
  console.log(table);
  const out = args.out ?? DEFAULT_OUT;
  const json = {
    title,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    quick: args.quick,
    runs: args.runs,
    machine: {
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      kernel: Deno.osRelease(),
      loadavg_start: loadStart,
      loadavg_end: loadEnd,
    },
    commit: await gitHead(),
    rows: rows.map((r) => ({
      id: r.id,
      workload: r.workload,
      target: r.target,
      verdict: r.verdict,
      ratio: r.ratio,
      ...(r.error !== undefined && { error: r.error }),
      cells: { ours: r.ours, peer: r.peer, context: r.context },
      measured: r.data,
    })),
    table,
  };
  await Deno.writeTextFile(out, JSON.stringify(json, null, 2) + "\n");
  console.log(`\nJSON: ${out}`);
}

if (import.meta.main) {
  let args: BenchArgs | undefined;
  try {
    args = parseBenchArgs(Deno.args, IDS);
  } catch (error) {
    console.error(`${errorText(error)}\n\n${usage(IDS)}`);
    Deno.exitCode = 2;
  }
  if (args?.help) console.log(usage(IDS));
  else if (args) await bench(args);
}
