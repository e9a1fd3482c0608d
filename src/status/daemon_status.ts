/**
 * `<data_root>/.cis490-ship.status.json`: what the shipper knows that the disk does not show
 * (pause, last success and error, counters). The service writes it atomically after each pass,
 * and so does every `--once` run (cron is as visible as the service); `status` and the metrics
 * read it.
 */
import { OWN } from "../layout.ts";
import { join } from "node:path";
import { writeJsonAtomic } from "../fs/atomic.ts";
import { denoFs, type Fs } from "../fs/fs.ts";
import { readText } from "../fs/read_text.ts";
import type { PauseWhy } from "../queue/gate.ts";
import type { Counters, QueueMemory } from "../queue/pass.ts";

/** Name of the daemon status file under `data_root`. */
export const DAEMON_STATUS_FILE: string = OWN.status;

/** Why the daemon stopped uploading for the whole host. */
export type { PauseWhy };

/** Counters since the daemon started. */
export type DaemonCounters = Counters;

/** The daemon status file, version 1. Times are RFC 3339. */
export interface DaemonStatus {
  version: 1;
  pid: number;
  /** Who wrote it: the service, or a `--once` run. Absent in files from before 0.3: the service. */
  mode?: "service" | "once";
  updated_at: string;
  paused: null | { why: PauseWhy; message: string; since: string; next_probe_at: string | null };
  last_success: null | { at: string; episode: string };
  last_error: null | { at: string; message: string };
  counters: DaemonCounters;
}

const PAUSE_WHYS: readonly string[] = ["credentials", "misconfigured", "collector-down"];
const COUNTERS: readonly (keyof DaemonCounters)[] = [
  "shipped",
  "duplicates",
  "quarantined",
  "failed_attempts",
  "bytes_shipped",
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isTime(v: unknown): v is string {
  return typeof v === "string" && !Number.isNaN(Date.parse(v));
}

/** Parses the status file's text; null when it is not a version-1 status. */
export function parseDaemonStatus(text: string): DaemonStatus | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || v.version !== 1 || !Number.isSafeInteger(v.pid) || !isTime(v.updated_at)) {
    return null;
  }
  const p = v.paused;
  if (
    p !== null && !(isObject(p) && PAUSE_WHYS.includes(p.why as string) &&
      typeof p.message === "string" && isTime(p.since) &&
      (p.next_probe_at === null || isTime(p.next_probe_at)))
  ) return null;
  const s = v.last_success;
  if (s !== null && !(isObject(s) && isTime(s.at) && typeof s.episode === "string")) return null;
  const e = v.last_error;
  if (e !== null && !(isObject(e) && isTime(e.at) && typeof e.message === "string")) return null;
  if (v.mode !== undefined && v.mode !== "service" && v.mode !== "once") return null;
  const c = v.counters;
  if (!isObject(c) || !COUNTERS.every((k) => Number.isSafeInteger(c[k]) && (c[k] as number) >= 0)) {
    return null;
  }
  return v as unknown as DaemonStatus;
}

/** Path of the daemon status file of a data root. */
export function daemonStatusPath(dataRoot: string): string {
  return join(dataRoot, DAEMON_STATUS_FILE);
}

/** Options for {@linkcode readDaemonStatus}. */
export interface ReadDaemonStatusOptions {
  /** @default {denoFs} */
  fs?: Fs;
}

/** Reads the daemon status file; null when it is missing or unusable. */
export async function readDaemonStatus(
  dataRoot: string,
  options: ReadDaemonStatusOptions = {},
): Promise<DaemonStatus | null> {
  try {
    return parseDaemonStatus(await readText(options.fs ?? denoFs, daemonStatusPath(dataRoot)));
  } catch {
    return null;
  }
}

/** Writes the daemon status file atomically (the daemon calls it after each pass). */
export function writeDaemonStatus(dataRoot: string, status: DaemonStatus): Promise<void> {
  // Rewritten after every pass and only informative: not worth two fsyncs each time.
  return writeJsonAtomic(daemonStatusPath(dataRoot), status, { durability: "process" });
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The status the service writes for its memory at `now`. Pure. */
export function daemonStatusOf(memory: QueueMemory, pid: number, now: number): DaemonStatus {
  const p = memory.gate.paused;
  return {
    version: 1,
    pid,
    mode: "service",
    updated_at: iso(now),
    paused: p
      ? { why: p.why, message: p.message, since: iso(p.since), next_probe_at: iso(p.nextProbeAt) }
      : null,
    last_success: memory.lastSuccess
      ? { at: iso(memory.lastSuccess.at), episode: memory.lastSuccess.episode }
      : null,
    last_error: memory.lastError
      ? { at: iso(memory.lastError.at), message: memory.lastError.message }
      : null,
    counters: { ...memory.counters },
  };
}

/**
 * The status a `--once` run writes: what it learnt, over what the file held before. A run that
 * had nothing to do keeps the last success and error; counters add up across runs, so they only
 * grow between two service starts. Pure.
 */
export function onceStatusOf(
  previous: DaemonStatus | null,
  memory: QueueMemory,
  options: { pid: number; now: number },
): DaemonStatus {
  const run = daemonStatusOf(memory, options.pid, options.now);
  const counters = { ...run.counters };
  if (previous) { for (const k of COUNTERS) counters[k] += previous.counters[k]; }
  return {
    ...run,
    mode: "once",
    last_success: run.last_success ?? previous?.last_success ?? null,
    last_error: run.last_error ?? previous?.last_error ?? null,
    counters,
  };
}
