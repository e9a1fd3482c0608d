/**
 * One request: the parcel sent through the receiver, its answer decided (`decide.ts`) and
 * applied — recorded before anything moves (invariant 2), the host gate told (invariant 6).
 */
import { configuredSecrets } from "../config/config.ts";
import { describeError } from "../log/log.ts";
import type { Parcel } from "../upload/receiver.ts";
import type { Ticket } from "./admission.ts";
import { decide } from "./decide.ts";
import { finish } from "./finish.ts";
import type { PackedState } from "./state.ts";
import { answered, repackRequested, resumeSaved, retryScheduled } from "./transitions.ts";
import type { RunnerContext } from "./runner_context.ts";

/** The parcel a packed state describes. */
export function parcelOf(ctx: RunnerContext, state: PackedState): Parcel {
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

/** Drops what the receiver kept of a stale tarball (a multipart upload). Best effort. */
export async function discard(ctx: RunnerContext, state: PackedState): Promise<void> {
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
export async function send(
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
