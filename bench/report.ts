/**
 * The benchmark's pure core: arguments, rows, targets, verdicts, medians and the table. No I/O.
 * Jobs (bench/jobs/*.ts) return {@linkcode Row}s; the runner (bench/bench.ts) prints them.
 */

/** What `deno task bench` was asked to do. */
export interface BenchArgs {
  /** Small sizes, one repetition: checks the harness, measures nothing. @default {false} */
  quick: boolean;
  /** Repetitions per row (medians are taken). @default {3, or 1 with --quick} */
  runs: number;
  /** Jobs to run, in the runner's order. @default {every job} */
  only: string[];
  /** Where the JSON goes. @default {undefined: bench-results.json in the repository} */
  out?: string;
  help: boolean;
}

/** The usage text for jobs named `ids`. */
export function usage(ids: readonly string[]): string {
  return `deno task bench [--quick] [--runs N] [--only JOB[,JOB…]] [--out FILE]

  --quick   small sizes, 1 repetition: checks that the harness works; verdicts mean nothing
  --runs N  repetitions per row, interleaved ours/peer; medians reported (default 3)
  --only    jobs: ${ids.join(", ")}
  --out     where the JSON goes (default bench-results.json in the repository)`;
}

/**
 * Parses the command line; `ids` are the jobs there are, in the order they run.
 * @throws {TypeError} on an unknown flag, job or a bad value
 */
export function parseBenchArgs(argv: readonly string[], ids: readonly string[]): BenchArgs {
  let quick = false, help = false;
  let runs: number | undefined;
  let only: string[] = [...ids];
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
          if (!ids.includes(name)) {
            throw new TypeError(`Unknown job: "${name}" (jobs: ${ids.join(", ")})`);
          }
        }
        only = ids.filter((id) => names.includes(id));
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

/** What a row must reach. */
export type Target =
  | { kind: "ratio"; max: number }
  | { kind: "ceiling"; maxMB: number }
  | { kind: "bounded"; maxFds: number; maxMB: number }
  | { kind: "bytes"; max: number }
  | { kind: "none" };

/** A target as the table shows it. */
export function targetText(target: Target): string {
  switch (target.kind) {
    case "ratio":
      return `≤ ${target.max}×`;
    case "ceiling":
      return `≤ ${target.maxMB} MB`;
    case "bounded":
      return `≤ ${target.maxFds} fds, ≤ ${target.maxMB} MB`;
    case "bytes":
      return `bytes ≤ ${target.max}× peer`;
    case "none":
      return "—";
  }
}

/** What was measured for a row, in the units its target uses (MB are 10^6 bytes, as RSS is). */
export type Measurement =
  | { kind: "ratio"; ratio: number }
  | { kind: "ceiling"; peakMB: number }
  | { kind: "bounded"; fds: number; peakMB: number }
  | { kind: "bytes"; ratio: number };

/** A row's verdict. */
export type Verdict = "pass" | "miss" | "n/a";

/** Whether a measurement meets its target; "n/a" when nothing was measured or kinds differ. */
export function verdictOf(target: Target, m: Measurement | null): Verdict {
  if (m === null || target.kind === "none") return "n/a";
  const values = Object.values(m).filter((v): v is number => typeof v === "number");
  if (!values.every(Number.isFinite)) return "n/a";
  let ok: boolean;
  if (target.kind === "ratio" && m.kind === "ratio") ok = m.ratio <= target.max;
  else if (target.kind === "ceiling" && m.kind === "ceiling") ok = m.peakMB <= target.maxMB;
  else if (target.kind === "bounded" && m.kind === "bounded") {
    ok = m.fds <= target.maxFds && m.peakMB <= target.maxMB;
  } else if (target.kind === "bytes" && m.kind === "bytes") ok = m.ratio <= target.max;
  else return "n/a";
  return ok ? "pass" : "miss";
}

/** One row of the table and of the JSON. */
export interface Row {
  /** `<job>` or `<job>-<variant>`: unique in the table. */
  id: string;
  workload: string;
  ours: string;
  peer: string;
  ratio: number | null;
  target: string;
  verdict: Verdict;
  context: string;
  error?: string;
  /** The raw numbers (JSON only). */
  data: Record<string, unknown>;
}

/** A row for a job or measurement that failed: its error instead of numbers. */
export function failedRow(id: string, workload: string, target: Target, error: string): Row {
  return {
    id,
    workload,
    ours: "n/a",
    peer: "",
    ratio: null,
    target: targetText(target),
    verdict: "n/a",
    context: "",
    error,
    data: {},
  };
}

/** The median (the upper middle for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

const MiB = 1024 * 1024;

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
  if (bytes >= 1000) return `${+(bytes / 1000).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** Exact bytes with separators: "31,403 B". */
export function formatBytes(bytes: number): string {
  return `${bytes.toLocaleString("en")} B`;
}

/** Resident memory in MB (10^6 bytes, as `ps` and the targets count): "76 MB". */
export function formatMB(kib: number): string {
  return `${(kib * 1024 / 1e6).toFixed(0)} MB`;
}

/** KiB (as /proc and GNU time report) → MB (10^6 bytes, the unit of the memory targets). */
export function mbOf(kib: number): number {
  return kib * 1024 / 1e6;
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

/** The table's columns. */
export const COLUMNS = [
  "row",
  "workload",
  "cis490-ship",
  "peer",
  "ratio",
  "target",
  "verdict",
  "context",
] as const;

/** The table's cells for `rows`. */
export function tableOf(rows: readonly Row[]): string {
  return formatTable(
    COLUMNS,
    rows.map((r) => [
      r.id,
      r.workload,
      r.ours,
      r.peer,
      formatRatio(r.ratio),
      r.target,
      r.error !== undefined && r.verdict === "n/a" ? `n/a: ${r.error}` : r.verdict,
      r.context + (r.error !== undefined && r.verdict !== "n/a" ? ` (${r.error})` : ""),
    ]),
  );
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

/** `{ full, quick }` → the one this run uses. */
export function pick<T>(quick: boolean, sizes: { full: T; quick: T }): T {
  return quick ? sizes.quick : sizes.full;
}
