/**
 * `<data_root>/.cis490-ship.status.json`: what only the running service knows (pause, last success,
 * last error, counters), written atomically after each pass for `status` and metrics to read.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../fs/atomic.ts";
import type { Counters, QueueMemory } from "./pass.ts";
import type { PauseWhy } from "./gate.ts";

/** The status file's name under `data_root`. */
export const STATUS_FILE = ".cis490-ship.status.json";

/** What the status file holds (version 1). */
export interface ServiceStatus {
  version: 1;
  pid: number;
  updated_at: string;
  paused: null | {
    why: PauseWhy;
    message: string;
    since: string;
    next_probe_at: string | null;
  };
  last_success: null | { at: string; episode: string };
  last_error: null | { at: string; message: string };
  counters: Counters;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The status record for the service's memory at `now`. Pure. */
export function serviceStatus(memory: QueueMemory, pid: number, now: number): ServiceStatus {
  const p = memory.gate.paused;
  return {
    version: 1,
    pid,
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

/** Writes the status file atomically. */
export async function writeServiceStatus(dataRoot: string, status: ServiceStatus): Promise<void> {
  await writeJsonAtomic(join(dataRoot, STATUS_FILE), status);
}
