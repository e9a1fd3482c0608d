/**
 * The Prometheus textfile for node_exporter's textfile collector: rendered from the status report
 * and the shipper's counters (pure), written atomically with mode 0644 so node_exporter can read
 * it. Nothing in it needs a walk of `shipped/` or `quarantine/` (their bytes are not measured).
 */
import { writeFileAtomic } from "../fs/atomic.ts";
import type { DaemonCounters } from "./daemon_status.ts";
import { type StateName, STATES, type StateTotals, type StatusReport } from "./status.ts";

/** What the metrics are rendered from. */
export interface MetricsInput {
  states: Record<StateName, StateTotals>;
  /** Counters since the daemon started; null renders zeros. */
  counters: DaemonCounters | null;
  /** Last successful upload (ms), or null. */
  lastSuccessAt: number | null;
  paused: boolean;
  /** The client certificate's notAfter (ms), or null without one. */
  clientCertNotAfter: number | null;
  /** Age of the oldest complete, unshipped episode (s), or null. */
  oldestUnshippedAgeS: number | null;
  /** Shipped episodes the collector never confirmed holding. */
  unconfirmed: number;
}

/** The metrics input of a status report. */
export function metricsInputOf(
  report: StatusReport,
  clientCertNotAfter: number | null,
): MetricsInput {
  return {
    states: report.states,
    counters: report.counters,
    lastSuccessAt: report.last_success ? Date.parse(report.last_success.at) : null,
    paused: report.paused !== null,
    clientCertNotAfter,
    oldestUnshippedAgeS: report.oldest_unshipped?.age_s ?? null,
    unconfirmed: report.unconfirmed.count,
  };
}

const P = "cis490_ship";

function family(name: string, type: "gauge" | "counter", help: string, samples: string[]) {
  return [`# HELP ${P}_${name} ${help}`, `# TYPE ${P}_${name} ${type}`, ...samples];
}

const seconds = (ms: number) => String(Math.floor(ms / 1000));

/** Renders the textfile (Prometheus text exposition format 0.0.4). Pure. */
export function renderMetrics(input: MetricsInput): string {
  const c = input.counters ??
    { shipped: 0, duplicates: 0, quarantined: 0, failed_attempts: 0, bytes_shipped: 0 };
  const lines = [
    ...family(
      "backlog_episodes",
      "gauge",
      "Episodes by state.",
      STATES.map((s) => `${P}_backlog_episodes{state="${s}"} ${input.states[s].count}`),
    ),
    ...family(
      "backlog_bytes",
      "gauge",
      "Bytes of episode files by state (episodes/ only: shipped/ and quarantine/ are not walked).",
      STATES.flatMap((s) => {
        const bytes = input.states[s].bytes;
        return bytes === null ? [] : [`${P}_backlog_bytes{state="${s}"} ${bytes}`];
      }),
    ),
    ...family(
      "unconfirmed_episodes",
      "gauge",
      "Shipped episodes the collector never confirmed holding (a 409 without a digest).",
      [`${P}_unconfirmed_episodes ${input.unconfirmed}`],
    ),
    ...family(
      "uploads_total",
      "counter",
      "Upload outcomes (service: since it started; --once: summed over runs).",
      [
        `${P}_uploads_total{outcome="shipped"} ${c.shipped}`,
        `${P}_uploads_total{outcome="duplicate"} ${c.duplicates}`,
        `${P}_uploads_total{outcome="quarantined"} ${c.quarantined}`,
        `${P}_uploads_total{outcome="failed"} ${c.failed_attempts}`,
      ],
    ),
    ...family(
      "shipped_bytes_total",
      "counter",
      "Tarball bytes shipped (counted as uploads_total).",
      [
        `${P}_shipped_bytes_total ${c.bytes_shipped}`,
      ],
    ),
    ...family("paused", "gauge", "1 while uploads are paused for the whole host.", [
      `${P}_paused ${input.paused ? 1 : 0}`,
    ]),
  ];
  if (input.lastSuccessAt !== null) {
    lines.push(
      ...family("last_success_timestamp_seconds", "gauge", "Time of the last successful upload.", [
        `${P}_last_success_timestamp_seconds ${seconds(input.lastSuccessAt)}`,
      ]),
    );
  }
  if (input.oldestUnshippedAgeS !== null) {
    lines.push(
      ...family("oldest_unshipped_age_seconds", "gauge", "Age of the oldest unshipped episode.", [
        `${P}_oldest_unshipped_age_seconds ${input.oldestUnshippedAgeS}`,
      ]),
    );
  }
  if (input.clientCertNotAfter !== null) {
    lines.push(
      ...family(
        "client_certificate_expiry_timestamp_seconds",
        "gauge",
        "When the client certificate expires.",
        [`${P}_client_certificate_expiry_timestamp_seconds ${seconds(input.clientCertNotAfter)}`],
      ),
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Writes the textfile atomically: a temporary name node_exporter ignores (it reads `*.prom`),
 * fsynced, renamed; mode 0644 whatever the umask, so node_exporter can read it.
 */
export function writeMetricsTextfile(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, text, { mode: 0o644 });
}
