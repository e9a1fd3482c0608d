/**
 * One pass over `data_root`: recover, scan, then for each complete episode the step the planner
 * chooses (finish a recorded verdict, wait, prepare = preflight + pack, upload), with up to
 * `upload_concurrency` episodes in flight. The host's upload gate (`gate.ts`) and what the pass
 * learns (local failures, preflight results) live in {@linkcode QueueMemory}, which the service
 * keeps from pass to pass. Decisions are pure functions; this file applies them.
 */
import { basename, join } from "node:path";
import { freeName, listNonUtf8Dirs, moveCompleteByInode, quarantineNameFor } from "./non_utf8.ts";
import type { Config } from "../config/config.ts";
import { describeError, type Logger } from "../log/log.ts";
import { DONE_MARKER, scanEpisodes } from "../episodes/scan.ts";
import { walkEpisode } from "../episodes/walk.ts";
import { preflight } from "../episodes/preflight.ts";
import { EpisodeChangedError, packEpisode } from "../pack/pack.ts";
import { put, type PutRequest, type PutResponse, UploadError } from "../upload/put.ts";
import type { Transport } from "../upload/transport.ts";
import { parseRetryAfter } from "../upload/classify.ts";
import { isValidId } from "../protocol/protocol.ts";
import { episodeRequest } from "../protocol/request.ts";
import { fsyncDir, moveDirNoClobber, tempPathFor, writeJsonAtomic } from "../fs/atomic.ts";
import { encodeBase64 } from "../protocol/_base64.ts";
import { type Layout, layoutOf, statePath, tarballPath } from "./layout.ts";
import { type EpisodeState, readState, type RecordedVerdict } from "./state.ts";
import { type Action, type Attempt, decide } from "./outcome.ts";
import { quarantineReason, type QuarantineSource, REASON_FILE } from "./reason.ts";
import { longestWaitMs, retryDelayMs } from "./backoff.ts";
import {
  admission,
  afterAnswer,
  afterFailure,
  type Gate,
  type PauseWhy,
  UNPROVEN,
} from "./gate.ts";
import { type LocalFailure, planEpisode, waitsUntil } from "./planner.ts";
import { preflightKey } from "./preflight_key.ts";
import { readMeta } from "../episodes/meta.ts";
import { withMovesLock } from "./lock.ts";
import {
  ensureLayout,
  quarantineEpisode,
  recoverOutbox,
  removeOutboxFiles,
  removeTarballs,
  shipEpisode,
} from "./moves.ts";

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
  /** Episodes whose last local step failed, backed off on the schedule. */
  localFailures: Map<string, LocalFailure>;
  /**
   * States holding a verdict, kept in memory too: if the disk refuses to record an answer, this
   * process still never sends that episode again.
   */
  answered: Map<string, EpisodeState>;
  /** Preflight results by episode, keyed so a change to the episode is noticed. */
  preflightCache: Map<string, { key: string; commit: string }>;
  counters: Counters;
  /** Inodes of non-UTF-8 episode directories already reported (once per process). */
  unaddressableLogged: Set<string>;
  lastSuccess: { at: number; episode: string } | null;
  lastError: { at: number; message: string } | null;
}

/** A fresh memory: gate open, nothing learnt. */
export function newMemory(): QueueMemory {
  return {
    gate: UNPROVEN,
    localFailures: new Map(),
    answered: new Map(),
    preflightCache: new Map(),
    counters: { shipped: 0, duplicates: 0, quarantined: 0, failed_attempts: 0, bytes_shipped: 0 },
    unaddressableLogged: new Set(),
    lastSuccess: null,
    lastError: null,
  };
}

/** Options for {@linkcode runPass}. */
export interface PassOptions {
  config: Config;
  logger: Logger;
  /** @default {Date.now} */
  now?: () => number;
  /** Jitter source. @default {Math.random} */
  random?: () => number;
  /** Aborting stops starting new work. */
  signal?: AbortSignal;
  /** Aborting also aborts uploads and packs in flight. @default {signal} */
  abortSignal?: AbortSignal;
  /** The HTTP client. @default {put} */
  put?: (request: PutRequest) => Promise<PutResponse>;
  /** Connection pool and bandwidth cap shared by the uploads. @default {none: a connection each} */
  transport?: Transport;
  /** Kept by the service between passes. @default {a fresh one} */
  memory?: QueueMemory;
  /** Told when an upload starts and ends (progress on a terminal). */
  onUpload?: (event: { id: string; bytes: number; done: boolean }) => void;
}

/** Why uploads stopped for the rest of a pass. */
export interface Pause {
  why: "credentials" | "misconfigured";
  status: number;
  message: string;
}

/** Where every episode seen in a pass ended. */
export interface PassSummary {
  shipped: string[];
  /** Shipped on a 409: the collector already had them. */
  duplicates: string[];
  quarantined: { id: string; source: QuarantineSource; reason: string }[];
  /** Still to send, with why and when it is next due (ms; null: next pass). */
  queued: { id: string; why: string; nextAttemptAt: number | null }[];
  /** Directories without `done.marker`. */
  incomplete: string[];
  /** Entries of `episodes/` that are not directories. */
  ignored: string[];
  /** Episode directories whose names are not valid UTF-8 (lossy names): an operator must rename them. */
  unaddressable: string[];
  /** Set when the collector refused our credentials or URL in this pass: uploads stopped. */
  paused: Pause | null;
  /** Set when a transient failure stopped further uploads this pass. */
  collectorDown: string | null;
  /** Requests sent this pass. */
  requests: number;
}

/** Runs one pass. Data root must exist; the caller holds its lock. */
export async function runPass(options: PassOptions): Promise<PassSummary> {
  return await new Pass(options).run();
}

const PAUSE_TEXT: Record<PauseWhy, string> = {
  credentials: "collector refused our credentials",
  misconfigured: "collector URL or collector configuration is wrong",
  "collector-down": "collector unavailable",
};

class Pass {
  readonly layout: Layout;
  readonly config: Config;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  readonly put: (request: PutRequest) => Promise<PutResponse>;
  readonly memory: QueueMemory;
  readonly maxWaitMs: number;
  readonly abortSignal: AbortSignal | undefined;
  /** Directories to fsync once, after this pass's moves. */
  readonly syncLater = new Set<string>();
  /** State files of finished episodes, removed once the moves are durable. */
  readonly finishedStates: string[] = [];
  /** A probe in flight: other uploads wait for its answer. */
  probe: Promise<void> | null = null;
  readonly summary: PassSummary = {
    shipped: [],
    duplicates: [],
    quarantined: [],
    queued: [],
    incomplete: [],
    ignored: [],
    unaddressable: [],
    paused: null,
    collectorDown: null,
    requests: 0,
  };

  constructor(readonly options: PassOptions) {
    this.config = options.config;
    this.layout = layoutOf(options.config.dataRoot);
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.put = options.put ?? put;
    this.memory = options.memory ?? newMemory();
    this.maxWaitMs = longestWaitMs(this.config.backoffSeconds);
    this.abortSignal = options.abortSignal ?? options.signal;
  }

  get stopping(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<PassSummary> {
    await ensureLayout(this.layout);
    for (const name of await withMovesLock(this.layout, () => recoverOutbox(this.layout))) {
      this.log.info("removed stale outbox file", { file: name });
    }
    const scan = await scanEpisodes(this.layout.episodes);
    this.summary.incomplete = scan.incomplete.map((e) => e.name);
    this.summary.ignored = scan.ignored;
    for (const name of scan.ignored) {
      this.log.debug("ignored entry in episodes/: not a directory", { entry: name });
    }
    if (scan.unaddressable.length > 0) await this.quarantineNonUtf8();
    this.summary.unaddressable = scan.unaddressable;
    // Forget what was learnt only about directories that are gone (not about one whose
    // done.marker could not be checked this time).
    const seen = new Set([...scan.complete, ...scan.incomplete].map((e) => e.name));
    for (
      const map of [this.memory.preflightCache, this.memory.localFailures, this.memory.answered]
    ) {
      for (const id of map.keys()) if (!seen.has(id)) map.delete(id);
    }
    const queue = [...scan.complete];
    const worker = async () => {
      for (let episode = queue.shift(); episode; episode = queue.shift()) {
        if (this.stopping) {
          this.queue(episode.name, "stopping", null);
          continue;
        }
        await this.handleSafely(episode.name, episode.path);
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, this.config.uploadConcurrency) }, () => worker()),
    );
    await this.syncMoves();
    const paused = this.memory.gate.paused;
    if (paused && paused.why === "collector-down" && !this.summary.collectorDown) {
      this.summary.collectorDown = `${PAUSE_TEXT["collector-down"]} (${paused.message})`;
    }
    return this.summary;
  }

  /** Makes this pass's moves durable, then drops the states that recorded their verdicts. */
  async syncMoves(): Promise<void> {
    for (const dir of this.syncLater) await fsyncDir(dir);
    for (const path of this.finishedStates) {
      await Deno.remove(path).catch(() => {});
    }
    if (this.finishedStates.length > 0) await fsyncDir(this.layout.outbox);
  }

  queue(id: string, why: string, nextAttemptAt: number | null): void {
    this.summary.queued.push({ id, why, nextAttemptAt });
  }

  /** One episode; a local failure (permissions, a full disk) is backed off and never stops the others. */
  async handleSafely(id: string, dir: string): Promise<void> {
    try {
      // Waiting is not success: a local failure being backed off keeps its count, so the next
      // attempt waits longer (it would otherwise retry every scan forever).
      if ((await this.handle(id, dir)) !== "waited") this.memory.localFailures.delete(id);
    } catch (error) {
      const previous = this.memory.localFailures.get(id);
      const attempts = (previous?.attempts ?? 0) + 1;
      const message = describeError(error);
      const nextAt = this.now() +
        retryDelayMs(attempts - 1, this.config.backoffSeconds, null, this.random);
      this.memory.localFailures.set(id, { attempts, nextAt, error: message });
      this.memory.lastError = { at: this.now(), message: `${id}: ${message}` };
      this.log.error("episode failed locally; backing off", {
        episode: id,
        error: message,
        attempt: attempts,
        next_attempt_at: new Date(nextAt).toISOString(),
      });
      this.queue(id, message, nextAt);
    }
  }

  /** Takes the episode's next step; "waited" when it only waits. */
  async handle(id: string, dir: string): Promise<"waited" | void> {
    if (await this.finishCrashedQuarantine(id, dir)) return;
    // Preflight rejects invalid ids; until then an invalid id has no outbox files to look at.
    const state = this.memory.answered.get(id) ??
      (isValidId(id) ? await readState(statePath(this.layout, id)) : null);
    const packed = state !== null && await this.isPacked(id, state);
    const step = planEpisode({
      state,
      packed,
      local: this.memory.localFailures.get(id),
      now: this.now(),
      maxWaitMs: this.maxWaitMs,
    });
    this.noteClockJump(id, state);
    switch (step.kind) {
      case "finish":
        return await this.finish(id, dir, state as EpisodeState, step.verdict);
      case "wait":
        this.log.debug("waiting", {
          episode: id,
          until: new Date(step.until).toISOString(),
          why: step.why,
        });
        this.queue(id, step.why, step.until);
        return "waited";
      case "upload":
        return await this.upload(id, dir, state as EpisodeState);
      case "prepare":
        return await this.prepare(id, dir, state);
    }
  }

  noteClockJump(id: string, state: EpisodeState | null): void {
    const due = state?.next_attempt_at ? Date.parse(state.next_attempt_at) : null;
    if (waitsUntil(due, this.now(), this.maxWaitMs).clockJump) {
      this.log.debug(
        "next attempt time is further away than any backoff; the clock jumped: due now",
        {
          episode: id,
          next_attempt_at: state?.next_attempt_at ?? null,
        },
      );
    }
  }

  /** Whether the tarball that `state` describes is in `outbox/`, whole. */
  async isPacked(id: string, state: EpisodeState): Promise<boolean> {
    const info = await Deno.lstat(tarballPath(this.layout, id, state.compression)).catch(() =>
      null
    );
    return info?.size === state.size;
  }

  /**
   * Waits until uploads may start. `go: false` holds the episode back (queued with the reason).
   * When the host is paused (or not yet proven) and a probe is due, the caller becomes the probe:
   * other uploads wait until it calls `release()`.
   */
  async mayUpload(id: string): Promise<{ go: boolean; release: () => void }> {
    const none = () => {};
    while (this.probe) await this.probe;
    if (this.stopping) {
      this.queue(id, "stopping", null);
      return { go: false, release: none };
    }
    const gate = this.memory.gate;
    switch (admission(gate, this.now(), this.maxWaitMs)) {
      case "open":
        return { go: true, release: none };
      case "probe": {
        this.log[gate.paused ? "info" : "debug"]("probing the collector with one episode", {
          episode: id,
          paused_because: gate.paused?.message ?? null,
        });
        // Claimed before anything else runs, so exactly one probe is in flight.
        let release!: () => void;
        this.probe = new Promise<void>((resolve) => (release = resolve)).then(() => {
          this.probe = null;
        });
        return { go: true, release };
      }
      case "closed": {
        const p = gate.paused!;
        const why = p.why === "collector-down"
          ? `${PAUSE_TEXT[p.why]} (${p.message}); probing one episode at a time`
          : `uploads paused: ${PAUSE_TEXT[p.why]}: ${p.message}`;
        this.queue(id, why, p.nextProbeAt);
        return { go: false, release: none };
      }
    }
  }

  async quarantine(
    id: string,
    dir: string,
    source: QuarantineSource,
    reason: string,
    extra: { commit: string | null; httpStatus?: number; responseBody?: string; at?: number },
  ): Promise<void> {
    const record = quarantineReason({
      episodeId: id,
      hostId: this.config.hostId,
      now: extra.at ?? this.now(),
      source,
      reason,
      commit: extra.commit,
      ...(extra.httpStatus !== undefined && { httpStatus: extra.httpStatus }),
      ...(extra.responseBody !== undefined && { responseBody: extra.responseBody }),
    });
    const dest = await this.moveIfStillThere(
      dir,
      (syncLater) => quarantineEpisode(this.layout, dir, record, { syncLater }),
    );
    if (dest === null) return this.movedAway(id);
    this.memory.preflightCache.delete(id);
    if (isValidId(id) && source !== "collector") await removeOutboxFiles(this.layout, id);
    this.quarantined(id, source, reason, dest);
  }

  /**
   * Runs `move` inside the short moves section, if `dir` is still where the pass found it:
   * operator commands move episodes too. Returns where it went, or null when it was gone.
   */
  moveIfStillThere(
    dir: string,
    move: (syncLater: Set<string>) => Promise<string>,
  ): Promise<string | null> {
    return withMovesLock(this.layout, async () => {
      if (!(await isDirectory(dir))) return null;
      return await move(this.syncLater);
    });
  }

  /** Counts, reports and logs an episode that reached `quarantine/`. */
  quarantined(id: string, source: QuarantineSource, reason: string, dest: string, note = ""): void {
    this.summary.quarantined.push({ id, source, reason });
    this.memory.counters.quarantined++;
    this.log.warn(`quarantined${note}`, { episode: id, source, reason, to: dest });
  }

  async prepare(id: string, dir: string, state: EpisodeState | null): Promise<void> {
    const key = await preflightKey(dir);
    const cached = this.memory.preflightCache.get(id);
    // While uploads cannot happen, a known-good episode is not walked again.
    if (
      cached?.key === key && admission(this.memory.gate, this.now(), this.maxWaitMs) === "closed"
    ) {
      const early = await this.mayUpload(id);
      if (!early.go) return;
      // The gate opened (or a probe fell to us) while we waited: give it back, walk, ask again.
      early.release();
    }
    let tree;
    try {
      tree = walkEpisode(dir);
    } catch (error) {
      if (!(error instanceof EpisodeChangedError)) throw error;
      this.log.warn("episode changed while being listed; will retry", {
        episode: id,
        error: error.message,
      });
      return this.queue(id, error.message, null);
    }
    const verdict = preflight({
      name: id,
      meta: await readMeta(dir),
      totalBytes: tree.totalBytes,
      maxEpisodeBytes: this.config.maxEpisodeBytes,
      treeProblem: tree.problem ?? null,
    });
    if (!verdict.send) {
      await this.quarantine(id, dir, "preflight", verdict.reason, { commit: verdict.commit });
      return;
    }
    const commit = verdict.commit;
    this.memory.preflightCache.set(id, { key, commit });
    // Nothing is packed while it could not be sent: a dead collector must not fill the disk.
    const gate = await this.mayUpload(id);
    if (!gate.go) return;
    try {
      const packed = await this.pack(id, dir, tree, commit, state);
      if (packed) await this.send(id, dir, packed);
    } finally {
      gate.release();
    }
  }

  async pack(
    id: string,
    dir: string,
    tree: ReturnType<typeof walkEpisode>,
    commit: string,
    previous: EpisodeState | null,
  ): Promise<EpisodeState | null> {
    const compression = this.config.compression;
    const final = tarballPath(this.layout, id, compression);
    const temp = tempPathFor(final);
    const started = performance.now();
    let result;
    try {
      result = await packEpisode(dir, id, tree, temp, {
        compression,
        ...(this.config.compressionLevel !== undefined && { level: this.config.compressionLevel }),
        ...(this.abortSignal && { signal: this.abortSignal }),
        onSkip: (path) =>
          this.log.warn("skipped entry that is not a file, directory or symlink", {
            episode: id,
            path,
          }),
      });
    } catch (error) {
      if (this.abortSignal?.aborted) {
        this.queue(id, "stopping", null);
        return null;
      }
      if (!(error instanceof EpisodeChangedError)) throw error;
      this.log.warn("episode changed while packing; will retry", {
        episode: id,
        error: error.message,
      });
      this.queue(id, error.message, null);
      return null;
    }
    const state: EpisodeState = {
      episode_id: id,
      compression,
      size: result.size,
      sha256: encodeBase64(result.sha256),
      commit,
      packed_at: new Date(this.now()).toISOString(),
      attempts: previous?.attempts ?? 0,
      next_attempt_at: previous?.next_attempt_at ?? null,
      last_error: previous?.last_error ?? null,
    };
    // State first, then the tarball: a tarball in outbox/ always has the state that describes it.
    // Both files are synced before the PUT; one directory sync covers both renames.
    await writeJsonAtomic(statePath(this.layout, id), state, { durability: "file" });
    await Deno.rename(temp, final);
    await fsyncDir(this.layout.outbox);
    this.log.info("packed", {
      episode: id,
      entries: tree.entries.length,
      bytes: tree.totalBytes,
      tarball_bytes: result.size,
      ms: Math.round(performance.now() - started),
    });
    return state;
  }

  async upload(id: string, dir: string, state: EpisodeState): Promise<void> {
    const gate = await this.mayUpload(id);
    if (!gate.go) return;
    try {
      await this.send(id, dir, state);
    } finally {
      gate.release();
    }
  }

  /** Sends the packed episode once and applies the answer. */
  async send(id: string, dir: string, state: EpisodeState): Promise<void> {
    const { receiver } = this.config;
    const request = episodeRequest({
      receiverUrl: receiver.url,
      hostId: this.config.hostId,
      episodeId: id,
      compression: state.compression,
      sha256: state.sha256,
      commit: state.commit,
      ...(receiver.bearerToken !== undefined && { bearerToken: receiver.bearerToken }),
    });
    let attempt: Attempt;
    const started = performance.now();
    this.summary.requests++;
    this.options.onUpload?.({ id, bytes: state.size, done: false });
    try {
      const response = await this.put({
        ...request,
        bodyPath: tarballPath(this.layout, id, state.compression),
        size: state.size,
        timeoutMs: this.config.requestTimeoutS * 1000,
        tls: this.config.tls,
        verifyTls: receiver.verifyTls,
        ...(this.abortSignal && { signal: this.abortSignal }),
        ...(this.options.transport && { agent: this.options.transport.agent }),
        ...(this.options.transport?.throttle && { throttle: this.options.transport.throttle }),
      });
      attempt = { status: response.status, headers: response.headers, body: response.body };
    } catch (error) {
      if (this.abortSignal?.aborted) {
        this.queue(id, "stopping", null);
        return;
      }
      attempt = {
        error: describeError(error),
        ...(error instanceof UploadError && { kind: error.kind }),
      };
    } finally {
      this.options.onUpload?.({ id, bytes: state.size, done: true });
    }
    const now = this.now();
    const action = decide(attempt, {
      attempts: state.attempts,
      backoffSeconds: this.config.backoffSeconds,
      now,
      random: this.random,
      secrets: receiver.bearerToken !== undefined ? [receiver.bearerToken] : [],
      ...(this.config.tls.clientCertNotAfter !== undefined &&
        { clientCertNotAfter: this.config.tls.clientCertNotAfter }),
    });
    const ms = Math.round(performance.now() - started);
    this.log.info("upload", {
      episode: id,
      bytes: state.size,
      ms,
      outcome: action.kind,
      status: "status" in attempt ? attempt.status : null,
      attempt: state.attempts + 1,
    });
    await this.apply(id, dir, state, action, attempt, now);
  }

  async apply(
    id: string,
    dir: string,
    state: EpisodeState,
    action: Action,
    attempt: Attempt,
    now: number,
  ): Promise<void> {
    switch (action.kind) {
      case "ship":
      case "quarantine": {
        this.memory.gate = afterAnswer(this.memory.gate);
        const verdict: RecordedVerdict = action.kind === "ship"
          ? {
            kind: "ship",
            duplicate: action.duplicate,
            status: action.status,
            reason: null,
            body: null,
            at: new Date(now).toISOString(),
          }
          : {
            kind: "quarantine",
            duplicate: false,
            status: action.status,
            reason: action.reason,
            body: action.body,
            at: new Date(now).toISOString(),
          };
        // The answer is durable before anything moves: from here on the episode is never sent
        // again, even if the move fails and has to be retried by a later pass.
        const answered = { ...state, verdict };
        this.memory.answered.set(id, answered);
        // Not fsynced: it survives kill -9 (page cache), and after a power loss that drops it
        // the episode is simply sent again and the collector answers 409 (or refuses it again).
        await writeJsonAtomic(statePath(this.layout, id), answered, { durability: "process" });
        await removeTarballs(this.layout, id);
        return await this.finish(id, dir, state, verdict);
      }
      case "pause": {
        this.summary.paused = { why: action.why, status: action.status, message: action.message };
        this.hostFailed(action.why, action.message, null);
        this.log.error(
          `${
            PAUSE_TEXT[action.why]
          }: uploads paused, nothing quarantined; fix the config or the collector`,
          {
            episode: id,
            status: action.status,
            answer: action.message,
            url: this.config.receiver.url,
          },
        );
        this.queue(id, `${PAUSE_TEXT[action.why]}: ${action.message}`, null);
        return;
      }
      case "retry": {
        const next: EpisodeState = {
          ...state,
          attempts: action.attempts,
          next_attempt_at: new Date(action.nextAttemptAt).toISOString(),
          last_error: action.error,
        };
        const retryAfter = "status" in attempt
          ? parseRetryAfter(attempt.headers["retry-after"], now)
          : null;
        // The host backs off before anything local can fail: a failing state write must not
        // leave the gate due, or every other episode becomes the next probe.
        this.hostFailed("collector-down", action.error, retryAfter);
        await writeJsonAtomic(statePath(this.layout, id), next);
        this.memory.counters.failed_attempts++;
        this.summary.collectorDown = `${
          PAUSE_TEXT["collector-down"]
        } (${action.error}); probing one episode at a time`;
        this.log.warn("upload failed; will retry", {
          episode: id,
          attempt: action.attempts,
          error: action.error,
          next_attempt_at: next.next_attempt_at,
          next_probe_at: this.memory.gate.paused
            ? new Date(this.memory.gate.paused.nextProbeAt).toISOString()
            : null,
        });
        this.queue(id, action.error, action.nextAttemptAt);
        return;
      }
    }
  }

  /**
   * Quarantines the complete episode directories whose names are not valid UTF-8, found and moved
   * by inode (`non_utf8.ts`): Deno cannot name them. Incomplete ones are left alone, reported once.
   */
  async quarantineNonUtf8(): Promise<void> {
    let entries;
    try {
      entries = await listNonUtf8Dirs(this.layout.episodes);
    } catch (error) {
      this.log.error("cannot list episode directories whose names are not UTF-8", {
        error: describeError(error),
      });
      return;
    }
    for (const entry of entries) {
      const hex = quarantineNameFor(entry.name).slice("nonutf8-".length);
      const dest = await withMovesLock(this.layout, async () => {
        const dest = await freeName(this.layout.quarantine, quarantineNameFor(entry.name));
        const moved = await moveCompleteByInode(this.layout.episodes, entry.ino, DONE_MARKER, dest);
        return moved ? dest : null;
      });
      if (dest === null) {
        if (!this.memory.unaddressableLogged.has(entry.ino)) {
          this.memory.unaddressableLogged.add(entry.ino);
          this.log.warn("episode directory name is not valid UTF-8; quarantined once complete", {
            name_hex: hex,
          });
        }
        continue;
      }
      const id = basename(dest);
      const reason = `episode directory name is not valid UTF-8 (bytes ${hex}): it cannot be ` +
        `shipped under its name; moved to quarantine/${id}`;
      await writeJsonAtomic(
        join(dest, REASON_FILE),
        quarantineReason({
          episodeId: id,
          hostId: this.config.hostId,
          now: this.now(),
          source: "preflight",
          reason,
          commit: null,
        }),
        { tempDir: this.layout.outbox },
      );
      this.syncLater.add(this.layout.quarantine).add(this.layout.episodes);
      this.quarantined(id, "preflight", reason, dest);
    }
  }

  /**
   * An episode in `episodes/` holding `quarantine_reason.json` was being quarantined when the
   * process died (the reason is written before the rename; `requeue` takes it out first): the
   * decision stands, so the move is finished rather than the episode packed with its reason.
   */
  async finishCrashedQuarantine(id: string, dir: string): Promise<boolean> {
    const path = join(dir, REASON_FILE);
    if (!(await Deno.lstat(path).catch(() => null))?.isFile) return false;
    let reason = "quarantine interrupted by a crash";
    let source: QuarantineSource = "preflight";
    try {
      const recorded = JSON.parse(await Deno.readTextFile(path));
      if (typeof recorded.reason === "string") reason = recorded.reason;
      if (["collector", "preflight", "drain"].includes(recorded.source)) source = recorded.source;
    } catch { /* an unreadable reason still records that a quarantine began */ }
    const dest = await this.moveIfStillThere(
      dir,
      (syncLater) => moveDirNoClobber(dir, this.layout.quarantine, { syncLater }),
    );
    if (dest === null) {
      this.movedAway(id);
      return true;
    }
    if (isValidId(id)) this.finishedStates.push(statePath(this.layout, id));
    await removeTarballs(this.layout, id).catch(() => {});
    this.quarantined(id, source, reason, dest, " (finishing a move interrupted by a crash)");
    return true;
  }

  /** The episode left `episodes/` under our feet (an operator command): nothing more to do. */
  movedAway(id: string): void {
    this.memory.preflightCache.delete(id);
    this.memory.answered.delete(id);
    this.log.warn("episode was moved away by another process; leaving it", { episode: id });
  }

  hostFailed(why: PauseWhy, message: string, retryAfterMs: number | null): void {
    this.memory.gate = afterFailure(this.memory.gate, { why, message, retryAfterMs }, {
      now: this.now(),
      backoffSeconds: this.config.backoffSeconds,
      random: this.random,
    });
    this.memory.lastError = { at: this.now(), message: `${PAUSE_TEXT[why]}: ${message}` };
  }

  /** Moves an episode the collector has answered about; retried by later passes if it fails. */
  async finish(
    id: string,
    dir: string,
    state: EpisodeState,
    verdict: RecordedVerdict,
  ): Promise<void> {
    await removeTarballs(this.layout, id);
    if (verdict.kind === "ship") {
      const dest = await this.moveIfStillThere(
        dir,
        (syncLater) => shipEpisode(this.layout, dir, { syncLater }),
      );
      if (dest === null) {
        this.finishedStates.push(statePath(this.layout, id));
        return this.movedAway(id);
      }
      (verdict.duplicate ? this.summary.duplicates : this.summary.shipped).push(id);
      if (verdict.duplicate) this.memory.counters.duplicates++;
      else this.memory.counters.shipped++;
      this.memory.counters.bytes_shipped += state.size;
      this.memory.lastSuccess = { at: this.now(), episode: id };
      this.log.info(
        verdict.duplicate ? "duplicate: collector already has it; moved to shipped" : "shipped",
        { episode: id, status: verdict.status, bytes: state.size },
      );
    } else {
      await this.quarantine(id, dir, "collector", verdict.reason ?? `HTTP ${verdict.status}`, {
        commit: state.commit,
        httpStatus: verdict.status,
        ...(verdict.body !== null && { responseBody: verdict.body }),
        at: Date.parse(verdict.at),
      });
    }
    this.memory.preflightCache.delete(id);
    this.memory.answered.delete(id);
    this.finishedStates.push(statePath(this.layout, id));
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await Deno.lstat(path).catch(() => null))?.isDirectory ?? false;
}
