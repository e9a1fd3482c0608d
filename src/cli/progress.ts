/**
 * Progress on a terminal, as rclone shows it: the episode in flight and its phase, bytes done of
 * its total, the rate, the ETA, and the bytes packed and uploaded so far, on one stderr line that
 * is rewritten while a large episode packs and uploads. A log line clears it first and it is drawn
 * again below. Never under journald or into a pipe ({@linkcode showsProgress}), where a rewritten
 * line is noise. Time comes in as `now()`, so tests drive it.
 */
import { formatBytes } from "../status/status.ts";
import type { ProgressEvent } from "../queue/progress.ts";

export type { ProgressEvent };

/** What the line shows. */
export interface ProgressView {
  /** The episode in flight the longest, or null when none is. */
  current:
    | { episode: string; phase: "pack" | "upload"; doneBytes: number; totalBytes: number }
    | null;
  /** Others in flight besides `current`. */
  others: number;
  /** Bytes per second of `current`'s phase over the last {@linkcode RATE_WINDOW_MS}; null: not known yet. */
  rate: number | null;
  /** Seconds until `current` is done at `rate`; null when unknown. */
  etaS: number | null;
  /** Bytes of episode files packed so far. */
  packedBytes: number;
  /** Tarball bytes uploaded so far. */
  uploadedBytes: number;
}

/** The rate is measured over this much time: long enough to be steady, short enough to follow. */
export const RATE_WINDOW_MS = 5_000;

/** Whether to show progress: stderr is a terminal and journald is not reading it. */
export function showsProgress(isTerminal: boolean, journalStream: string | undefined): boolean {
  return isTerminal && !journalStream;
}

function duration(s: number): string {
  const t = Math.max(0, Math.ceil(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The progress line, at most `columns - 1` characters so it never wraps (a wrapped line cannot
 * be cleared with one carriage return). Pure.
 * @example
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * formatProgress({
 *   current: { episode: "ep-1", phase: "upload", doneBytes: 1048576, totalBytes: 4194304 },
 *   others: 0,
 *   rate: 1048576,
 *   etaS: 3,
 *   packedBytes: 4194304,
 *   uploadedBytes: 1048576,
 * }); // "ep-1 upload 1.0 MiB/4.0 MiB 25% · 1.0 MiB/s · ETA 3s | packed 4.0 MiB, uploaded 1.0 MiB"
 * ```
 */
export function formatProgress(view: ProgressView, columns = 120): string {
  const totals = `packed ${formatBytes(view.packedBytes)}, uploaded ${
    formatBytes(view.uploadedBytes)
  }`;
  let line = totals;
  const c = view.current;
  if (c) {
    const pct = c.totalBytes > 0 ? Math.floor((c.doneBytes / c.totalBytes) * 100) : 100;
    const rate = view.rate === null ? "-/s" : `${formatBytes(view.rate)}/s`;
    const eta = view.etaS === null ? "ETA -" : `ETA ${duration(view.etaS)}`;
    const more = view.others > 0 ? ` (+${view.others} in flight)` : "";
    line = `${c.episode} ${c.phase} ${formatBytes(c.doneBytes)}/${
      formatBytes(c.totalBytes)
    } ${pct}% · ${rate} · ${eta}${more} | ${totals}`;
  }
  const max = Math.max(10, columns - 1);
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Writes raw text to the terminal (stderr). */
  write: (text: string) => void;
  /** @default {Date.now} */
  now?: () => number;
  /** Redraws at most this often (a phase that starts or ends redraws at once). @default {100} */
  intervalMs?: number;
  /** The terminal's width. @default {Deno.consoleSize() of stderr, else 120} */
  columns?: () => number;
}

/** The progress line of one command. */
export interface ProgressLine {
  /** Takes one progress event; redraws when due. */
  update(event: ProgressEvent): void;
  /** Writes a log line: clears the progress line, writes `line`, draws the progress again. */
  log(line: string): void;
  /** Clears the line (before something else is printed), to be drawn again at the next update. */
  clear(): void;
  /** Clears the line for good. */
  end(): void;
}

interface InFlight {
  phase: "pack" | "upload";
  doneBytes: number;
  totalBytes: number;
  startedAt: number;
}

function terminalColumns(): number {
  try {
    // A pseudo-terminal nobody sized reports 0 columns.
    return Deno.consoleSize().columns || 120;
  } catch {
    return 120;
  }
}

/** Creates the progress line. */
export function createProgress(options: ProgressOptions): ProgressLine {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 100;
  const columns = options.columns ?? terminalColumns;
  const inFlight = new Map<string, InFlight>();
  const done = { pack: 0, upload: 0 };
  // Cumulative bytes per phase over time, for the rate: [time, bytes] oldest first.
  const samples = { pack: [] as [number, number][], upload: [] as [number, number][] };
  let shown = "";
  let lastDraw = -Infinity;

  const sample = (phase: "pack" | "upload", t: number) => {
    const list = samples[phase];
    list.push([t, done[phase]]);
    while (list.length > 2 && list[1]![0] <= t - RATE_WINDOW_MS) list.shift();
  };
  const rateOf = (phase: "pack" | "upload", t: number): number | null => {
    const list = samples[phase];
    const first = list[0];
    const last = list[list.length - 1];
    if (!first || !last || last[0] - first[0] <= 0) return null;
    // Time since the last sample counts too: a phase that stalls shows its rate falling.
    return (last[1] - first[1]) / ((Math.max(t, last[0]) - first[0]) / 1000);
  };
  const view = (t: number): ProgressView => {
    let current: [string, InFlight] | null = null;
    for (const entry of inFlight) {
      if (!current || entry[1].startedAt < current[1].startedAt) current = entry;
    }
    const c = current;
    const rate = c ? rateOf(c[1].phase, t) : null;
    return {
      current: c
        ? {
          episode: c[0],
          phase: c[1].phase,
          doneBytes: c[1].doneBytes,
          totalBytes: c[1].totalBytes,
        }
        : null,
      others: Math.max(0, inFlight.size - 1),
      rate,
      etaS: c && rate ? (c[1].totalBytes - c[1].doneBytes) / rate : null,
      packedBytes: done.pack,
      uploadedBytes: done.upload,
    };
  };
  const draw = (t: number) => {
    lastDraw = t;
    shown = inFlight.size > 0 || done.pack + done.upload > 0
      ? formatProgress(view(t), columns())
      : "";
    if (shown) options.write(`\r\x1b[K${shown}`);
  };
  const clear = () => {
    if (shown) options.write("\r\x1b[K");
    shown = "";
  };

  return {
    update(event) {
      const t = now();
      const item = inFlight.get(event.episode);
      const before = item && item.phase === event.phase ? item.doneBytes : 0;
      // Only bytes that move forward count: a retry starting again from 0 adds nothing twice.
      const reached = Math.min(event.doneBytes, event.totalBytes);
      done[event.phase] += Math.max(0, reached - before);
      sample(event.phase, t);
      const ends = event.ended === true || event.doneBytes >= event.totalBytes;
      if (ends) inFlight.delete(event.episode);
      else {
        inFlight.set(event.episode, {
          phase: event.phase,
          doneBytes: reached,
          totalBytes: event.totalBytes,
          startedAt: item && item.phase === event.phase ? item.startedAt : t,
        });
      }
      const starts = !item || item.phase !== event.phase;
      if (starts || ends || t - lastDraw >= intervalMs) draw(t);
    },
    log(line) {
      const redraw = shown !== "";
      clear();
      options.write(line + "\n");
      if (redraw) draw(now());
    },
    clear,
    end: clear,
  };
}
