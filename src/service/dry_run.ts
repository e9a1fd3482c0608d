/**
 * `--once --dry-run`: what one pass would pack, send and quarantine, from a scan and preflight
 * alone. Nothing is sent, nothing is created or moved, no lock is taken: it may run beside the
 * service.
 */
import type { Config } from "../config/config.ts";
import { layoutOf } from "../layout.ts";
import { scanEpisodes, type ScanResult } from "../episodes/scan.ts";
import { EpisodeChangedError, walkEpisode } from "../episodes/walk.ts";
import { readMeta } from "../episodes/meta.ts";
import { preflight } from "../episodes/preflight.ts";
import { isValidId } from "../protocol/protocol.ts";
import { readState } from "../queue/state.ts";
import { planEpisode } from "../queue/planner.ts";
import { longestWaitMs } from "../queue/backoff.ts";
import { formatBytes } from "../status/status.ts";

/** What the pass would do with one complete episode. */
export type DryRunStep =
  /** Pack it, then send it (`bytes`: its files). */
  | { episode: string; action: "pack-and-send"; bytes: number }
  /** Its tarball is in `outbox/`: send it (`bytes`: the tarball). */
  | { episode: string; action: "send"; bytes: number }
  | { episode: string; action: "quarantine"; why: string }
  /** Backing off until `until`. */
  | { episode: string; action: "wait"; until: string; why: string }
  /** The collector already answered: moved without a request. */
  | { episode: string; action: "finish"; why: string }
  /** Changing while it was looked at: the pass would try again later. */
  | { episode: string; action: "skip"; why: string };

/** The dry run's report. */
export interface DryRunReport {
  steps: DryRunStep[];
  /** Directories without `done.marker`. */
  incomplete: string[];
  /** Names that are not valid UTF-8 (quarantined once complete). */
  unaddressable: string[];
}

/** Options for {@linkcode planDryRun}. */
export interface DryRunOptions {
  /** @default {Date.now} */
  now?: () => number;
  /** Aborting stops between two episodes (it throws the signal's reason). */
  signal?: AbortSignal;
}

async function stepOf(
  config: Config,
  name: string,
  dir: string,
  now: number,
): Promise<DryRunStep> {
  const layout = layoutOf(config.dataRoot);
  const state = isValidId(name) ? await readState(layout.statePath(name)).catch(() => null) : null;
  const tarball = state?.packed
    ? await Deno.lstat(layout.tarballPath(name, state.packed.compression)).catch(() => null)
    : null;
  const whole = tarball !== null && tarball.size === state?.packed?.size;
  const step = planEpisode({
    state,
    tarballWhole: whole,
    now,
    maxWaitMs: longestWaitMs(config.backoffSeconds),
  });
  switch (step.kind) {
    case "finish":
      return {
        episode: name,
        action: "finish",
        why: `the collector answered HTTP ${step.state.verdict.status}: ${
          step.state.verdict.kind === "ship" ? "to shipped/" : "to quarantine/"
        }`,
      };
    case "finish-quarantine":
      return {
        episode: name,
        action: "quarantine",
        why: `a quarantine was decided: ${step.state.intent.reason}`,
      };
    case "wait":
      return {
        episode: name,
        action: "wait",
        until: new Date(step.until).toISOString(),
        why: state?.last_error ?? step.why,
      };
    case "upload":
      return { episode: name, action: "send", bytes: step.state.packed.size };
    case "prepare": {
      let tree;
      try {
        tree = walkEpisode(dir);
      } catch (error) {
        if (!(error instanceof EpisodeChangedError)) throw error;
        return { episode: name, action: "skip", why: error.message };
      }
      const verdict = preflight({
        name,
        meta: await readMeta(dir),
        totalBytes: tree.totalBytes,
        maxEpisodeBytes: config.maxEpisodeBytes,
        treeProblem: tree.problem ?? null,
      });
      return verdict.send
        ? { episode: name, action: "pack-and-send", bytes: tree.totalBytes }
        : { episode: name, action: "quarantine", why: verdict.reason };
    }
  }
}

/**
 * Plans one pass over the data root of `config`, in the order the pass takes episodes.
 * @example
 * ```ts
 * import { formatDryRun, planDryRun } from "./dry_run.ts";
 * import { loadConfig } from "../config/config.ts";
 * const { config } = await loadConfig("/etc/cis490/lab-host.toml");
 * formatDryRun(await planDryRun(config)).forEach((line) => console.log(line));
 * ```
 */
export async function planDryRun(
  config: Config,
  options: DryRunOptions = {},
): Promise<DryRunReport> {
  const now = (options.now ?? Date.now)();
  let scan: ScanResult;
  try {
    scan = await scanEpisodes(layoutOf(config.dataRoot).episodes);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    scan = { complete: [], incomplete: [], ignored: [], unaddressable: [] };
  }
  const steps: DryRunStep[] = [];
  for (const episode of scan.complete) {
    options.signal?.throwIfAborted();
    steps.push(await stepOf(config, episode.name, episode.path, now));
  }
  return {
    steps,
    incomplete: scan.incomplete.map((e) => e.name),
    unaddressable: scan.unaddressable,
  };
}

/** The dry run for people: one line per complete episode, then the totals. */
export function formatDryRun(report: DryRunReport): string[] {
  const lines: string[] = [];
  let sendBytes = 0;
  const count = { send: 0, quarantine: 0, wait: 0, other: 0 };
  for (const s of report.steps) {
    switch (s.action) {
      case "pack-and-send":
        lines.push(`would pack and send ${s.episode} (${formatBytes(s.bytes)})`);
        count.send++;
        sendBytes += s.bytes;
        break;
      case "send":
        lines.push(`would send ${s.episode} (packed, ${formatBytes(s.bytes)})`);
        count.send++;
        sendBytes += s.bytes;
        break;
      case "quarantine":
        lines.push(`would quarantine ${s.episode}: ${s.why}`);
        count.quarantine++;
        break;
      case "wait":
        lines.push(`waiting ${s.episode} until ${s.until}: ${s.why}`);
        count.wait++;
        break;
      case "finish":
        lines.push(`would finish ${s.episode} without a request: ${s.why}`);
        count.other++;
        break;
      case "skip":
        lines.push(`would retry ${s.episode} later: ${s.why}`);
        count.other++;
        break;
    }
  }
  for (const name of report.unaddressable) {
    lines.push(`would quarantine ${name} once complete: its name is not valid UTF-8`);
    count.quarantine++;
  }
  if (report.incomplete.length > 0) {
    lines.push(`incomplete (no done.marker yet): ${report.incomplete.join(", ")}`);
  }
  lines.push(
    `would send ${count.send} (${
      formatBytes(sendBytes)
    }), quarantine ${count.quarantine}, wait ${count.wait} (dry run: nothing sent, nothing changed)`,
  );
  return lines;
}
