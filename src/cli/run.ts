/** `cis490-ship [--once]`: load config, lock the data root, run passes. */
import { ConfigError, loadConfig } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../queue/layout.ts";
import { lockDataRoot, LockHeldError } from "../queue/lock.ts";
import { runPass } from "../queue/pass.ts";
import { Service } from "../queue/service.ts";
import { serviceStatus, writeServiceStatus } from "../queue/status_file.ts";
import { EXIT } from "./args.ts";
import { exitCodeOf, formatSummary } from "./summary.ts";

/** What the run command needs from its caller. */
export interface RunIo {
  logger: Logger;
  stdout: (line: string) => void;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
  env: (name: string) => string | undefined;
  /** Registers a SIGHUP listener; returns its removal. */
  onHangup?: (listener: () => void) => () => void;
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
    const service = new Service({
      config,
      logger,
      stop: io.signal,
      reload: async () => {
        const next = await loadConfig(options.configPath, { env: io.env });
        if (next.config.dataRoot !== config.dataRoot) {
          throw new ConfigError(
            options.configPath,
            "paths.data_root",
            "cannot change while running; restart the service",
          );
        }
        if (next.config.receiver.bearerToken) logger.redact(next.config.receiver.bearerToken);
        for (const warning of next.warnings) logger.warn(warning);
        return next.config;
      },
      afterPass: (_summary, memory, current) =>
        writeServiceStatus(current.dataRoot, serviceStatus(memory, Deno.pid, Date.now())),
    });
    const removeHangup = io.onHangup?.(() => {
      logger.info("SIGHUP: reloading the config before the next pass");
      service.requestReload();
    });
    try {
      await service.run();
    } finally {
      removeHangup?.();
    }
    return EXIT.ok;
  } finally {
    lock.release();
  }
}
