/**
 * One pass over `data_root`: recover once, scan, then each complete episode's turn
 * (`runner.ts`) with up to `upload_concurrency` episodes in flight, then make the moves durable
 * and let the outbox forget what moved. The invariants it keeps are numbered in `mod.ts`.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../layout.ts";
import { createReceiver } from "../upload/create_receiver.ts";
import { Admission } from "./admission.ts";
import { longestWaitMs } from "./backoff.ts";
import { UNPROVEN } from "./gate.ts";
import { ensureLayout, type MovesContext, syncMoves } from "./moves.ts";
import { Outbox } from "./outbox.ts";
import { type ProgressEvent, runEpisode, type RunnerContext } from "./runner.ts";
import { newMemory as freshMemory, type PassSummary, type QueueMemory, Tally } from "./tally.ts";
import { finishUnaddressable, quarantineUnaddressable } from "./unaddressable.ts";
import { productionWorld, type QueueWorld } from "./world.ts";

export type { Counters, PassSummary, Pause, QueueMemory } from "./tally.ts";
export type { ProgressEvent } from "./runner.ts";

/** A fresh memory: gate not yet proven (the first upload goes alone), nothing learnt. */
export function newMemory(): QueueMemory {
  return freshMemory(UNPROVEN);
}

/** Options for {@linkcode runPass}. */
export interface PassOptions {
  config: Config;
  logger: Logger;
  /**
   * The world around the queue; any part not given is production's (the receiver is then the
   * collector of `config`). @default {productionWorld}
   */
  world?: Partial<QueueWorld>;
  /** Aborting stops starting new work. */
  signal?: AbortSignal;
  /** Aborting also aborts uploads and packs in flight. @default {signal} */
  abortSignal?: AbortSignal;
  /** Kept by the service between passes. @default {a fresh one} */
  memory?: QueueMemory;
  /** Operator progress of packs and uploads. */
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Runs one pass. The data root must exist and the caller hold its lock.
 * @example
 * ```ts ignore
 * import { runPass } from "./pass.ts";
 * const summary = await runPass({ config, logger });
 * console.log(summary.shipped.length);
 * ```
 */
export async function runPass(options: PassOptions): Promise<PassSummary> {
  const { config, logger: log } = options;
  const layout = layoutOf(config.dataRoot);
  const receiver = options.world?.receiver ?? createReceiver(config);
  const world: QueueWorld = { ...productionWorld(layout, receiver), ...options.world, receiver };
  const memory = options.memory ?? newMemory();
  const stopping = () => options.signal?.aborted ?? false;
  const maxWaitMs = longestWaitMs(config.backoffSeconds);
  const outbox = new Outbox(layout, { fs: world.fs, memory: memory.states });
  const noun = world.receiver.noun ?? "collector";
  const tally = new Tally(memory, log, world.now, noun);
  const moves: MovesContext = { fs: world.fs, layout, lock: world.lock, syncLater: new Set() };
  const abortSignal = options.abortSignal ?? options.signal;
  const ctx: RunnerContext = {
    config,
    layout,
    world,
    outbox,
    tally,
    memory,
    moves,
    log,
    maxWaitMs,
    stopping,
    finished: new Set(),
    admission: new Admission(memory, {
      slots: config.uploadConcurrency,
      now: world.now,
      random: world.random,
      backoffSeconds: config.backoffSeconds,
      maxWaitMs,
      log,
      stopping,
      noun,
    }),
    ...(abortSignal && { abortSignal }),
    ...(options.onProgress && { onProgress: options.onProgress }),
  };
  try {
    await ensureLayout(layout, world.fs);
    // Recovery runs once, here, before anything is decided (invariant 8).
    const recovered = await world.lock(() => outbox.recover(config.hostId));
    for (const name of recovered.removed) log.info("removed stale outbox file", { file: name });
    for (const { id, dest } of recovered.finished) {
      log.info("finished a quarantine a crash interrupted", { episode: id, to: dest });
    }
    if (!memory.recovered) {
      for (const name of await finishUnaddressable(ctx)) {
        log.info("finished a quarantine a crash interrupted", { to: name });
      }
      memory.recovered = true;
    }

    const scan = await world.episodes.scan(layout.episodes);
    const summary = tally.summary;
    summary.incomplete = scan.incomplete.map((e) => e.name);
    summary.ignored = scan.ignored;
    for (const name of scan.ignored) {
      log.debug("ignored entry in episodes/: not a directory", { entry: name });
    }
    if (scan.unaddressable.length > 0) await quarantineUnaddressable(ctx);
    summary.unaddressable = scan.unaddressable;
    // Forget what was learnt only about directories that are gone (not about one whose
    // done.marker could not be checked this time).
    const present = new Set([...scan.complete, ...scan.incomplete].map((e) => e.name));
    outbox.forgetAllBut(present);
    for (const id of memory.preflightCache.keys()) {
      if (!present.has(id)) memory.preflightCache.delete(id);
    }

    const queue = [...scan.complete];
    const worker = async () => {
      for (let episode = queue.shift(); episode; episode = queue.shift()) {
        if (stopping()) tally.queued(episode.name, "stopping", null);
        else await runEpisode(ctx, episode.name, episode.path);
        memory.garbage.check();
      }
    };
    await Promise.all(
      // Workers beyond the requests that may run at once (`pack_ahead`) pack the next episodes
      // while the others upload: packing and uploading overlap.
      Array.from(
        { length: Math.max(1, config.uploadConcurrency) + (config.packAhead ?? 1) },
        () => worker(),
      ),
    );
  } finally {
    // Moves become durable before the states that recorded their answers go (invariant 4).
    await syncMoves(world.fs, moves.syncLater);
    await outbox.finish(ctx.finished);
    if (!options.world?.receiver) receiver.close();
  }
  const paused = memory.gate.paused;
  if (paused?.why === "collector-down" && !tally.summary.collectorDown) {
    tally.summary.collectorDown = `${tally.pauseText("collector-down")} (${paused.message})`;
  }
  return tally.summary;
}
