/**
 * `--once`, wired: the data root's lock, one pass, then the status file and the metrics
 * textfile, exactly as the service writes them after a pass (a `--once` from cron is as visible
 * as the service). The command line formats the summary and picks the exit code.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../layout.ts";
import { lockDataRoot } from "../queue/lock.ts";
import { newMemory, type PassSummary, runPass } from "../queue/pass.ts";
import type { ProgressEvent } from "../queue/progress.ts";
import { createReceiver } from "../upload/create_receiver.ts";
import { onceStatusOf, readDaemonStatus } from "../status/daemon_status.ts";
import { publishStatus } from "../status/publish.ts";

/** Options for {@linkcode runOnce}. */
export interface OnceOptions {
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM: uploads and packs in flight stop at once, not counted. */
  signal: AbortSignal;
  /** Progress of each episode, for a terminal. */
  onProgress?: (event: ProgressEvent) => void;
  /** @default {Date.now} */
  now?: () => number;
}

/**
 * One pass over the data root of `config`, then the status file and the metrics.
 * @throws {import("../queue/lock.ts").LockHeldError} when another shipper holds the data root
 * @example
 * ```ts
 * import { runOnce } from "./once.ts";
 * import { loadConfig } from "../config/config.ts";
 * import { createLogger } from "../log/log.ts";
 * const { config } = await loadConfig("/etc/cis490/lab-host.toml");
 * const summary = await runOnce(config, { logger: createLogger(), signal: new AbortController().signal });
 * summary.shipped.length;
 * ```
 */
export async function runOnce(config: Config, options: OnceOptions): Promise<PassSummary> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const lock = await lockDataRoot(layoutOf(config.dataRoot).lockFile, config.dataRoot);
  try {
    const memory = newMemory();
    const receiver = createReceiver(config);
    let summary: PassSummary;
    try {
      summary = await runPass({
        config,
        logger,
        memory,
        signal: options.signal,
        world: { receiver, now },
        ...(options.onProgress && { onProgress: options.onProgress }),
      });
    } finally {
      receiver.close();
    }
    const previous = await readDaemonStatus(config.dataRoot);
    await publishStatus(config, onceStatusOf(previous, memory, { pid: Deno.pid, now: now() }), {
      logger,
      now,
    });
    return summary;
  } finally {
    lock.release();
  }
}
