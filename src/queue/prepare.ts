/**
 * Getting an episode onto the wire: preflight (access, tree, meta.json), packing into `outbox/`
 * when it may be sent, or — for a tarball packed earlier — verifying it first (invariant 7).
 */
import { EpisodeChangedError, type Tree } from "../episodes/walk.ts";
import { preflight } from "../episodes/preflight.ts";
import { quarantineNow } from "./finish.ts";
import { setAsideReason } from "./moves.ts";
import { discard, send } from "./send.ts";
import { emptyState, type EpisodeState, type PackedState } from "./state.ts";
import { packed } from "./transitions.ts";
import type { RunnerContext } from "./runner_context.ts";

/** Preflight, then pack (when uploads may happen), then send. */
export async function prepare(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: EpisodeState | null,
): Promise<void> {
  const { world, memory, config } = ctx;
  const key = await world.episodes.key(dir);
  const cached = memory.preflightCache.get(id);
  // While uploads cannot happen, a known-good episode is not walked again.
  const early = cached?.key === key ? ctx.admission.closed() : null;
  if (early) return ctx.tally.queued(id, early.why, early.until);
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
  // Nothing is packed while the host is known to be paused: a dead receiver must not fill the
  // disk. Otherwise the episode packs now, while others upload (the pipeline), and waits for a
  // request slot and the gate only to send.
  const closed = ctx.admission.closed();
  if (closed) return ctx.tally.queued(id, closed.why, closed.until);
  const next = await pack(ctx, id, dir, inspection.tree, verdict.commit, state);
  if (next) await admitAndSend(ctx, id, dir, next);
}

/** Waits for a request slot and the gate, sends, and packs afresh once if the answer says so. */
async function admitAndSend(
  ctx: RunnerContext,
  id: string,
  dir: string,
  state: PackedState,
): Promise<void> {
  const ticket = await ctx.admission.enter(id);
  if (!ticket.go) return ctx.tally.queued(id, ticket.why, ticket.until);
  let again = false;
  try {
    again = await send(ctx, id, dir, state, ticket);
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
  tree: Tree,
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
export async function upload(
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
  await admitAndSend(ctx, id, dir, state);
}
