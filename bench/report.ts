/**
 * The benchmark's pure core: arguments, sizes, targets, verdicts, medians and the table. No I/O.
 */

/** The rows of the table, in order; `--only` takes these names. */
export const ROW_IDS = ["gzip", "zstd", "none", "episodes", "files", "rss", "backlog"] as const;

/** One row's name. */
export type RowId = typeof ROW_IDS[number];

/** What `deno task bench` was asked to do. */
export interface BenchArgs {
  /** Small sizes, one repetition: checks the harness, measures nothing. @default {false} */
  quick: boolean;
  /** Repetitions per row (medians are taken). @default {3, or 1 with --quick} */
  runs: number;
  /** Rows to run. @default {every row} */
  only: RowId[];
  /** Where the JSON goes. @default {undefined: bench-results.json in the repository} */
  out?: string;
  help: boolean;
}

/** The usage text. */
export const USAGE = `deno task bench [--quick] [--runs N] [--only ROW[,ROW…]] [--out FILE]

  --quick   small sizes, 1 repetition: checks that the harness works; verdicts mean nothing
  --runs N  repetitions per row, interleaved ours/peer; medians reported (default 3)
  --only    rows: ${ROW_IDS.join(", ")}
  --out     where the JSON goes (default bench-results.json in the repository)`;

/** Parses the command line. @throws {TypeError} on an unknown flag or a bad value */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let quick = false, help = false;
  let runs: number | undefined;
  let only: RowId[] = [...ROW_IDS];
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq > 0 && arg.startsWith("--")) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new TypeError(`Missing value: "${flag}"`);
      return next;
    };
    switch (flag) {
      case "--quick":
        quick = true;
        break;
      case "--help":
      case "-h":
        help = true;
        break;
      case "--runs": {
        const text = value();
        runs = Number(text);
        if (!Number.isInteger(runs) || runs < 1) {
          throw new TypeError(`Invalid --runs: "${text}" is not a positive integer`);
        }
        break;
      }
      case "--only": {
        const names = value().split(",").map((s) => s.trim()).filter((s) => s !== "");
        for (const name of names) {
          if (!(ROW_IDS as readonly string[]).includes(name)) {
            throw new TypeError(`Unknown row: "${name}" (rows: ${ROW_IDS.join(", ")})`);
          }
        }
        only = ROW_IDS.filter((id) => names.includes(id));
        break;
      }
      case "--out":
        out = value();
        break;
      default:
        throw new TypeError(`Unknown argument: "${arg}"`);
    }
  }
  const args: BenchArgs = { quick, runs: runs ?? (quick ? 1 : 3), only, help };
  if (out !== undefined) args.out = out;
  return args;
}

/** The workload sizes. */
export interface Sizes {
  /** The "1 GiB" episode (one incompressible file). */
  bigBytes: number;
  /** Episodes in the many-episodes row, and files per episode and bytes per file. */
  episodes: number;
  filesPerEpisode: number;
  fileBytes: number;
  /** Files in the one-episode many-files row, and bytes per file. */
  manyFiles: number;
  manyFileBytes: number;
  /** The small and large episodes of the memory-flatness row. */
  rssSmallBytes: number;
  rssBigBytes: number;
  /** Episodes in the backlog row. */
  backlog: number;
}

const MiB = 1024 * 1024;

/** Sizes as the issue states them, or small ones for `--quick`. */
export function sizesFor(quick: boolean): Sizes {
  return quick
    ? {
      bigBytes: 64 * MiB,
      episodes: 50,
      filesPerEpisode: 3,
      fileBytes: 5000,
      manyFiles: 1000,
      manyFileBytes: 1000,
      rssSmallBytes: 8 * MiB,
      rssBigBytes: 128 * MiB,
      backlog: 200,
    }
    : {
      bigBytes: 1024 * MiB,
      episodes: 500,
      filesPerEpisode: 3,
      fileBytes: 5000,
      manyFiles: 10_000,
      manyFileBytes: 1000,
      rssSmallBytes: 64 * MiB,
      rssBigBytes: 2048 * MiB,
      backlog: 5000,
    };
}

/** What a row must reach (issue 8, "Targets"). */
export type Target =
  | { kind: "ratio"; max: number }
  | { kind: "flat"; maxMiB: number; maxGrowth: number }
  | { kind: "bounded"; maxFds: number; maxMiB: number };

/** Each row's target. */
export const TARGETS: Readonly<Record<RowId, Target>> = {
  gzip: { kind: "ratio", max: 0.3 },
  zstd: { kind: "ratio", max: 2.5 },
  none: { kind: "ratio", max: 1.2 },
  episodes: { kind: "ratio", max: 0.7 },
  files: { kind: "ratio", max: 1.0 },
  // "Flat": the large episode's peak is at most 1.2× the small one's.
  rss: { kind: "flat", maxMiB: 96, maxGrowth: 1.2 },
  backlog: { kind: "bounded", maxFds: 64, maxMiB: 120 },
};

/** A target as the table shows it. */
export function targetText(target: Target): string {
  switch (target.kind) {
    case "ratio":
      return `≤ ${target.max}×`;
    case "flat":
      return `≤ ${target.maxMiB} MiB, ≤ ${target.maxGrowth}× (flat)`;
    case "bounded":
      return `≤ ${target.maxFds} fds, ≤ ${target.maxMiB} MiB`;
  }
}

/** What was measured for a row, in the units its target uses. */
export type Measurement =
  | { kind: "ratio"; ratio: number }
  | { kind: "flat"; smallMiB: number; bigMiB: number }
  | { kind: "bounded"; fds: number; peakMiB: number };

/** A row's verdict. */
export type Verdict = "pass" | "miss" | "n/a";

/** Whether a measurement meets its target; "n/a" when nothing was measured or kinds differ. */
export function verdictOf(target: Target, m: Measurement | null): Verdict {
  if (m === null) return "n/a";
  const values = Object.values(m).filter((v): v is number => typeof v === "number");
  if (!values.every(Number.isFinite)) return "n/a";
  let ok: boolean;
  if (target.kind === "ratio" && m.kind === "ratio") ok = m.ratio <= target.max;
  else if (target.kind === "flat" && m.kind === "flat") {
    ok = m.bigMiB <= target.maxMiB && m.bigMiB <= m.smallMiB * target.maxGrowth;
  } else if (target.kind === "bounded" && m.kind === "bounded") {
    ok = m.fds <= target.maxFds && m.peakMiB <= target.maxMiB;
  } else return "n/a";
  return ok ? "pass" : "miss";
}

/** The median (the upper middle for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Seconds for people: "820 ms", "2.41 s", "23.6 s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

/** Throughput of `bytes` in `s` seconds: "44 MiB/s". */
export function formatRate(bytes: number, s: number): string {
  return `${(bytes / MiB / s).toFixed(0)} MiB/s`;
}

/** A size: "64 MiB", "1 GiB", "5.0 KB" style for the workload names. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)} GiB`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MiB`;
  return `${+(bytes / 1000).toFixed(1)} KB`;
}

/** A ratio cell: "0.27×", or "—". */
export function formatRatio(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? "—" : `${ratio.toFixed(2)}×`;
}

/** A Markdown table, columns padded to their widest cell. */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  // A "|" inside a cell (shell pipelines) would end the cell in Markdown.
  const all = [head, ...rows].map((r) => head.map((_, i) => (r[i] ?? "").replaceAll("|", "\\|")));
  const width = (s: string) => [...s].length;
  const widths = head.map((_, i) => Math.max(...all.map((r) => width(r[i]!))));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => c + " ".repeat(widths[i]! - width(c))).join(" | ") + " |";
  const rule = "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|";
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join("\n");
}

/** The `shipped: N` count of a `--once` summary; null when absent. */
export function shippedCount(stdout: string): number | null {
  const m = /^shipped: (\d+)/m.exec(stdout);
  return m ? Number(m[1]) : null;
}

/**
 * Why a failed run failed, from its stderr: the `error="…"` of the last error line (or that line
 * without its timestamp), else the last line.
 */
export function failureLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const last = lines.findLast((l) => /error|failed|uncaught/i.test(l)) ?? lines.at(-1);
  if (last === undefined) return "no output";
  const quoted = /\berror="((?:[^"\\]|\\.)*)"/.exec(last)?.[1];
  const line = quoted ?? last.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+/, "");
  return line.length > 160 ? line.slice(0, 157) + "..." : line;
}
