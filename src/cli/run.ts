/** `cis490-ship [run] [--once]`: load config, lock the data root, run passes. */
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../queue/layout.ts";
import { lockDataRoot } from "../queue/lock.ts";
import { type ProgressEvent, runPass } from "../queue/pass.ts";
import { Service } from "../queue/service.ts";
import { putReceiver } from "../upload/_put_receiver.ts";
import { progressReporter, showsProgress } from "./progress.ts";
import type { Config } from "../config/config.ts";
import { ConfigError } from "../config/config.ts";
import { daemonStatusOf, writeDaemonStatus } from "../status/daemon_status.ts";
import { metricsInputOf, renderMetrics, writeMetricsTextfile } from "../status/metrics.ts";
import { readStatusSnapshot } from "../ops/status.ts";
import { buildStatus } from "../status/status.ts";
import { pruneShipped } from "../ops/prune.ts";
import { describeError } from "../log/log.ts";
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";
import {
  type CliCommand,
  CONFIG_OPTION,
  configPathOf,
  LOG_OPTIONS,
  logOptionsOf,
  parseCommandArgs,
} from "./args.ts";
import { loadShipperConfig } from "./_load.ts";
import { exitCodeOf, formatSummary } from "./summary.ts";

/** What the run command needs from its caller. */
export interface RunIo {
  logger: Logger;
  stdout: (line: string) => void;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
  env: (name: string) => string | undefined;
  /** @default {Date.now} */
  now?: () => number;
  /** Registers a SIGHUP listener; returns its removal. */
  onHangup?: (listener: () => void) => () => void;
}

/** Writes the Prometheus textfile, when one is configured. */
async function writeMetrics(config: Config, now: () => number): Promise<void> {
  if (!config.metricsTextfile) return;
  const report = buildStatus(await readStatusSnapshot(config.dataRoot, config.hostId), now());
  const text = renderMetrics(metricsInputOf(report, config.tls.clientCertNotAfter ?? null));
  await writeMetricsTextfile(config.metricsTextfile, text);
}

/**
 * Runs the shipper; returns the exit code.
 * @throws {import("../config/config.ts").ConfigError} on a config error (exit 78)
 * @throws {import("../queue/lock.ts").LockHeldError} when another shipper holds the data root (75)
 */
export async function runShipper(
  options: { configPath: string; once: boolean },
  io: RunIo,
): Promise<number> {
  const { logger } = io;
  const now = io.now ?? Date.now;
  const { config } = await loadShipperConfig(options.configPath, { ...io, now });
  const lock = await lockDataRoot(layoutOf(config.dataRoot).lockFile, config.dataRoot);
  try {
    if (options.once) {
      const receiver = putReceiver(config);
      const progress = showsProgress(Deno.stderr.isTerminal(), io.env("JOURNAL_STREAM"))
        ? progressReporter((text) => Deno.stderr.writeSync(new TextEncoder().encode(text)))
        : null;
      let summary;
      try {
        summary = await runPass({
          config,
          logger,
          signal: io.signal,
          world: { receiver },
          ...(progress && {
            onProgress: (e: ProgressEvent) => {
              if (e.phase !== "upload") return;
              if (e.doneBytes === 0) progress.onUpload({ bytes: e.totalBytes, done: false });
              else if (e.doneBytes === e.totalBytes) {
                progress.onUpload({ bytes: e.totalBytes, done: true });
              }
            },
          }),
        });
      } finally {
        receiver.close();
        progress?.end();
      }
      for (const line of formatSummary(summary)) io.stdout(line);
      return exitCodeOf(summary);
    }
    const service = new Service({
      config,
      logger,
      stop: io.signal,
      reload: async () => {
        const next = await loadShipperConfig(options.configPath, { ...io, now });
        if (next.config.dataRoot !== config.dataRoot) {
          throw new ConfigError(
            options.configPath,
            "paths.data_root",
            "cannot change while running; restart the service",
          );
        }
        return next.config;
      },
      afterPass: async (_summary, memory, current) => {
        await writeDaemonStatus(current.dataRoot, daemonStatusOf(memory, Deno.pid, now()));
        await writeMetrics(current, now).catch((error) =>
          logger.error(`cannot write metrics: ${describeError(error)}`, {
            file: current.metricsTextfile,
          })
        );
      },
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
    const removeHangup = io.onHangup?.(() => {
      logger.info("SIGHUP: reloading the config before the next pass");
      service.requestReload();
    });
    try {
      await service.run();
    } finally {
      removeHangup?.();
    }
    return 0;
  } finally {
    lock.release();
  }
}

/** The `run` command (also what `cis490-ship` with no command runs). */
export const RUN_COMMAND: CliCommand = {
  name: "run",
  summary: "ship episodes (a service; --once: one pass, then exit)",
  help: `Usage: cis490-ship [run] [--config PATH] [--once] [--log-format text|json] [-v]

Finds complete episodes (done.marker) under <data_root>/episodes/, quarantines those that may not
be sent (bad id, missing or unstamped meta.json, over shipper.max_episode_bytes), packs the rest
into outbox/ and PUTs them to receiver.url. Accepted episodes move to shipped/, refused ones to
quarantine/<id>/ with quarantine_reason.json; transient failures are retried with backoff.

Without --once it runs until SIGTERM, one pass every shipper.scan_interval_s, holding
<data_root>/.cis490-ship.lock. With --once it makes one pass, prints one line per outcome on
stdout and exits 0, 75 or 78.

Options:
  -c, --config PATH      shipper config (default: $CIS490_CONFIG, else ${DEFAULT_CONFIG_PATH})
      --once             one pass: ship what is ready, print a summary, exit
      --log-format FMT   text (default) or json; one line per event on stderr
  -v, --verbose          also log debug lines

Examples:
  cis490-ship --once                       ship what is ready now, from cron or by hand
  cis490-ship --config ./lab-host.toml -v  run as a service in the foreground, with debug lines
  cis490-ship run --log-format json        JSON log lines for a log shipper
`,
  parse(args, env) {
    const parsed = parseCommandArgs("run", args, {
      ...CONFIG_OPTION,
      ...LOG_OPTIONS,
      once: { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const { values } = parsed;
    const configPath = configPathOf(values, env);
    const once = values.once === true;
    return {
      ...logOptionsOf(values),
      run: (io) => runShipper({ configPath, once }, io),
    };
  },
};
