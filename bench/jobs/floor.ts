/**
 * The runtime's own floor, beside which our memory and start-up are read: an empty `deno run`, one
 * that only imports the `node:` modules the shipper loads, and `cis490-ship --version`, each under
 * the binary's permission flags; and the peers' own floors (`--version` of curl, tar, zstd, gzip).
 */
import { join } from "node:path";
import { cliCommand } from "../../devkit/cli.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import { q, timeShell } from "../_proc.ts";
import type { Bench, Job } from "../context.ts";
import { formatMB, formatSeconds, median, type Row } from "../report.ts";

/** Peak RSS (KiB) and wall seconds of one command, from GNU time. */
interface Sample {
  kib: number;
  seconds: number;
}

async function timed(argv: string[]): Promise<Sample> {
  const out = await Deno.makeTempFile({ prefix: "cis490-bench-time-" });
  try {
    await timeShell(`/usr/bin/time -f '%M %e' -o ${q(out)} ${argv.map(q).join(" ")} > /dev/null`);
    const [kib, seconds] = (await Deno.readTextFile(out)).trim().split(/\s+/).map(Number);
    return { kib: kib ?? NaN, seconds: seconds ?? NaN };
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

async function medianOf(argv: string[], runs: number): Promise<Sample> {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) samples.push(await timed(argv));
  return {
    kib: median(samples.map((s) => s.kib)),
    seconds: median(samples.map((s) => s.seconds)),
  };
}

/** The floors, measured once per run (the rss and backlog rows show them too). */
export function floors(b: Bench): Promise<Record<"empty" | "imports" | "version", Sample>> {
  return b.once("floors", async () => {
    const empty = join(b.root, "floor-empty.ts");
    const imports = join(b.root, "floor-imports.ts");
    await Deno.writeTextFile(empty, "");
    await Deno.writeTextFile(
      imports,
      'import "node:https";\nimport "node:zlib";\nimport "node:crypto";\n',
    );
    const deno = (file: string) => [Deno.execPath(), "run", "--quiet", ...PERMISSION_FLAGS, file];
    const runs = Math.max(b.runs, 3);
    return {
      empty: await medianOf(deno(empty), runs),
      imports: await medianOf(deno(imports), runs),
      version: await medianOf([Deno.execPath(), ...cliCommand(["--version"])], runs),
    };
  });
}

/** The runtime-floor rows. */
export const floorJob: Job = {
  id: "floor",
  async run(b: Bench): Promise<Row[]> {
    const f = await floors(b);
    const peers: string[] = [];
    for (const tool of ["curl", "tar", "zstd", "gzip"]) {
      const s = await medianOf([tool, "--version"], 3).catch(() => null);
      peers.push(s ? `${tool} ${formatMB(s.kib)}` : `${tool} n/a`);
    }
    const row = (id: string, workload: string, s: Sample, context: string): Row => ({
      id,
      workload,
      ours: `${formatMB(s.kib)}, ${formatSeconds(s.seconds)}`,
      peer: id === "floor-version" ? `--version: ${peers.join(", ")}` : "—",
      ratio: null,
      target: "—",
      verdict: "n/a",
      context,
      data: { peak_rss_kib: s.kib, seconds: s.seconds },
    });
    return [
      row("floor-empty", "empty `deno run` (binary's flags)", f.empty, "Deno itself"),
      row(
        "floor-imports",
        "`deno run` importing node:https, node:zlib, node:crypto",
        f.imports,
        "what the shipper's node: modules cost before any work",
      ),
      row(
        "floor-version",
        "`cis490-ship --version` (main.ts, binary's flags)",
        f.version,
        "all of the shipper's code loaded, nothing done",
      ),
    ];
  },
};
