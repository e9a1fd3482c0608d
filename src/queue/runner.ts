/**
 * One episode's turn in a pass: the step the planner chooses (`planner.ts`) for what the outbox
 * knows of it, taken by the file that owns it — `finish.ts` (the move), `prepare.ts` (preflight,
 * pack, verify), `send.ts` (the request and its answer). A local failure (a full disk) is recorded,
 * backed off, and never stops the others.
 */
import { join } from "node:path";
import { REASON_FILE } from "../layout.ts";
import { describeError } from "../log/log.ts";
import { errorCode } from "../fs/fs.ts";
import { finish, finishQuarantine } from "./finish.ts";
import { episodeKeyOf } from "./outbox.ts";
import { planEpisode, waitsUntil } from "./planner.ts";
import { prepare, upload } from "./prepare.ts";
import { emptyState, type EpisodeState, type PackedState } from "./state.ts";
import {
  isEpisodeFault,
  localFailed,
  localFailuresExhausted,
  quarantineDecided,
} from "./transitions.ts";
import type { RunnerContext } from "./runner_context.ts";

export type { ProgressEvent, RunnerContext } from "./runner_context.ts";

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
