/** The `--once` summary and exit code, from a pass summary. Pure. */
import type { PassSummary } from "../queue/pass.ts";
import { EXIT } from "./args.ts";

function list(ids: string[], limit = 8): string {
  if (ids.length === 0) return "";
  // Uploads run concurrently, so completion order varies: list by name.
  const shown = [...ids].sort().slice(0, limit).join(", ");
  return ` (${shown}${ids.length > limit ? `, … ${ids.length - limit} more` : ""})`;
}

/** One line per outcome class. */
export function formatSummary(summary: PassSummary): string[] {
  const noun = summary.noun ?? "collector";
  const lines = [
    `shipped: ${summary.shipped.length}${list(summary.shipped)}`,
    `duplicate (${noun} already had it, moved to shipped): ${summary.duplicates.length}${
      list(summary.duplicates)
    }`,
    `quarantined: ${summary.quarantined.length}${
      list(summary.quarantined.map((q) => `${q.id} [${q.source}]`))
    }`,
    `queued for retry: ${summary.queued.length}${list(summary.queued.map((q) => q.id))}`,
    ...(summary.unconfirmed.length > 0
      ? [
        `unconfirmed (${noun} sent no digest; kept from prune): ${summary.unconfirmed.length}${
          list(summary.unconfirmed)
        }`,
      ]
      : []),
    ...summary.held.map((h) =>
      `held, needs an operator: ${h.id}: ${h.problem} (${h.path}); fix: ${h.fix}`
    ),
    `incomplete (no done.marker yet): ${summary.incomplete.length}${list(summary.incomplete)}`,
  ];
  if (summary.paused) {
    lines.push(
      `uploads paused: ${noun} answered ${summary.paused.message}; fix ${
        noun === "collector"
          ? "credentials or receiver.url"
          : "the credentials, receiver.url, receiver.bucket or this host's clock"
      }`,
    );
  } else if (summary.collectorDown) {
    lines.push(`uploads stopped early: ${summary.collectorDown}`);
  }
  return lines;
}

/**
 * The exit code of `--once`: 75 only for what will go on its own later. Episodes held for an
 * operator do not make it 75 (they would, forever); they are printed and logged instead.
 */
export function exitCodeOf(summary: PassSummary): number {
  if (summary.paused) return EXIT.config;
  if (summary.queued.length > 0) return EXIT.tempFail;
  return EXIT.ok;
}
