/**
 * The pass's account of what happened: the summary, the service's counters and last
 * success/error, and the outcome log lines. The only place any of them change, so every outcome
 * is counted once and logged once.
 */
import { GarbageBound } from "../gc.ts";
import type { Logger } from "../log/log.ts";
import type { Gate, PauseWhy } from "./gate.ts";
import type { QuarantineSource } from "./reason.ts";
import type { AccessProblem } from "./world.ts";
import type { EpisodeState } from "./state.ts";

/** Counters since the service started, for status and metrics. */
export interface Counters {
  shipped: number;
  duplicates: number;
  quarantined: number;
  failed_attempts: number;
  bytes_shipped: number;
}

/** What the service keeps from one pass to the next. */
export interface QueueMemory {
  gate: Gate;
  /** Outbox states this process wrote or read (`outbox.ts`). */
  states: Map<string, EpisodeState>;
  /** Preflight results by episode, keyed so a change to the episode is noticed. */
  preflightCache: Map<string, { key: string; commit: string; accessOk: boolean }>;
  counters: Counters;
  /** Inodes of non-UTF-8 episode directories already reported (once per process). */
  unaddressableLogged: Set<string>;
  /** Held episodes already reported, by id and problem (once per process each). */
  heldLogged: Map<string, string>;
  lastSuccess: { at: number; episode: string } | null;
  lastError: { at: number; message: string } | null;
  /** Whether this process has run its once-per-process recovery. */
  recovered: boolean;
  /**
   * Checked after every episode: a full collection once the heap grew by its slack since the last
   * one (`src/gc.ts`). Kept across passes: the service ships a few episodes per pass.
   */
  garbage: { check(): unknown };
}

/** Why uploads stopped for the rest of a pass. */
export interface Pause {
  why: Exclude<PauseWhy, "collector-down">;
  status: number;
  message: string;
}

/** Where every episode seen in a pass ended. */
export interface PassSummary {
  shipped: string[];
  /** Shipped on an answer that the receiver already had it. */
  duplicates: string[];
  /** Duplicates the receiver never confirmed (a 409 without a digest): kept from prune. */
  unconfirmed: string[];
  quarantined: { id: string; source: QuarantineSource; reason: string }[];
  /** Still to send, with why and when it is next due (ms; null: next pass). */
  queued: { id: string; why: string; nextAttemptAt: number | null }[];
  /** Held for an operator: the shipper cannot read or move them (with the fix). */
  held: { id: string; path: string; problem: string; fix: string }[];
  /** Directories without `done.marker`. */
  incomplete: string[];
  /** Entries of `episodes/` that are not directories. */
  ignored: string[];
  /** Episode directories whose names are not valid UTF-8 (lossy names). */
  unaddressable: string[];
  /** Set when the receiver refused our credentials, URL or clock in this pass. */
  paused: Pause | null;
  /** Set when a transient failure stopped further uploads this pass. */
  collectorDown: string | null;
  /** Requests sent this pass. */
  requests: number;
  /** What the receiver is, in words (`Receiver.noun`), for the summary's lines. @default {"collector"} */
  noun?: string;
}

/**
 * How each pause reads in logs and summaries, naming what the receiver is (`Receiver.noun`:
 * "collector", "object store"), so an operator looks at the right machine.
 */
export function pauseText(why: PauseWhy, noun = "collector"): string {
  switch (why) {
    case "credentials":
      return `${noun} refused our credentials`;
    case "misconfigured":
      return noun === "collector"
        ? "collector URL or collector configuration is wrong"
        : `${noun} address, bucket or configuration is wrong`;
    case "clock":
      return `this host's clock is off by more than the ${noun} allows (not the episode's fault)`;
    case "collector-down":
      return `${noun} unavailable`;
  }
}

/** A fresh memory: gate not yet proven, nothing learnt. */
export function newMemory(gate: Gate): QueueMemory {
  return {
    gate,
    states: new Map(),
    preflightCache: new Map(),
    counters: { shipped: 0, duplicates: 0, quarantined: 0, failed_attempts: 0, bytes_shipped: 0 },
    unaddressableLogged: new Set(),
    heldLogged: new Map(),
    lastSuccess: null,
    lastError: null,
    recovered: false,
    garbage: new GarbageBound(),
  };
}

function emptySummary(): PassSummary {
  return {
    shipped: [],
    duplicates: [],
    unconfirmed: [],
    quarantined: [],
    queued: [],
    held: [],
    incomplete: [],
    ignored: [],
    unaddressable: [],
    paused: null,
    collectorDown: null,
    requests: 0,
  };
}

/** One pass's account. */
export class Tally {
  readonly summary: PassSummary = emptySummary();

  constructor(
    readonly memory: QueueMemory,
    readonly log: Logger,
    readonly now: () => number,
    /** What the receiver is, in words (`Receiver.noun`). */
    readonly noun = "collector",
  ) {
    if (noun !== "collector") this.summary.noun = noun;
  }

  /** {@linkcode pauseText} for this pass's receiver. */
  pauseText(why: PauseWhy): string {
    return pauseText(why, this.noun);
  }

  /** Still to do; `nextAt` null means the next pass. */
  queued(id: string, why: string, nextAt: number | null): void {
    this.summary.queued.push({ id, why, nextAttemptAt: nextAt });
  }

  /** Held for an operator; logged loudly once per process for each problem. */
  held(id: string, problem: AccessProblem): void {
    this.summary.held.push({ id, ...problem });
    const said = `${problem.problem} (${problem.path})`;
    if (this.memory.heldLogged.get(id) === said) return;
    this.memory.heldLogged.set(id, said);
    this.log.error("episode held: the shipper cannot read or move it; nothing was sent", {
      episode: id,
      path: problem.path,
      problem: problem.problem,
      fix: problem.fix,
    });
  }

  /** Moved into `shipped/`. */
  shipped(
    id: string,
    how: { duplicate: boolean; unconfirmed: boolean; status: number; bytes: number; dest: string },
  ): void {
    const c = this.memory.counters;
    if (how.duplicate) {
      this.summary.duplicates.push(id);
      c.duplicates++;
      if (how.unconfirmed) this.summary.unconfirmed.push(id);
    } else {
      this.summary.shipped.push(id);
      c.shipped++;
    }
    c.bytes_shipped += how.bytes;
    this.memory.lastSuccess = { at: this.now(), episode: id };
    const fields = { episode: id, status: how.status, bytes: how.bytes, to: how.dest };
    if (how.unconfirmed) {
      this.log.warn(
        `duplicate: ${this.noun} already has it, but sent no digest of what it holds: moved to ` +
          "shipped and marked unconfirmed; prune keeps it until an operator confirms it",
        fields,
      );
    } else if (how.duplicate) {
      this.log.info(
        `duplicate: ${this.noun} already has it (same digest); moved to shipped`,
        fields,
      );
    } else {
      this.log.info("shipped", fields);
    }
  }

  /** Moved into `quarantine/`. */
  quarantined(id: string, how: { source: QuarantineSource; reason: string; dest: string }): void {
    this.summary.quarantined.push({ id, source: how.source, reason: how.reason });
    this.memory.counters.quarantined++;
    this.log.warn("quarantined", {
      episode: id,
      source: how.source,
      reason: how.reason,
      to: how.dest,
    });
  }

  /** The episode left `episodes/` under our feet (an operator command). */
  movedAway(id: string): void {
    this.log.warn("episode was moved away by another process; leaving it", { episode: id });
  }

  /** One request's result. */
  upload(
    id: string,
    how: { bytes: number; ms: number; outcome: string; status: number | null; attempt: number },
  ): void {
    this.summary.requests++;
    this.log.info("upload", { episode: id, ...how });
  }

  /** A transient failure: the episode is retried later, the host probes. */
  retried(
    id: string,
    how: { attempts: number; error: string; nextAttemptAt: number; nextProbeAt: number | null },
  ): void {
    this.memory.counters.failed_attempts++;
    this.summary.collectorDown = `${
      this.pauseText("collector-down")
    } (${how.error}); probing one episode at a time`;
    this.hostError("collector-down", how.error);
    this.log.warn("upload failed; will retry", {
      episode: id,
      attempt: how.attempts,
      error: how.error,
      next_attempt_at: new Date(how.nextAttemptAt).toISOString(),
      next_probe_at: how.nextProbeAt === null ? null : new Date(how.nextProbeAt).toISOString(),
    });
    this.queued(id, how.error, how.nextAttemptAt);
  }

  /** The receiver refused the host: every upload stops. */
  paused(id: string, pause: Pause, receiver: string): void {
    this.summary.paused = pause;
    this.hostError(pause.why, pause.message);
    this.log.error(
      `${
        this.pauseText(pause.why)
      }: uploads paused, nothing quarantined; fix the config or the ${this.noun}`,
      { episode: id, status: pause.status, answer: pause.message, receiver },
    );
    this.queued(id, `${this.pauseText(pause.why)}: ${pause.message}`, null);
  }

  /** A host failure's last error, for status. */
  hostError(why: PauseWhy, message: string): void {
    this.memory.lastError = { at: this.now(), message: `${this.pauseText(why)}: ${message}` };
  }

  /** A local step failed; it is backed off. */
  localFailure(id: string, how: { error: string; failures: number; nextAt: number }): void {
    this.memory.lastError = { at: this.now(), message: `${id}: ${how.error}` };
    this.log.error("episode failed locally; backing off", {
      episode: id,
      error: how.error,
      attempt: how.failures,
      next_attempt_at: new Date(how.nextAt).toISOString(),
    });
    this.queued(id, how.error, how.nextAt);
  }

  /** The receiver said our tarball was damaged: packed again. */
  repacked(id: string, reason: string): void {
    this.log.warn("the receiver found our tarball damaged; packing it again", {
      episode: id,
      answer: reason,
    });
  }

  /** Packed into `outbox/`. */
  packed(
    id: string,
    how: { entries: number; bytes: number; tarballBytes: number; ms: number },
  ): void {
    this.log.info("packed", {
      episode: id,
      entries: how.entries,
      bytes: how.bytes,
      tarball_bytes: how.tarballBytes,
      ms: how.ms,
    });
  }
}
