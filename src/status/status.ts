/**
 * `cis490-ship status`: which state each episode is in, and the report built from a snapshot of
 * the disk and the daemon status file. Pure.
 */
import type { DaemonCounters, DaemonStatus } from "./daemon_status.ts";

/** The states an episode can be in, in the order they are reported. */
export const STATES = [
  "incomplete",
  "ready",
  "packed",
  "waiting",
  "shipped",
  "quarantined",
] as const;

/** One state of {@linkcode STATES}. */
export type StateName = typeof STATES[number];

/** What the disk says about one episode directory. */
export interface EpisodeSnapshot {
  name: string;
  place: "episodes" | "shipped" | "quarantine";
  /** `done.marker` exists (episodes/ only). */
  complete: boolean;
  /** When `done.marker` was written (ms), or null. */
  completedAt: number | null;
  /** Bytes of the episode's files. */
  bytes: number;
  /** Its outbox state, if any: attempts and when the next attempt is due (ms; null: now). */
  outbox: null | { attempts: number; nextAttemptAt: number | null; lastError: string | null };
  /** Whether a whole tarball for it is in `outbox/`. */
  packed: boolean;
}

/** Everything `status` reads, at one moment. */
export interface StatusSnapshot {
  dataRoot: string;
  hostId: string;
  episodes: EpisodeSnapshot[];
  /** Bytes of tarballs in `outbox/`. */
  outboxBytes: number;
  /** The shipper holding the data root, or null when none does. */
  holder: { pid: number | null } | null;
  daemon: DaemonStatus | null;
}

/** Count and bytes of one state. */
export interface StateTotals {
  count: number;
  bytes: number;
}

/** The `status --json` document, version 1 (docs/operations.md describes every field). */
export interface StatusReport {
  version: 1;
  generated_at: string;
  host_id: string;
  data_root: string;
  daemon: {
    running: boolean;
    pid: number | null;
    status_updated_at: string | null;
  };
  states: Record<StateName, StateTotals>;
  total: StateTotals;
  outbox_bytes: number;
  oldest_ready: null | { episode: string; completed_at: string; age_s: number };
  next_retry: null | { episode: string; at: string; attempts: number; last_error: string | null };
  paused: DaemonStatus["paused"];
  last_success: DaemonStatus["last_success"];
  last_error: DaemonStatus["last_error"];
  counters: DaemonCounters | null;
}

/** The state of one episode at `now`. */
export function stateOf(episode: EpisodeSnapshot, now: number): StateName {
  if (episode.place === "shipped") return "shipped";
  if (episode.place === "quarantine") return "quarantined";
  if (!episode.complete) return "incomplete";
  const due = episode.outbox?.nextAttemptAt ?? null;
  if (due !== null && due > now) return "waiting";
  return episode.packed ? "packed" : "ready";
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Builds the report. */
export function buildStatus(snapshot: StatusSnapshot, now: number): StatusReport {
  const states = Object.fromEntries(STATES.map((s) => [s, { count: 0, bytes: 0 }])) as Record<
    StateName,
    StateTotals
  >;
  const total = { count: 0, bytes: 0 };
  let oldest: EpisodeSnapshot | null = null;
  let next: EpisodeSnapshot | null = null;
  for (const episode of snapshot.episodes) {
    const state = stateOf(episode, now);
    states[state].count++;
    states[state].bytes += episode.bytes;
    total.count++;
    total.bytes += episode.bytes;
    if (state === "ready" || state === "packed" || state === "waiting") {
      if (oldest === null || (episode.completedAt ?? now) < (oldest.completedAt ?? now)) {
        oldest = episode;
      }
    }
    if (state === "waiting") {
      const due = episode.outbox?.nextAttemptAt ?? 0;
      if (next === null || due < (next.outbox?.nextAttemptAt ?? 0)) next = episode;
    }
  }
  const daemon = snapshot.daemon;
  const running = snapshot.holder !== null;
  const oldestAt = oldest?.completedAt ?? null;
  return {
    version: 1,
    generated_at: iso(now),
    host_id: snapshot.hostId,
    data_root: snapshot.dataRoot,
    daemon: {
      running,
      pid: snapshot.holder?.pid ?? null,
      status_updated_at: daemon?.updated_at ?? null,
    },
    states,
    total,
    outbox_bytes: snapshot.outboxBytes,
    oldest_ready: oldest === null || oldestAt === null ? null : {
      episode: oldest.name,
      completed_at: iso(oldestAt),
      age_s: Math.max(0, Math.floor((now - oldestAt) / 1000)),
    },
    next_retry: next?.outbox?.nextAttemptAt == null ? null : {
      episode: next.name,
      at: iso(next.outbox.nextAttemptAt),
      attempts: next.outbox.attempts,
      last_error: next.outbox.lastError,
    },
    // A pause the daemon recorded means nothing once no daemon holds the data root.
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

const STATE_HELP: Record<StateName, string> = {
  incomplete: "no done.marker yet",
  ready: "complete, not packed yet",
  packed: "tarball in outbox/, due now",
  waiting: "backing off after a failed attempt",
  shipped: "in shipped/",
  quarantined: "in quarantine/",
};

/** The human-readable report, one line per fact. */
export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [];
  const d = report.daemon;
  lines.push(`host ${report.host_id}, data root ${report.data_root}`);
  lines.push(
    d.running
      ? `daemon: running (pid ${d.pid ?? "unknown"})${
        d.status_updated_at ? `, last pass ${d.status_updated_at}` : ""
      }`
      : "daemon: not running",
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
  for (const state of STATES) {
    const t = report.states[state];
    lines.push(
      `  ${state.padEnd(width)}  ${String(t.count).padStart(6)}  ${
        formatBytes(t.bytes).padStart(10)
      }  ${STATE_HELP[state]}`,
    );
  }
  lines.push(
    `  ${"total".padEnd(width)}  ${String(report.total.count).padStart(6)}  ${
      formatBytes(report.total.bytes).padStart(10)
    }  (outbox tarballs: ${formatBytes(report.outbox_bytes)})`,
  );
  const o = report.oldest_ready;
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
      ? `next retry: ${n.episode} at ${n.at} (after ${n.attempts} failed attempts: ${
        n.last_error ?? "unknown error"
      })`
      : "next retry: none",
  );
  const s = report.last_success;
  lines.push(s ? `last success: ${s.episode} at ${s.at}` : "last success: none recorded");
  const e = report.last_error;
  lines.push(e ? `last error: ${e.message} at ${e.at}` : "last error: none recorded");
  return lines;
}
