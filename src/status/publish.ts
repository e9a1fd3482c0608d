/**
 * After each pass, of the service and of every `--once` run: the status file, then the
 * Prometheus textfile when `shipper.metrics_textfile` is set. The textfile is rendered from a
 * snapshot that never walks `shipped/` or `quarantine/` (snapshot.ts), so its cost follows the
 * backlog, not the history.
 */
import type { Config } from "../config/config.ts";
import { describeError, type Logger } from "../log/log.ts";
import { type DaemonStatus, writeDaemonStatus } from "./daemon_status.ts";
import { metricsInputOf, renderMetrics, writeMetricsTextfile } from "./metrics.ts";
import { readStatusSnapshot, type SnapshotCache } from "./snapshot.ts";
import { buildStatus } from "./status.ts";

/** Options for {@linkcode writeMetrics}. */
export interface MetricsOptions {
  /** @default {Date.now} */
  now?: () => number;
  /** Kept between passes by the service. @default {a fresh one} */
  cache?: SnapshotCache;
}

/**
 * Writes the metrics textfile of `config`, when one is configured.
 * @example
 * ```ts
 * import { writeMetrics } from "./publish.ts";
 * import { loadConfig } from "../config/config.ts";
 * const { config } = await loadConfig("/etc/cis490/lab-host.toml");
 * await writeMetrics(config);
 * ```
 */
export async function writeMetrics(config: Config, options: MetricsOptions = {}): Promise<void> {
  if (!config.metricsTextfile) return;
  const now = options.now ?? Date.now;
  const snapshot = await readStatusSnapshot(config.dataRoot, {
    hostId: config.hostId,
    maxEpisodeBytes: config.maxEpisodeBytes,
    now,
    ...(options.cache && { cache: options.cache }),
  });
  const report = buildStatus(snapshot, now());
  const text = renderMetrics(metricsInputOf(report, config.tls.clientCertNotAfter ?? null));
  await writeMetricsTextfile(config.metricsTextfile, text);
}

/** Options for {@linkcode publishStatus}. */
export interface PublishOptions extends MetricsOptions {
  /** Told when a file cannot be written; the pass's outcome stands. */
  logger: Logger;
}

/**
 * Writes the status file, then the metrics textfile (which reads the status file's counters).
 * A failure is logged, never thrown: neither file is worth failing a pass for.
 */
export async function publishStatus(
  config: Config,
  status: DaemonStatus,
  options: PublishOptions,
): Promise<void> {
  const { logger } = options;
  await writeDaemonStatus(config.dataRoot, status).catch((error) =>
    logger.error(`cannot write status: ${describeError(error)}`)
  );
  await writeMetrics(config, options).catch((error) =>
    logger.error(`cannot write metrics: ${describeError(error)}`, {
      file: config.metricsTextfile,
    })
  );
}
