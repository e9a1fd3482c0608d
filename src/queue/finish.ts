/**
 * The last step of an episode: the move into `quarantine/` or `shipped/` of an episode whose
 * fate is decided (invariants 1, 3 and 4 of `mod.ts`).
 */
import type { QuarantineSource } from "./reason.ts";
import { moveToQuarantine, moveToShipped } from "./moves.ts";
import { type AnsweredState, emptyState, type EpisodeState, type IntentState } from "./state.ts";
import { intentOfVerdict, quarantineDecided } from "./transitions.ts";
import type { RunnerContext } from "./runner_context.ts";

/** Quarantines for a reason found here (preflight), recording the decision first. */
export async function quarantineNow(
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

/** Finishes a decided quarantine; the episode is then forgotten once the move is durable. */
export async function finishQuarantine(
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
export async function finish(
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
