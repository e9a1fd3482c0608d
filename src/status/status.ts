/**
 * `cis490-ship status`: which state each episode is in, and the report built from a snapshot of
 * the disk and the shipper's status file. Pure.
 */
import type { DaemonCounters, DaemonStatus } from "./daemon_status.ts";

/** The states an episode can be in, in the order they are reported. */
export const STATES = [
  "incomplete",
  "ready",
  "rejected",
  "packed",
  "waiting",
  "shipped",
  "quarantined",
] as const;

/** One state of {@linkcode STATES}. */
export type StateName = typeof STATES[number];

/** What the disk says about one episode directory in `episodes/`. */
export interface EpisodeSnapshot {
  name: string;
  /** `done.marker` exists. */
  complete: boolean;
  /** When `done.marker` was written (ms), or null. */
  completedAt: number | null;
  /** Bytes of the episode's files. */
  bytes: number;
  /** Why preflight will quarantine it, or null when it passes (or it is incomplete). */
  rejected: string | null;
  /** Its outbox state, if any: attempts and when the next attempt is due (ms; null: now). */
  outbox: null | { attempts: number; nextAttemptAt: number | null; lastError: string | null };
  /** Whether a whole tarball for it is in `outbox/`. */
  packed: boolean;
}

/** Everything `status` reads, at one moment. */
export interface StatusSnapshot {
  dataRoot: string;
  hostId: string;
  /** The directories of `episodes/`. */
  episodes: EpisodeSnapshot[];
  /** Entries of `shipped/` and `quarantine/` (counted, never walked). */
  shipped: number;
  quarantined: number;
  /** Entries of `shipped/` the collector never confirmed (marked; prune keeps them). */
  unconfirmed: number;
  /** Bytes of tarballs in `outbox/`. */
  outboxBytes: number;
  /** The shipper holding the data root, or null when none does. */
  holder: { pid: number | null } | null;
  daemon: DaemonStatus | null;
}

/** Count and bytes of one state; bytes are null where they are not measured (history). */
export interface StateTotals {
  count: number;
  bytes: number | null;
}

/** A waiting episode: when it is next tried, and why the last try failed. */
export interface WaitingEpisode {
  episode: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
}

/** The `status --json` document, version 2 (docs/operations.md describes every field). */
export interface StatusReport {
  version: 2;
  generated_at: string;
  host_id: string;
  data_root: string;
  daemon: {
    running: boolean;
    pid: number | null;
    status_updated_at: string | null;
    /** Who wrote the status file last: the service or a `--once` run. */
    status_written_by: "service" | "once" | null;
  };
  states: Record<StateName, StateTotals>;
  /** Every episode directory; `bytes`: those in `episodes/` only. */
  total: { count: number; bytes: number };
  outbox_bytes: number;
  /** The oldest complete episode not shipped yet (`ready`, `packed` or `waiting`). */
  oldest_unshipped: null | { episode: string; completed_at: string; age_s: number };
  next_retry: null | { episode: string; at: string; attempts: number; last_error: string | null };
  /** Every waiting episode, the one due first first. */
  waiting: WaitingEpisode[];
  /** Every complete episode preflight will quarantine at the next pass, and why. */
  rejected: { episode: string; reason: string }[];
  unconfirmed: { count: number };
  paused: DaemonStatus["paused"];
  last_success: DaemonStatus["last_success"];
  last_error: DaemonStatus["last_error"];
  counters: DaemonCounters | null;
}

/** The state of one episode of `episodes/` at `now`. */
export function stateOf(episode: EpisodeSnapshot, now: number): StateName {
  if (!episode.complete) return "incomplete";
  const due = episode.outbox?.nextAttemptAt ?? null;
  if (due !== null && due > now) return "waiting";
  if (episode.packed) return "packed";
  return episode.rejected !== null ? "rejected" : "ready";
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Builds the report. */
export function buildStatus(snapshot: StatusSnapshot, now: number): StatusReport {
  const states = Object.fromEntries(STATES.map((s) => [s, { count: 0, bytes: 0 }])) as Record<
    StateName,
    StateTotals
  >;
  let oldest: EpisodeSnapshot | null = null;
  const waiting: EpisodeSnapshot[] = [];
  const rejected: { episode: string; reason: string }[] = [];
  let bytes = 0;
  for (const episode of snapshot.episodes) {
    const state = stateOf(episode, now);
    states[state].count++;
    states[state].bytes = (states[state].bytes ?? 0) + episode.bytes;
    bytes += episode.bytes;
    if (state === "ready" || state === "packed" || state === "waiting") {
      if (oldest === null || (episode.completedAt ?? now) < (oldest.completedAt ?? now)) {
        oldest = episode;
      }
    }
    if (state === "waiting") waiting.push(episode);
    if (state === "rejected") rejected.push({ episode: episode.name, reason: episode.rejected! });
  }
  states.shipped = { count: snapshot.shipped, bytes: null };
  states.quarantined = { count: snapshot.quarantined, bytes: null };
  const dueOf = (e: EpisodeSnapshot) => e.outbox?.nextAttemptAt ?? 0;
  waiting.sort((a, b) => dueOf(a) - dueOf(b) || (a.name < b.name ? -1 : 1));
  const next = waiting[0] ?? null;
  const daemon = snapshot.daemon;
  const running = snapshot.holder !== null;
  const oldestAt = oldest?.completedAt ?? null;
  return {
    version: 2,
    generated_at: iso(now),
    host_id: snapshot.hostId,
    data_root: snapshot.dataRoot,
    daemon: {
      running,
      pid: snapshot.holder?.pid ?? null,
      status_updated_at: daemon?.updated_at ?? null,
      status_written_by: daemon ? daemon.mode ?? "service" : null,
    },
    states,
    total: { count: snapshot.episodes.length + snapshot.shipped + snapshot.quarantined, bytes },
    outbox_bytes: snapshot.outboxBytes,
    oldest_unshipped: oldest === null || oldestAt === null ? null : {
      episode: oldest.name,
      completed_at: iso(oldestAt),
      age_s: Math.max(0, Math.floor((now - oldestAt) / 1000)),
    },
    next_retry: next === null ? null : {
      episode: next.name,
      at: iso(dueOf(next)),
      attempts: next.outbox?.attempts ?? 0,
      last_error: next.outbox?.lastError ?? null,
    },
    waiting: waiting.map((e) => ({
      episode: e.name,
      attempts: e.outbox?.attempts ?? 0,
      next_attempt_at: iso(dueOf(e)),
      last_error: e.outbox?.lastError ?? null,
    })),
    rejected,
    unconfirmed: { count: snapshot.unconfirmed },
    // A pause the shipper recorded means nothing once no shipper holds the data root.
    paused: running ? daemon?.paused ?? null : null,
    last_success: daemon?.last_success ?? null,
    last_error: daemon?.last_error ?? null,
    counters: daemon?.counters ?? null,
  };
}

/** Bytes for people: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds for people: 3725 → "1h 2m". */
export function formatAge(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${seconds % 60}s`;
  return `${seconds}s`;
}

/** What each state means; `ready` and `packed` are not due while uploads are paused. */
function stateHelp(state: StateName, paused: boolean): string {
  switch (state) {
    case "incomplete":
      return "no done.marker yet";
    case "ready":
      return paused
        ? "complete, preflight passes; held while uploads are paused"
        : "complete, preflight passes, not packed yet";
    case "rejected":
      return "complete, preflight will quarantine it";
    case "packed":
      return paused
        ? "tarball in outbox/; held while uploads are paused"
        : "tarball in outbox/, due now";
    case "waiting":
      return "backing off after a failed attempt";
    case "shipped":
      return "in shipped/";
    case "quarantined":
      return "in quarantine/";
  }
}

/** How many waiting or rejected episodes the text lists; `--json` lists them all. */
export const LISTED = 10;

const attempts = (n: number) => `${n} failed attempt${n === 1 ? "" : "s"}`;

/** The human-readable report, one line per fact. */
export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [];
  const d = report.daemon;
  const by = d.status_written_by === "once" ? " (a --once run)" : "";
  lines.push(`host ${report.host_id}, data root ${report.data_root}`);
  lines.push(
    d.running
      ? `daemon: running (pid ${d.pid ?? "unknown"})${
        d.status_updated_at ? `, last pass ${d.status_updated_at}${by}` : ""
      }`
      : `daemon: not running${
        d.status_updated_at ? `; last pass ${d.status_updated_at}${by}` : ""
      }`,
  );
  if (report.paused) {
    const p = report.paused;
    lines.push(
      `uploads PAUSED (${p.why}) since ${p.since}: ${p.message}${
        p.next_probe_at ? `; next probe ${p.next_probe_at}` : ""
      }`,
    );
  }
  const width = Math.max(...STATES.map((s) => s.length));
  const size = (bytes: number | null) => (bytes === null ? "-" : formatBytes(bytes));
  for (const state of STATES) {
    const t = report.states[state];
    lines.push(
      `  ${state.padEnd(width)}  ${String(t.count).padStart(6)}  ${size(t.bytes).padStart(10)}  ${
        stateHelp(state, report.paused !== null)
      }`,
    );
  }
  lines.push(
    `  ${"total".padEnd(width)}  ${String(report.total.count).padStart(6)}  ${
      formatBytes(report.total.bytes).padStart(10)
    }  (episodes/ only; outbox tarballs: ${formatBytes(report.outbox_bytes)})`,
  );
  const o = report.oldest_unshipped;
  lines.push(
    o
      ? `oldest unshipped: ${o.episode}, complete for ${
        formatAge(o.age_s)
      } (since ${o.completed_at})`
      : "oldest unshipped: none",
  );
  const n = report.next_retry;
  lines.push(
    n
      ? `next retry: ${n.episode} at ${n.at} (after ${attempts(n.attempts)}: ${
        n.last_error ?? "unknown error"
      })`
      : "next retry: none",
  );
  const more = (total: number) =>
    total > LISTED ? [`  … ${total - LISTED} more (status --json lists them all)`] : [];
  if (report.waiting.length > 0) {
    lines.push("waiting, with each one's last error:");
    for (const w of report.waiting.slice(0, LISTED)) {
      lines.push(
        `  ${w.episode}: ${attempts(w.attempts)}, next at ${w.next_attempt_at}: ${
          w.last_error ?? "unknown error"
        }`,
      );
    }
    lines.push(...more(report.waiting.length));
  }
  if (report.rejected.length > 0) {
    lines.push("rejected, quarantined by the next pass:");
    for (const r of report.rejected.slice(0, LISTED)) lines.push(`  ${r.episode}: ${r.reason}`);
    lines.push(...more(report.rejected.length));
  }
  const u = report.unconfirmed.count;
  lines.push(
    u > 0
      ? `unconfirmed: ${u} shipped episode${
        u === 1 ? "" : "s"
      } the collector never confirmed holding (a 409 without a digest); prune keeps ${
        u === 1 ? "it" : "them"
      } until "cis490-ship confirm"`
      : "unconfirmed: none",
  );
  const s = report.last_success;
  lines.push(s ? `last success: ${s.episode} at ${s.at}` : "last success: none recorded");
  const e = report.last_error;
  lines.push(e ? `last error: ${e.message} at ${e.at}` : "last error: none recorded");
  return lines;
}
