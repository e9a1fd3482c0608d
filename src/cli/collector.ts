/** `cis490-ship collector --config PATH`: run the reference collector until signalled. */
import { ConfigError, loadCollectorConfig } from "../collector/config.ts";
import { startCollector } from "../collector/server.ts";
import type { Logger } from "../log/log.ts";
import { EXIT } from "./args.ts";

/** Runs the collector; returns the exit code. */
export async function runCollector(
  options: { configPath: string },
  io: { logger: Logger; stdout: (line: string) => void; signal: AbortSignal },
): Promise<number> {
  let loaded;
  try {
    loaded = await loadCollectorConfig(options.configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.logger.error(error.message);
      return EXIT.config;
    }
    throw error;
  }
  for (const warning of loaded.warnings) io.logger.warn(warning);
  const collector = await startCollector(loaded.config, io.logger);
  io.stdout(`listening on ${collector.url}`);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) return resolve();
    io.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await collector.close();
  io.logger.info("collector stopped");
  return EXIT.ok;
}
