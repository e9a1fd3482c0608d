/** `cis490-ship collector --config PATH`: run the reference collector until signalled. */
import { loadCollectorConfig } from "../collector/config.ts";
import { startCollector } from "../collector/server.ts";
import type { Logger } from "../log/log.ts";
import { EXIT, LOG_OPTIONS, UsageError } from "./args.ts";
import { defineCommand } from "./define_command.ts";

/**
 * Runs the collector; returns the exit code.
 * @throws {import("../collector/config.ts").ConfigError} on a config error (exit 78)
 */
export async function runCollector(
  options: { configPath: string },
  io: { logger: Logger; stdout: (line: string) => void; signal: AbortSignal },
): Promise<number> {
  const loaded = await loadCollectorConfig(options.configPath);
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

/** The `collector` command. */
export const COLLECTOR_COMMAND = defineCommand({
  name: "collector",
  summary: "run the reference collector",
  usage: "cis490-ship collector --config PATH [--log-format text|json] [-v]",
  description: `
Runs the reference collector: HTTPS with required client certificates, optional bearer token,
commit gate, duplicate detection, digest and length verification, atomic storage under
<store_dir>/<host_id>/<episode_id>.tar.gz with a JSON sidecar, or with [storage] backend = "s3"
in a bucket shared by several collectors (docs/object-store.md). Prints "listening on URL" on
stdout once ready; stops on SIGTERM or SIGINT (requests in flight end first), exit 0. The config
keys are in the README.`,
  options: {
    config: { type: "string", short: "c", arg: "PATH", doc: "collector config (required)" },
    ...LOG_OPTIONS,
  },
  examples: [["cis490-ship collector --config /etc/cis490/collector.toml"]],
  parse({ values }) {
    const configPath = values.config;
    if (typeof configPath !== "string") throw new UsageError("needs --config PATH");
    return { signals: "graceful", run: (io) => runCollector({ configPath }, io) };
  },
});
