/** `cis490-ship [run] [--once [--dry-run]]`: the service, one pass, or the plan of one pass. */
import type { Config } from "../config/config.ts";
import { runDaemon } from "../service/daemon.ts";
import { formatDryRun, planDryRun } from "../service/dry_run.ts";
import { runOnce } from "../service/once.ts";
import {
  type CommandIo,
  CONFIG_OPTION,
  configPathOf,
  EXIT,
  LOG_OPTIONS,
  UsageError,
} from "./args.ts";
import { defineCommand } from "./define_command.ts";
import { loadShipperConfig } from "./_load.ts";
import { exitCodeOf, formatSummary } from "./summary.ts";

/** What to run. */
export interface RunOptions {
  configPath: string;
  once: boolean;
  /** With `once`: print the plan, send and change nothing. */
  dryRun: boolean;
}

/**
 * Runs the shipper; returns the exit code.
 * @throws {import("../config/config.ts").ConfigError} on a config error (exit 78)
 * @throws {import("../queue/lock.ts").LockHeldError} when another shipper holds the data root (75)
 */
export async function runShipper(options: RunOptions, io: CommandIo): Promise<number> {
  const { config } = await loadShipperConfig(options.configPath, io);
  if (options.dryRun) {
    for (const line of formatDryRun(await planDryRun(config, io))) io.stdout(line);
    return EXIT.ok;
  }
  if (options.once) {
    const summary = await runOnce(config, {
      logger: io.logger,
      signal: io.signal,
      now: io.now,
      ...(io.onProgress && { onProgress: io.onProgress }),
    });
    for (const line of formatSummary(summary)) io.stdout(line);
    return exitCodeOf(summary);
  }
  const reload = async (): Promise<Config> =>
    (await loadShipperConfig(options.configPath, io)).config;
  await runDaemon(config, {
    logger: io.logger,
    stop: io.signal,
    reload,
    now: io.now,
    ...(io.onHangup && { onHangup: io.onHangup }),
  });
  return EXIT.ok;
}

/** The `run` command (also what `cis490-ship` with no command runs). */
export const RUN_COMMAND = defineCommand({
  name: "run",
  summary: "ship episodes (a service; --once: one pass, then exit)",
  usage: "cis490-ship [run] [--config PATH] [--once [--dry-run]] [--log-format text|json] [-v]",
  description: `
Finds complete episodes (done.marker) under <data_root>/episodes/, quarantines those that may not
be sent (bad id, missing or unstamped meta.json, over shipper.max_episode_bytes), packs the rest
into outbox/ and PUTs them to receiver.url. Accepted episodes move to shipped/, refused ones to
quarantine/<id>/ with quarantine_reason.json; transient failures are retried with backoff.

Without --once it runs as a service, one pass every shipper.scan_interval_s, holding
<data_root>/.cis490-ship.lock; SIGTERM or SIGINT stops it gracefully (an upload in flight gets
shipper.stop_grace_s), exit 0; SIGHUP reloads the config. With --once it makes one pass, prints
one line per outcome on stdout, updates the status file (and the metrics textfile) as the service
does, and exits 0, 75 or 78; Ctrl-C or SIGTERM stops it at once (exit 130 or 143), the episode in
flight left queued. --once --dry-run prints what the pass would pack, send and quarantine, and
sends, creates and moves nothing.`,
  options: {
    ...CONFIG_OPTION,
    once: { type: "boolean", doc: "one pass: ship what is ready, print a summary, exit" },
    "dry-run": {
      type: "boolean",
      doc: "with --once: print what would be packed and sent; send and change nothing",
    },
    ...LOG_OPTIONS,
  },
  examples: [
    ["cis490-ship --once", "ship what is ready now, from cron or by hand"],
    ["cis490-ship --once --dry-run", "what would be sent, without sending"],
    ["cis490-ship --config ./lab-host.toml -v", "run as a service in the foreground"],
    ["cis490-ship run --log-format json", "JSON log lines for a log shipper"],
  ],
  parse({ values }, env) {
    const once = values.once === true;
    const dryRun = values["dry-run"] === true;
    if (dryRun && !once) throw new UsageError("--dry-run goes with --once");
    const configPath = configPathOf(values, env);
    return {
      // The service finishes what it started (stop_grace_s); a one-off run stops at once.
      signals: once ? "abort" : "graceful",
      run: (io) => runShipper({ configPath, once, dryRun }, io),
    };
  },
});
