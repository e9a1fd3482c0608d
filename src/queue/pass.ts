/**
 * One pass over `data_root`: scan, preflight, pack, upload, move. The daemon runs it every
 * `scan_interval_s`; `--once` runs it once. Decisions come from pure functions (preflight, decide);
 * this file reads the disk and the network and applies them.
 */
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { describeError, type Logger } from "../log/log.ts";
import { scanEpisodes } from "../episodes/scan.ts";
import { walkEpisode } from "../episodes/walk.ts";
import { META_FILE, preflight } from "../episodes/preflight.ts";
import { EpisodeChangedError, packEpisode } from "../pack/pack.ts";
import { put, type PutRequest, type PutResponse } from "../upload/put.ts";
import {
  COMPRESSION_FORMAT,
  contentDigest,
  episodePath,
  HEADER,
  isValidId,
} from "../protocol/protocol.ts";
import { fsyncDir, tempPathFor, writeJsonAtomic } from "../fs/atomic.ts";
import { encodeBase64 } from "../protocol/_base64.ts";
import { VERSION } from "../version.ts";
import { type Layout, layoutOf, statePath, tarballPath } from "./layout.ts";
import { type EpisodeState, readState } from "./state.ts";
import { type Action, type Attempt, decide } from "./outcome.ts";
import { quarantineReason, type QuarantineSource } from "./reason.ts";
import {
  ensureLayout,
  quarantineEpisode,
  recoverOutbox,
  removeOutboxFiles,
  shipEpisode,
} from "./moves.ts";

/** Options for {@linkcode runPass}. */
export interface PassOptions {
  config: Config;
  logger: Logger;
  /** @default {Date.now} */
  now?: () => number;
  /** Jitter source. @default {Math.random} */
  random?: () => number;
  /** Aborting stops starting new work and aborts an upload in flight. */
  signal?: AbortSignal;
  /** The HTTP client. @default {put} */
  put?: (request: PutRequest) => Promise<PutResponse>;
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
  /** Set when the collector refused our credentials or URL: uploads stopped. */
  paused: Pause | null;
  /** Set when a transient failure stopped further uploads this pass. */
  collectorDown: string | null;
}

/** Runs one pass. Data root must exist; the caller holds its lock. */
export async function runPass(options: PassOptions): Promise<PassSummary> {
  return await new Pass(options).run();
}

class Pass {
  readonly layout: Layout;
  readonly config: Config;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  readonly put: (request: PutRequest) => Promise<PutResponse>;
  readonly summary: PassSummary = {
    shipped: [],
    duplicates: [],
    quarantined: [],
    queued: [],
    incomplete: [],
    ignored: [],
    paused: null,
    collectorDown: null,
  };

  constructor(readonly options: PassOptions) {
    this.config = options.config;
    this.layout = layoutOf(options.config.dataRoot);
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.put = options.put ?? put;
  }

  get uploadsStopped(): string | null {
    if (this.summary.paused) {
      return `uploads paused: collector answered ${this.summary.paused.message}`;
    }
    return this.summary.collectorDown;
  }

  async run(): Promise<PassSummary> {
    await ensureLayout(this.layout);
    for (const name of await recoverOutbox(this.layout)) {
      this.log.info("removed stale outbox file", { file: name });
    }
    const scan = await scanEpisodes(this.layout.episodes);
    this.summary.incomplete = scan.incomplete.map((e) => e.name);
    this.summary.ignored = scan.ignored;
    for (const name of scan.ignored) {
      this.log.debug("ignored entry in episodes/: not a directory", { entry: name });
    }
    for (const episode of scan.complete) {
      if (this.options.signal?.aborted) {
        this.queue(episode.name, "stopping", null);
        continue;
      }
      try {
        await this.handle(episode.name, episode.path);
      } catch (error) {
        // One episode's local failure (permissions, a full disk) must not stop the others.
        this.log.error("episode failed locally; will retry", {
          episode: episode.name,
          error: describeError(error),
        });
        this.queue(episode.name, describeError(error), null);
      }
    }
    return this.summary;
  }

  queue(id: string, why: string, nextAttemptAt: number | null): void {
    this.summary.queued.push({ id, why, nextAttemptAt });
  }

  async quarantine(
    id: string,
    dir: string,
    source: QuarantineSource,
    reason: string,
    extra: { commit: string | null; httpStatus?: number; responseBody?: string },
  ): Promise<void> {
    const record = quarantineReason({
      episodeId: id,
      hostId: this.config.hostId,
      now: this.now(),
      source,
      reason,
      commit: extra.commit,
      ...(extra.httpStatus !== undefined && { httpStatus: extra.httpStatus }),
      ...(extra.responseBody !== undefined && { responseBody: extra.responseBody }),
    });
    const dest = await quarantineEpisode(this.layout, dir, record);
    if (isValidId(id)) await removeOutboxFiles(this.layout, id);
    this.summary.quarantined.push({ id, source, reason });
    this.log.warn("quarantined", { episode: id, source, reason, to: dest });
  }

  async handle(id: string, dir: string): Promise<void> {
    // Preflight rejects invalid ids; until then an invalid id has no outbox files to look at.
    const state = isValidId(id) ? await readState(statePath(this.layout, id)) : null;
    if (state && await this.isPacked(id, state)) {
      if (!this.holdBack(id, state)) await this.upload(id, dir, state);
      return;
    }
    const tree = walkEpisode(dir);
    const verdict = preflight({
      name: id,
      metaText: await readMeta(dir),
      totalBytes: tree.totalBytes,
      maxEpisodeBytes: this.config.maxEpisodeBytes,
    });
    if (!verdict.send) {
      await this.quarantine(id, dir, "preflight", verdict.reason, { commit: verdict.commit });
      return;
    }
    // Nothing is packed while it could not be sent: a dead collector must not fill the disk.
    if (this.holdBack(id, state)) return;
    const packed = await this.pack(id, dir, tree, verdict.commit, state);
    if (packed) await this.upload(id, dir, packed);
  }

  /** Whether the tarball that `state` describes is in `outbox/`, whole. */
  async isPacked(id: string, state: EpisodeState): Promise<boolean> {
    const info = await Deno.lstat(tarballPath(this.layout, id, state.compression)).catch(() =>
      null
    );
    return info?.size === state.size;
  }

  /** Whether the episode must wait (uploads stopped, or its backoff not over); queues it if so. */
  holdBack(id: string, state: EpisodeState | null): boolean {
    const stopped = this.uploadsStopped;
    if (stopped) {
      this.queue(id, stopped, null);
      return true;
    }
    const due = state?.next_attempt_at ? Date.parse(state.next_attempt_at) : 0;
    if (due > this.now()) {
      this.queue(
        id,
        `backing off after ${state?.attempts} failed attempts: ${state?.last_error}`,
        due,
      );
      return true;
    }
    return false;
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
        onSkip: (path) =>
          this.log.warn("skipped entry that is not a file, directory or symlink", {
            episode: id,
            path,
          }),
      });
    } catch (error) {
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
    await writeJsonAtomic(statePath(this.layout, id), state);
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
    const { receiver } = this.config;
    const format = COMPRESSION_FORMAT[state.compression];
    const headers: Record<string, string> = {
      "content-type": format.contentType,
      [HEADER.digest]: contentDigest(state.sha256),
      [HEADER.hostId]: this.config.hostId,
      [HEADER.episodeId]: id,
      [HEADER.commit]: state.commit,
      "user-agent": `cis490-ship/${VERSION}`,
    };
    if (receiver.bearerToken !== undefined) {
      headers.authorization = `Bearer ${receiver.bearerToken}`;
    }
    const url = receiver.url + episodePath(this.config.hostId, id, state.compression);
    let attempt: Attempt;
    const started = performance.now();
    try {
      const response = await this.put({
        url,
        headers,
        bodyPath: tarballPath(this.layout, id, state.compression),
        size: state.size,
        timeoutMs: this.config.requestTimeoutS * 1000,
        tls: this.config.tls,
        verifyTls: receiver.verifyTls,
        ...(this.options.signal && { signal: this.options.signal }),
      });
      attempt = { status: response.status, headers: response.headers, body: response.body };
    } catch (error) {
      if (this.options.signal?.aborted) {
        this.queue(id, "stopping", null);
        return;
      }
      attempt = { error: describeError(error) };
    }
    const action = decide(attempt, {
      attempts: state.attempts,
      backoffSeconds: this.config.backoffSeconds,
      now: this.now(),
      random: this.random,
    });
    const ms = Math.round(performance.now() - started);
    await this.apply(id, dir, state, action, ms);
  }

  async apply(
    id: string,
    dir: string,
    state: EpisodeState,
    action: Action,
    ms: number,
  ): Promise<void> {
    switch (action.kind) {
      case "ship": {
        await shipEpisode(this.layout, dir);
        await removeOutboxFiles(this.layout, id);
        (action.duplicate ? this.summary.duplicates : this.summary.shipped).push(id);
        this.log.info(
          action.duplicate ? "duplicate: collector already has it; moved to shipped" : "shipped",
          {
            episode: id,
            status: action.status,
            bytes: state.size,
            ms,
          },
        );
        return;
      }
      case "quarantine":
        await this.quarantine(id, dir, "collector", action.reason, {
          commit: state.commit,
          httpStatus: action.status,
          responseBody: action.body,
        });
        return;
      case "pause": {
        this.summary.paused = { why: action.why, status: action.status, message: action.message };
        const what = action.why === "credentials"
          ? "collector refused our credentials"
          : "collector URL or collector configuration is wrong";
        this.log.error(
          `${what}: uploads paused, nothing quarantined; fix the config or the collector`,
          {
            episode: id,
            status: action.status,
            answer: action.message,
            url: this.config.receiver.url,
          },
        );
        this.queue(id, `${what}: ${action.message}`, null);
        return;
      }
      case "retry": {
        const next: EpisodeState = {
          ...state,
          attempts: action.attempts,
          next_attempt_at: new Date(action.nextAttemptAt).toISOString(),
          last_error: action.error,
        };
        await writeJsonAtomic(statePath(this.layout, id), next);
        this.summary.collectorDown =
          `collector unavailable (${action.error}); probing one episode at a time`;
        this.log.warn("upload failed; will retry", {
          episode: id,
          attempt: action.attempts,
          error: action.error,
          next_attempt_at: next.next_attempt_at,
        });
        this.queue(id, action.error, action.nextAttemptAt);
        return;
      }
    }
  }
}

/** The text of `meta.json`, or null when it is missing or not a regular file (never followed). */
async function readMeta(dir: string): Promise<string | null> {
  const path = join(dir, META_FILE);
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isFile) return null;
  return await Deno.readTextFile(path).catch(() => null);
}
