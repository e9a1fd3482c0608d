/** `cis490-ship [--once]`: load config, lock the data root, run passes. */
import { ConfigError, loadConfig } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../queue/layout.ts";
import { lockDataRoot, LockHeldError } from "../queue/lock.ts";
import { runPass } from "../queue/pass.ts";
import { retryDelayMs } from "../queue/backoff.ts";
import { EXIT } from "./args.ts";
import { exitCodeOf, formatSummary } from "./summary.ts";

/** What the run command needs from its caller. */
export interface RunIo {
  logger: Logger;
  stdout: (line: string) => void;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
  env: (name: string) => string | undefined;
}

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

/** Runs the shipper; returns the exit code. */
export async function runShipper(
  options: { configPath: string; once: boolean },
  io: RunIo,
): Promise<number> {
  const { logger } = io;
  let loaded;
  try {
    loaded = await loadConfig(options.configPath, { env: io.env });
    const info = await Deno.stat(loaded.config.dataRoot).catch(() => null);
    if (!info?.isDirectory) {
      throw new ConfigError(
        options.configPath,
        "paths.data_root",
        `"${loaded.config.dataRoot}" is not an existing directory`,
      );
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error(error.message);
      return EXIT.config;
    }
    throw error;
  }
  const { config, warnings } = loaded;
  if (config.receiver.bearerToken) logger.redact(config.receiver.bearerToken);
  for (const warning of warnings) logger.warn(warning);

  let lock;
  try {
    lock = await lockDataRoot(layoutOf(config.dataRoot).lockFile, config.dataRoot);
  } catch (error) {
    if (error instanceof LockHeldError) {
      logger.error(error.message);
      return EXIT.tempFail;
    }
    throw error;
  }
  try {
    if (options.once) {
      const summary = await runPass({ config, logger, signal: io.signal });
      for (const line of formatSummary(summary)) io.stdout(line);
      return exitCodeOf(summary);
    }
    logger.info("started", {
      host_id: config.hostId,
      data_root: config.dataRoot,
      receiver: config.receiver.url,
      scan_interval_s: config.scanIntervalS,
    });
    // While the collector is down or refusing us, passes slow down on the backoff schedule, so
    // a dead collector sees one probe per interval rather than one per scan.
    let troubledPasses = 0;
    while (!io.signal.aborted) {
      const summary = await runPass({ config, logger, signal: io.signal });
      troubledPasses = summary.paused || summary.collectorDown ? troubledPasses + 1 : 0;
      const wait = troubledPasses > 0
        ? Math.max(
          config.scanIntervalS * 1000,
          retryDelayMs(troubledPasses - 1, config.backoffSeconds, null, Math.random),
        )
        : config.scanIntervalS * 1000;
      await sleep(wait, io.signal);
    }
    logger.info("stopped");
    return EXIT.ok;
  } finally {
    lock.release();
  }
}
