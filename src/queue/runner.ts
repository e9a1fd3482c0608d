/**
 * One episode's turn in a pass: plan its step (`planner.ts`), then prepare it (preflight, pack),
 * send it through the receiver, and apply the answer — each decision pure (`decide.ts`,
 * `transitions.ts`), each effect through its one owner (`outbox.ts`, `moves.ts`, `admission.ts`,
 * `tally.ts`). A local failure (permissions, a full disk) is backed off and never stops the others.
 */
import { join } from "node:path";
import { type Config, configuredSecrets } from "../config/config.ts";
import { REASON_FILE } from "../layout.ts";
import { describeError, type Logger } from "../log/log.ts";
import { errorCode } from "../fs/fs.ts";
import type { Layout } from "../layout.ts";
import { EpisodeChangedError } from "../episodes/walk.ts";
import { preflight } from "../episodes/preflight.ts";
import type { Parcel } from "../upload/receiver.ts";
import type { Admission, Ticket } from "./admission.ts";
import { decide } from "./decide.ts";
import { type MovesContext, moveToQuarantine, moveToShipped, setAsideReason } from "./moves.ts";
import { episodeKeyOf, type Outbox } from "./outbox.ts";
import { planEpisode, waitsUntil } from "./planner.ts";
import type { QuarantineSource } from "./reason.ts";
import {
  type AnsweredState,
  emptyState,
  type EpisodeState,
  type IntentState,
  type PackedState,
} from "./state.ts";
import type { QueueMemory, Tally } from "./tally.ts";
import {
  answered,
  intentOfVerdict,
  isEpisodeFault,
  localFailed,
  localFailuresExhausted,
  packed,
  quarantineDecided,
  repackRequested,
  resumeSaved,
  retryScheduled,
} from "./transitions.ts";
import type { QueueWorld } from "./world.ts";
import type { ProgressEvent } from "./progress.ts";

export type { ProgressEvent };

/** What every episode's turn shares within one pass. */
export interface RunnerContext {
  config: Config;
  layout: Layout;
  world: QueueWorld;
  outbox: Outbox;
  admission: Admission;
  tally: Tally;
  memory: QueueMemory;
  moves: MovesContext;
  log: Logger;
  /** Episodes whose moves are done: the outbox forgets them once the moves are durable. */
  finished: Set<string>;
  maxWaitMs: number;
  /** Aborting also aborts packs and uploads in flight. */
  abortSignal?: AbortSignal;
  /** True once the pass stops starting new work. */
  stopping: () => boolean;
  onProgress?: (event: ProgressEvent) => void;
}

/** Takes one episode's next step; a local failure is recorded and backed off. */
export async function runEpisode(ctx: RunnerContext, id: string, dir: string): Promise<void> {
  try {
    await takeStep(ctx, id, dir);
  } catch (error) {
    const code = errorCode(error) ?? errorCode((error as { cause?: unknown } | null)?.cause);
    await recordLocalFailure(ctx, id, describeError(error), isEpisodeFault(code));
  }
}

async function recordLocalFailure(
  ctx: RunnerContext,
  id: string,
  error: string,
  episodeFault: boolean,
): Promise<void> {
  const { world, config } = ctx;
  const state = (await ctx.outbox.read(id).catch(() => null)) ?? emptyState(id);
  let next = localFailed(state, error, {
    now: world.now(),
    backoffSeconds: config.backoffSeconds,
    random: world.random,
  });
  const failures = next.local!.failures;
  const nextAt = Date.parse(next.local!.next_at);
  if (episodeFault && retryingCannotHelp(next)) {
    // The same local failure again and again (a path over the system limit): retrying cannot
    // help, and --once must not exit 75 for it forever. Quarantine it with the error.
    next = quarantineDecided({ ...next, local: null }, {
      source: "preflight",
      reason: `packing failed locally ${failures} times in a row: ${error}`,
      http_status: null,
      response_body: null,
      commit: next.packed?.commit ?? null,
      at: new Date(world.now()).toISOString(),
    });
  }
  await ctx.outbox.write(next.intent ? "intent" : "local", next).catch((writeError) =>
    ctx.log.error("cannot record a local failure", {
      episode: id,
      error: describeError(writeError),
    })
  );
  ctx.tally.localFailure(id, { error, failures, nextAt: next.intent ? world.now() : nextAt });
}

function retryingCannotHelp(state: EpisodeState): boolean {
  return localFailuresExhausted(state) && !state.intent && !state.verdict;
}

async function takeStep(ctx: RunnerContext, id: string, dir: string): Promise<void> {
  const { world, outbox } = ctx;
  // Either lstat may be refused (a producer's umask 077): then nothing is known, and the
  // access check holds the episode with its fix.
  const putBack = (await world.fs.lstat(join(dir, REASON_FILE)).catch(() => null))?.isFile ===
    true;
  const key = await episodeKeyOf(world.fs, dir).catch(() => null);
  const claimed = await outbox.claim(id, key, putBack);
  if (claimed.discarded) {
    ctx.log.info("outbox state belonged to an earlier episode under this id; discarded", {
      episode: id,
      packed_at: claimed.discarded.packed?.packed_at ?? null,
    });
  }
  const state = claimed.state;
  const whole = state?.packed ? await outbox.tarballWhole(state as PackedState) : false;
  const now = world.now();
  const step = planEpisode({ state, tarballWhole: whole, now, maxWaitMs: ctx.maxWaitMs });
  noteClockJump(ctx, id, state, now);
  switch (step.kind) {
    case "finish-quarantine":
      return await finishQuarantine(ctx, id, dir, step.state);
    case "finish":
      return await finish(ctx, id, dir, step.state);
    case "wait":
      ctx.log.debug("waiting", {
        episode: id,
        until: new Date(step.until).toISOString(),
        why: step.why,
      });
      return ctx.tally.queued(id, step.why, step.until);
    case "upload":
      return await upload(ctx, id, dir, step.state);
    case "prepare":
      return await prepare(ctx, id, dir, step.state);
  }
}

function noteClockJump(ctx: RunnerContext, id: string, state: EpisodeState | null, now: number) {
  const due = state?.next_attempt_at ? Date.parse(state.next_attempt_at) : null;
  if (waitsUntil(due, now, ctx.maxWaitMs).clockJump) {
    ctx.log.debug("next attempt time is further away than any backoff; the clock jumped: due now", {
      episode: id,
      next_attempt_at: state?.next_attempt_at ?? null,
    });
  }
}

/** Quarantines for a reason found here (preflight), recording the decision first. */
async function quarantineNow(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: EpisodeState | null,
  why: { source: QuarantineSource; reason: string; commit: string | null },
): Promise<void> {
  const intent = quarantineDecided(state ?? emptyState(id), {
    source: why.source,
    reason: why.reason,
    http_status: null,
    response_body: null,
    commit: why.commit,
    at: new Date(ctx.world.now()).toISOString(),
  });
  await finishQuarantine(ctx, id, dir, intent);
}

async function finishQuarantine(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: IntentState,
): Promise<void> {
  await ctx.outbox.dropTarballs(id);
  const dest = await moveToQuarantine(ctx.moves, dir, {
    state,
    hostId: ctx.config.hostId,
    record: (next) => ctx.outbox.write("dest", next),
  });
  ctx.finished.add(id);
  ctx.memory.preflightCache.delete(id);
  if (dest === null) return ctx.tally.movedAway(id);
  ctx.tally.quarantined(id, { source: state.intent.source, reason: state.intent.reason, dest });
}

/** Moves an episode the receiver has answered about; retried by later passes if it fails. */
async function finish(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: AnsweredState,
): Promise<void> {
  const { verdict } = state;
  if (verdict.kind === "quarantine") {
    return await finishQuarantine(ctx, id, dir, quarantineDecided(state, intentOfVerdict(state)));
  }
  await ctx.outbox.dropTarballs(id);
  const unconfirmed = verdict.unconfirmed === true;
  const dest = await moveToShipped(ctx.moves, dir, { unconfirmed });
  ctx.finished.add(id);
  ctx.memory.preflightCache.delete(id);
  if (dest === null) return ctx.tally.movedAway(id);
  ctx.tally.shipped(id, {
    duplicate: verdict.duplicate,
    unconfirmed,
    status: verdict.status,
    bytes: state.packed?.size ?? 0,
    dest,
  });
}

async function prepare(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: EpisodeState | null,
): Promise<void> {
  const { world, memory, config } = ctx;
  const key = await world.episodes.key(dir);
  const cached = memory.preflightCache.get(id);
  // While uploads cannot happen, a known-good episode is not walked again.
  if (cached?.key === key) {
    const early = await ctx.admission.enter(id);
    if (!early.go) return ctx.tally.queued(id, early.why, early.until);
    // The gate opened (or a probe fell to us) while we waited: give it back, walk, ask again.
    early.release();
  }
  // Held, not tried: an episode the shipper cannot read or move is never packed or sent
  // (it would be sent and then stuck), and waits, loudly, for the fix it is logged with.
  const access = cached?.key === key && cached.accessOk ? null : await world.episodes.access(dir);
  if (access) return ctx.tally.held(id, access);
  const history = await setAsideReason(ctx.moves, dir, world.now());
  if (history !== null) {
    ctx.log.warn("episode was put back by hand with its quarantine reason; reason set aside", {
      episode: id,
      history,
    });
  }
  let inspection;
  try {
    inspection = await world.episodes.inspect(dir);
  } catch (error) {
    if (!(error instanceof EpisodeChangedError)) throw error;
    ctx.log.warn("episode changed while being listed; will retry", {
      episode: id,
      error: error.message,
    });
    return ctx.tally.queued(id, error.message, null);
  }
  const verdict = preflight({
    name: id,
    meta: inspection.meta,
    totalBytes: inspection.tree.totalBytes,
    maxEpisodeBytes: config.maxEpisodeBytes,
    treeProblem: inspection.tree.problem ?? null,
  });
  if (!verdict.send) {
    return await quarantineNow(ctx, id, dir, state, {
      source: "preflight",
      reason: verdict.reason,
      commit: verdict.commit,
    });
  }
  memory.preflightCache.set(id, { key, commit: verdict.commit, accessOk: true });
  // Nothing is packed while it could not be sent: a dead receiver must not fill the disk.
  const ticket = await ctx.admission.enter(id);
  if (!ticket.go) return ctx.tally.queued(id, ticket.why, ticket.until);
  let again = false;
  try {
    const next = await pack(ctx, id, dir, inspection.tree, verdict.commit, state);
    if (next) again = await send(ctx, id, dir, next, ticket);
  } finally {
    ticket.release();
  }
  if (again) await prepareAgain(ctx, id, dir);
}

/** After a repack answer: pack afresh and send once more, within this pass. */
async function prepareAgain(ctx: RunnerContext, id: string, dir: string): Promise<void> {
  if (ctx.stopping()) return ctx.tally.queued(id, "stopping", null);
  await prepare(ctx, id, dir, await ctx.outbox.read(id));
}

async function pack(
  ctx: RunnerContext,
  id: string,
  dir: string,
  tree: import("../episodes/walk.ts").Tree,
  commit: string,
  previous: EpisodeState | null,
): Promise<PackedState | null> {
  const { world, config, outbox } = ctx;
  // Once packed, an episode keeps its format until it is shipped: a receiver that already
  // stored it (an answer lost on the way) must see the very same bytes again.
  const compression = previous?.packed?.compression ?? config.compression;
  const level = previous?.packed ? previous.packed.level : config.compressionLevel;
  if (previous?.packed && previous.resume !== undefined) {
    // A new tarball: what the receiver kept of the old one (a multipart upload) is stale.
    await discard(ctx, previous as PackedState);
  }
  const temp = outbox.tempTarballPath(id, compression);
  const started = performance.now();
  const total = tree.totalBytes;
  let packedBytes = 0;
  const progress = (doneBytes: number, ended = false) =>
    ctx.onProgress?.({
      phase: "pack",
      episode: id,
      doneBytes,
      totalBytes: total,
      ...(ended && { ended }),
    });
  progress(0);
  let result;
  try {
    result = await world.packer.pack({
      dir,
      id,
      tree,
      dest: temp,
      compression,
      ...(level !== undefined && { level }),
      ...(ctx.abortSignal && { signal: ctx.abortSignal }),
      onSkip: (path) =>
        ctx.log.warn("skipped entry that is not a file, directory or symlink", {
          episode: id,
          path,
        }),
      ...(ctx.onProgress && {
        onProgress: (doneBytes: number) => progress(packedBytes = doneBytes),
      }),
    });
  } catch (error) {
    progress(packedBytes, true);
    await outbox.dropTemp(temp);
    if (ctx.abortSignal?.aborted) {
      ctx.tally.queued(id, "stopping", null);
      return null;
    }
    if (!(error instanceof EpisodeChangedError)) throw error;
    ctx.log.warn("episode changed while packing; will retry", {
      episode: id,
      error: error.message,
    });
    ctx.tally.queued(id, error.message, null);
    return null;
  }
  const next = packed(previous ?? emptyState(id), {
    compression,
    ...(level !== undefined && { level }),
    size: result.size,
    sha256: result.sha256,
    commit,
    packed_at: new Date(world.now()).toISOString(),
  });
  if (packedBytes < total) progress(total);
  try {
    await outbox.commitPacked(next, temp);
  } catch (error) {
    await outbox.dropTemp(temp);
    throw error;
  }
  ctx.tally.packed(id, {
    entries: tree.entries.length,
    bytes: tree.totalBytes,
    tarballBytes: result.size,
    ms: Math.round(performance.now() - started),
  });
  return next;
}

/**
 * A tarball packed earlier (by a previous pass or process) is verified against its recorded
 * digest before it is sent again: a damaged one is packed afresh, never resent.
 */
async function upload(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: PackedState,
): Promise<void> {
  const { world, outbox } = ctx;
  const found = await world.packer.digest(outbox.tarballPath(state));
  if (found.size !== state.packed.size || found.sha256 !== state.packed.sha256) {
    ctx.log.warn("tarball in outbox/ no longer matches its recorded digest; packing it again", {
      episode: id,
      recorded: state.packed.sha256,
      found: found.sha256,
    });
    await outbox.dropTarballs(id);
    return await prepare(ctx, id, dir, state);
  }
  const ticket: Ticket = await ctx.admission.enter(id);
  if (!ticket.go) return ctx.tally.queued(id, ticket.why, ticket.until);
  let again = false;
  try {
    again = await send(ctx, id, dir, state, ticket);
  } finally {
    ticket.release();
  }
  if (again) await prepareAgain(ctx, id, dir);
}

function parcelOf(ctx: RunnerContext, state: PackedState): Parcel {
  return {
    hostId: ctx.config.hostId,
    episodeId: state.episode_id,
    compression: state.packed.compression,
    sha256: state.packed.sha256,
    size: state.packed.size,
    commit: state.packed.commit,
    path: ctx.outbox.tarballPath(state),
  };
}

async function discard(ctx: RunnerContext, state: PackedState): Promise<void> {
  if (state.resume === undefined || !ctx.world.receiver.discard) return;
  await ctx.world.receiver.discard(parcelOf(ctx, state), state.resume).catch((error) =>
    ctx.log.warn("cannot drop a partial upload at the receiver", {
      episode: state.episode_id,
      error: describeError(error),
    })
  );
}

/**
 * Sends the packed episode once and applies the answer. Returns true when the receiver found
 * the tarball damaged and the episode should be packed and sent again now.
 */
async function send(
  ctx: RunnerContext,
  id: string,
  dir: string,
  initial: PackedState,
  ticket: Extract<Ticket, { go: true }>,
): Promise<boolean> {
  const { world, config, outbox, tally } = ctx;
  const still = ctx.admission.recheck(ticket);
  if (!still.go) {
    tally.queued(id, still.why, still.until);
    return false;
  }
  let state = initial;
  const parcel = parcelOf(ctx, state);
  const started = performance.now();
  let sentBytes = 0;
  const progress = (doneBytes: number, ended = false) =>
    ctx.onProgress?.({
      phase: "upload",
      episode: id,
      doneBytes,
      totalBytes: parcel.size,
      ...(ended && { ended }),
    });
  progress(0);
  const answer = await world.receiver.send(parcel, {
    ...(ctx.abortSignal && { signal: ctx.abortSignal }),
    ...(state.resume !== undefined && { resume: state.resume }),
    saveResume: async (resume) => {
      state = resumeSaved(state, resume);
      await outbox.write("resume", state);
    },
    ...(ctx.onProgress && {
      onProgress: (doneBytes: number) => progress(sentBytes = doneBytes),
    }),
  });
  // Stored or already there: the body went whole. Anything else ends the phase where it was.
  if (answer.class === "stored" || answer.class === "duplicate") {
    if (sentBytes < parcel.size) progress(parcel.size);
  } else if (sentBytes < parcel.size) progress(sentBytes, true);
  const now = world.now();
  const action = decide(answer, {
    attempts: state.attempts,
    repacks: state.repacks,
    sha256: state.packed.sha256,
    backoffSeconds: config.backoffSeconds,
    now,
    random: world.random,
    secrets: configuredSecrets(config),
    ...(config.tls.clientCertNotAfter !== undefined &&
      { clientCertNotAfter: config.tls.clientCertNotAfter }),
  });
  if (action.kind === "stopped") {
    tally.queued(id, "stopping", null);
    return false;
  }
  tally.upload(id, {
    bytes: parcel.size,
    ms: Math.round(performance.now() - started),
    outcome: action.kind,
    status: "status" in answer && answer.status !== 0 ? answer.status : null,
    attempt: state.attempts + 1,
  });
  switch (action.kind) {
    case "ship":
    case "quarantine": {
      ctx.admission.answered();
      // The answer is durable before anything moves: from here on the episode is never sent
      // again, even if the move fails and has to be retried by a later pass (invariant 2).
      const next = answered(state, action, now);
      await outbox.write("answered", next);
      if (state.resume !== undefined) await discard(ctx, state);
      await finish(ctx, id, dir, next);
      return false;
    }
    case "pause":
      ctx.admission.failed(action.why, action.message, null);
      tally.paused(
        id,
        { why: action.why, status: action.status, message: action.message },
        world
          .receiver.describe,
      );
      return false;
    case "retry": {
      // The host backs off before anything local can fail: a failing state write must not
      // leave the gate due, or every other episode becomes the next probe.
      ctx.admission.failed("collector-down", action.error, action.retryAfterMs);
      await outbox.write("retry", retryScheduled(state, action));
      tally.retried(id, {
        attempts: action.attempts,
        error: action.error,
        nextAttemptAt: action.nextAttemptAt,
        nextProbeAt: ctx.admission.nextProbeAt(),
      });
      return false;
    }
    case "repack": {
      ctx.admission.answered();
      await outbox.write("repack", repackRequested(state, action.reason));
      await outbox.dropTarballs(id);
      tally.repacked(id, action.reason);
      return true;
    }
  }
}
