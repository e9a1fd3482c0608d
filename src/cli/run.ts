/** `cis490-ship [run] [--once]`: load config, lock the data root, run passes. */
import type { Logger } from "../log/log.ts";
import { layoutOf } from "../queue/layout.ts";
import { lockDataRoot } from "../queue/lock.ts";
import { runPass } from "../queue/pass.ts";
import { retryDelayMs } from "../queue/backoff.ts";
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
  const { config } = await loadShipperConfig(options.configPath, {
    ...io,
    now: io.now ?? Date.now,
  });
  const lock = await lockDataRoot(layoutOf(config.dataRoot).lockFile, config.dataRoot);
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
