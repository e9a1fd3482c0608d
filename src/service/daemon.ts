/**
 * The shipper as a service, wired: the data root's lock, the queue's service loop, the status
 * file and the metrics after each pass, prune on its own period, and config reloads on SIGHUP.
 * The command line only parses options and calls {@linkcode runDaemon}.
 */
import { type Config, ConfigError } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../layout.ts";
import { lockDataRoot } from "../queue/lock.ts";
import { Service } from "../queue/service.ts";
import { pruneShipped } from "../retention/prune.ts";
import { daemonStatusOf } from "../status/daemon_status.ts";
import { publishStatus } from "../status/publish.ts";
import { newSnapshotCache } from "../status/snapshot.ts";

/** Options for {@linkcode runDaemon}. */
export interface DaemonOptions {
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: no new work, an upload in flight gets `stop_grace_s`. */
  stop: AbortSignal;
  /** Loads the config again for a reload. @throws when the new config is broken */
  reload?: () => Promise<Config>;
  /** Registers a SIGHUP listener; returns its removal. */
  onHangup?: (listener: () => void) => () => void;
  /** @default {Date.now} */
  now?: () => number;
}

/**
 * Runs the service until `stop` aborts.
 * @throws {import("../queue/lock.ts").LockHeldError} when another shipper holds the data root
 * @example
 * ```ts
 * import { runDaemon } from "./daemon.ts";
 * import { loadConfig } from "../config/config.ts";
 * import { createLogger } from "../log/log.ts";
 * const { config } = await loadConfig("/etc/cis490/lab-host.toml");
 * await runDaemon(config, { logger: createLogger(), stop: AbortSignal.timeout(60_000) });
 * ```
 */
export async function runDaemon(config: Config, options: DaemonOptions): Promise<void> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const lock = await lockDataRoot(layoutOf(config.dataRoot).lockFile, config.dataRoot);
  // Kept from pass to pass: the metrics refresh reads only what changed.
  const cache = newSnapshotCache();
  try {
    const reload = options.reload;
    const service = new Service({
      config,
      logger,
      stop: options.stop,
      ...(reload && {
        reload: async () => {
          const next = await reload();
          if (next.dataRoot !== config.dataRoot) {
            throw new ConfigError(
              next.file,
              "paths.data_root",
              "cannot change while running; restart the service",
            );
          }
          return next;
        },
      }),
      afterPass: (_summary, memory, current) =>
        publishStatus(current, daemonStatusOf(memory, Deno.pid, now()), { logger, now, cache }),
      prune: async (current) => {
        const report = await pruneShipped(current.dataRoot, {
          keepLocalForDays: current.keepLocalForDays,
          now,
        });
        if (report.pruned.length > 0) {
          logger.info("pruned shipped episodes", { count: report.pruned.length });
        }
      },
    });
    const removeHangup = options.onHangup?.(() => {
      logger.info("SIGHUP: reloading the config before the next pass");
      service.requestReload();
    });
    try {
      await service.run();
    } finally {
      removeHangup?.();
    }
  } finally {
    lock.release();
  }
}
