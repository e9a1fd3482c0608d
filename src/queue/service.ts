/**
 * The service loop: a random start-up delay (a fleet restarting together does not hit the collector
 * at once), then a pass every `scan_interval_s` (sooner when the host's next probe is due), the
 * status file after each pass, prune on its own period, config reloads between passes, and a
 * graceful stop. Time comes in as `now()` and `sleep()`, so tests drive it.
 */
import { type Config, ConfigError } from "../config/config.ts";
import { describeError, type Logger } from "../log/log.ts";
import type { Receiver } from "../upload/receiver.ts";
import { createReceiver } from "../upload/create_receiver.ts";
import { newMemory, type PassSummary, type QueueMemory, runPass } from "./pass.ts";
import { retryDelayMs } from "./backoff.ts";
import type { QueueWorld } from "./world.ts";

/** How often `shipped/` is pruned by the service. */
export const PRUNE_INTERVAL_MS = 3600_000;

/** Sleeps `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** Options for {@linkcode Service}. */
export interface ServiceOptions {
  config: Config;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: no new work; an upload in flight gets `stop_grace_s`. */
  stop: AbortSignal;
  /** Loads the config again (SIGHUP). @throws when the new config is broken. */
  reload?: () => Promise<Config>;
  /** Called after each pass (status file, metrics). */
  afterPass?: (summary: PassSummary, memory: QueueMemory, config: Config) => Promise<void>;
  /** Prunes `shipped/`; called every {@linkcode PRUNE_INTERVAL_MS}. */
  prune?: (config: Config) => Promise<void>;
  /** @default {Date.now} */
  now?: () => number;
  /** @default {sleep} */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** @default {Math.random} */
  random?: () => number;
  /** The receiver for a config; made again when a reload changes the config. @default {the collector's} */
  receiver?: (config: Config) => Receiver;
  /** The rest of the queue's world (file system, episodes, packer, lock). @default {production's} */
  world?: Partial<Omit<QueueWorld, "receiver" | "now" | "random">>;
  /** @default {a fresh memory} */
  memory?: QueueMemory;
}

/** The shipper as a service. */
export class Service {
  #config: Config;
  #receiver: Receiver | undefined;
  #reloadPending = false;
  #wake = new AbortController();
  readonly memory: QueueMemory;
  readonly now: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random: () => number;
  passes = 0;

  constructor(readonly options: ServiceOptions) {
    this.#config = options.config;
    this.memory = options.memory ?? newMemory();
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
    options.stop.addEventListener("abort", () => this.#wake.abort(), { once: true });
  }

  /** The config in force. */
  get config(): Config {
    return this.#config;
  }

  /** Asks for the config to be read again before the next pass (SIGHUP); wakes the loop. */
  requestReload(): void {
    this.#reloadPending = true;
    this.#wake.abort();
  }

  async #sleep(ms: number): Promise<void> {
    if (this.options.stop.aborted || this.#reloadPending) return;
    this.#wake = new AbortController();
    await this.sleep(ms, this.#wake.signal);
  }

  async #reload(): Promise<void> {
    this.#reloadPending = false;
    if (!this.options.reload) return;
    const log = this.options.logger;
    try {
      this.#config = await this.options.reload();
      this.#receiver?.close();
      this.#receiver = undefined;
      log.info("config reloaded", { file: this.#config.file });
    } catch (error) {
      // A config with several problems says each on its own line, as at start.
      const lines = error instanceof ConfigError ? error.lines : [describeError(error)];
      for (const line of lines) log.error(`config reload failed; keeping the old config: ${line}`);
    }
  }

  /** Runs until `stop` aborts; resolves when the last pass has ended. */
  async run(): Promise<void> {
    const { logger } = this.options;
    const startDelay = Math.floor(this.random() * this.#config.scanIntervalS * 1000);
    logger.info("started", {
      host_id: this.#config.hostId,
      data_root: this.#config.dataRoot,
      receiver: this.#config.receiver.url,
      scan_interval_s: this.#config.scanIntervalS,
      start_delay_ms: startDelay,
    });
    try {
      await this.#sleep(startDelay);
      await this.#loop();
    } finally {
      this.#receiver?.close();
    }
    logger.info("stopped");
  }

  async #loop(): Promise<void> {
    const { stop, logger } = this.options;
    let nextPrune = this.now();
    let failedPasses = 0;
    while (!stop.aborted) {
      if (this.#reloadPending) await this.#reload();
      let summary: PassSummary;
      try {
        summary = await this.#pass();
        failedPasses = 0;
      } catch (error) {
        // A whole pass failing (data root unreadable, a disk error in recovery) is retried on
        // the backoff schedule; the service itself keeps its state and does not exit.
        failedPasses++;
        const wait = retryDelayMs(failedPasses - 1, this.#config.backoffSeconds, null, this.random);
        logger.error(`pass failed; retrying: ${describeError(error)}`, {
          failed_passes: failedPasses,
          retry_in_ms: wait,
        });
        this.memory.lastError = { at: this.now(), message: `pass failed: ${describeError(error)}` };
        await this.#sleep(wait);
        continue;
      }
      this.passes++;
      if (this.options.afterPass) {
        await this.options.afterPass(summary, this.memory, this.#config).catch((error) =>
          logger.error(`cannot write status: ${describeError(error)}`)
        );
      }
      if (stop.aborted) break;
      // A next prune further away than one period was set under a clock that jumped back.
      const untilPrune = nextPrune - this.now();
      if (this.options.prune && (untilPrune <= 0 || untilPrune > PRUNE_INTERVAL_MS)) {
        await this.options.prune(this.#config).catch((error) =>
          logger.error(`prune failed: ${describeError(error)}`)
        );
        nextPrune = this.now() + PRUNE_INTERVAL_MS;
      }
      await this.#sleep(this.#nextWait(summary));
    }
  }

  /** A scan interval, or less when the host's next probe is due sooner. */
  #nextWait(summary: PassSummary): number {
    const interval = this.#config.scanIntervalS * 1000;
    const paused = this.memory.gate.paused;
    if (!paused) return interval;
    const now = this.now();
    let wake = paused.nextProbeAt;
    if (wake <= now) {
      // The probe was due but nothing could be probed (every episode waits on its own schedule,
      // or none is left): wake when one is due, not at once.
      const dues = summary.queued.map((q) => q.nextAttemptAt ?? Infinity).filter((t) => t > now);
      wake = Math.min(now + interval, ...dues);
    }
    return Math.max(0, Math.min(interval, wake - now));
  }

  /** One pass; after `stop`, an upload in flight has `stop_grace_s` before it is aborted. */
  async #pass(): Promise<PassSummary> {
    const { stop, logger } = this.options;
    const abort = new AbortController();
    const passDone = new AbortController();
    const onStop = () => {
      const graceMs = this.#config.stopGraceS * 1000;
      this.sleep(graceMs, passDone.signal).then(() => {
        if (!passDone.signal.aborted) {
          logger.warn("stop grace period over: aborting the upload in flight", {
            stop_grace_s: this.#config.stopGraceS,
          });
          abort.abort();
        }
      });
    };
    if (stop.aborted) onStop();
    else stop.addEventListener("abort", onStop, { once: true });
    // One receiver (one connection pool) for as long as the config holds.
    this.#receiver ??= (this.options.receiver ?? createReceiver)(this.#config);
    try {
      return await runPass({
        config: this.#config,
        logger,
        memory: this.memory,
        signal: stop,
        abortSignal: abort.signal,
        world: {
          ...this.options.world,
          receiver: this.#receiver,
          now: this.now,
          random: this.random,
        },
      });
    } finally {
      stop.removeEventListener("abort", onStop);
      passDone.abort();
    }
  }
}
