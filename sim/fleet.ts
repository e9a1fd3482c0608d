/**
 * The fleet, simulated with the queue's own host gate (`src/queue/gate.ts`: one probe per backoff
 * step while paused, full speed once a probe is answered) and backoff (`backoff.ts`): thousands of
 * lab hosts, one collector with a fixed capacity, an outage, then recovery. It answers what a
 * fleet operator must know before running one: how hard the hosts hit the collector during the
 * outage and after it, how long the backlog takes to drain, how long the unluckiest host waits.
 *
 * Model: each host produces an episode every `episodeEveryS` (with its own phase), runs a pass
 * every `scanIntervalS`, uploads `concurrency` episodes a second while its gate is open; the
 * collector answers every request while up, at most `capacityPerS` a second (the rest get 503),
 * and nothing during the outage (every request fails at once).
 */
import { admission, afterAnswer, afterFailure, type Gate, UNPROVEN } from "../src/queue/gate.ts";
import { longestWaitMs } from "../src/queue/backoff.ts";
import { rngOf } from "./rng.ts";

/** One fleet scenario. */
export interface FleetScenario {
  label: string;
  hosts: number;
  capacityPerS: number;
  outageS: number;
  backoffSeconds: readonly number[];
  scanIntervalS: number;
  concurrency: number;
  episodeEveryS: number;
  /** Simulated time after the outage ends. */
  afterS: number;
  seed: number;
}

/** What the scenario showed. */
export interface FleetResult {
  /** Highest requests in one second while the collector was down. */
  peakDuringOutage: number;
  /** Highest requests in one second after it came back. */
  peakAfter: number;
  /** Requests refused for capacity after recovery (503s). */
  refusedAfter: number;
  /** Seconds from recovery until every backlog was empty (null: not within `afterS`). */
  drainS: number | null;
  /** Seconds from recovery until half the hosts had emptied their backlog. */
  medianHostDrainS: number | null;
  /** The longest an episode waited, from its creation to the collector's acceptance. */
  longestWaitS: number;
  /** Requests sent during the outage, all hosts. */
  requestsDuringOutage: number;
}

interface Host {
  gate: Gate;
  /** Creation times of the episodes waiting, oldest first. */
  backlog: number[];
  nextEpisodeAt: number;
  nextPassAt: number;
  drainedAt: number | null;
}

/** Runs one scenario. Time is in whole seconds; the outage is [0, outageS). */
export function simulateFleet(s: FleetScenario): FleetResult {
  const rng = rngOf(s.seed);
  const random = () => rng.next();
  const maxWaitMs = longestWaitMs(s.backoffSeconds);
  const start = -600;
  const end = s.outageS + s.afterS;
  const hosts: Host[] = Array.from({ length: s.hosts }, () => ({
    gate: UNPROVEN,
    backlog: [],
    nextEpisodeAt: start + rng.next() * s.episodeEveryS,
    nextPassAt: start + rng.next() * s.scanIntervalS,
    drainedAt: null,
  }));
  // Hosts by the second of their next pass: a bucket queue over the simulated time.
  const buckets = new Map<number, number[]>();
  const schedule = (i: number, at: number) => {
    const t = Math.max(Math.ceil(at), 0) > end ? end + 1 : Math.ceil(at);
    let list = buckets.get(t);
    if (!list) buckets.set(t, list = []);
    list.push(i);
  };
  hosts.forEach((h, i) => schedule(i, h.nextPassAt));
  const perSecond = new Map<number, number>();
  let refusedAfter = 0;
  let requestsDuringOutage = 0;
  let peakDuringOutage = 0;
  let peakAfter = 0;
  let longestWaitS = 0;
  for (let t = start; t <= end; t++) {
    const due = buckets.get(t);
    buckets.delete(t);
    if (!due) continue;
    for (const i of due) {
      const h = hosts[i]!;
      const nowMs = t * 1000;
      while (h.nextEpisodeAt <= t) {
        h.backlog.push(h.nextEpisodeAt);
        h.nextEpisodeAt += s.episodeEveryS;
      }
      let sent = 0;
      // One pass: while the gate admits, send (concurrency per second of the pass).
      while (h.backlog.length > 0) {
        const admit = admission(h.gate, nowMs, maxWaitMs);
        if (admit === "closed") break;
        const second = t + Math.floor(sent / s.concurrency);
        const count = (perSecond.get(second) ?? 0) + 1;
        perSecond.set(second, count);
        sent++;
        if (second < s.outageS) {
          requestsDuringOutage++;
          peakDuringOutage = Math.max(peakDuringOutage, count);
          h.gate = afterFailure(h.gate, {
            why: "collector-down",
            message: "down",
            retryAfterMs: null,
          }, {
            now: second * 1000,
            backoffSeconds: s.backoffSeconds,
            random,
          });
          break;
        }
        peakAfter = Math.max(peakAfter, count);
        if (count > s.capacityPerS) {
          refusedAfter++;
          h.gate = afterFailure(h.gate, {
            why: "collector-down",
            message: "503",
            retryAfterMs: null,
          }, {
            now: second * 1000,
            backoffSeconds: s.backoffSeconds,
            random,
          });
          break;
        }
        h.gate = afterAnswer(h.gate);
        longestWaitS = Math.max(longestWaitS, second - h.backlog.shift()!);
        if (h.backlog.length === 0 && t >= s.outageS && h.drainedAt === null) h.drainedAt = second;
      }
      const nextPass = t + s.scanIntervalS + Math.floor(sent / s.concurrency);
      const probeAt = h.gate.paused ? Math.ceil(h.gate.paused.nextProbeAt / 1000) : nextPass;
      const wake = h.backlog.length > 0
        ? Math.max(nextPass, h.gate.paused ? probeAt : nextPass)
        : Math.max(nextPass, Math.ceil(h.nextEpisodeAt));
      schedule(i, wake);
    }
  }
  const drained = hosts.map((h) => h.drainedAt ?? (h.backlog.length === 0 ? s.outageS : null));
  const all = drained.every((d) => d !== null);
  const sorted = all ? (drained as number[]).map((d) => d - s.outageS).sort((a, b) => a - b) : [];
  return {
    peakDuringOutage,
    peakAfter,
    refusedAfter,
    drainS: all ? sorted.at(-1)! : null,
    medianHostDrainS: all ? sorted[sorted.length >> 1]! : null,
    longestWaitS,
    requestsDuringOutage,
  };
}

/** The scenarios the docs' table shows: today's defaults and the recommended settings. */
export function fleetScenarios(): FleetScenario[] {
  const base = {
    hosts: 10_000,
    capacityPerS: 200,
    outageS: 3600,
    scanIntervalS: 5,
    concurrency: 2,
    episodeEveryS: 600,
    afterS: 4 * 3600,
    seed: 7,
  };
  const defaults = [1, 2, 4, 8, 16, 32, 60, 120, 300];
  const recommended = [...defaults, 600];
  return [
    { ...base, label: `[${defaults}] (defaults), 200 req/s`, backoffSeconds: defaults },
    { ...base, label: `[${recommended}], 200 req/s`, backoffSeconds: recommended },
    {
      ...base,
      capacityPerS: 100,
      label: `[${defaults}] (defaults), 100 req/s`,
      backoffSeconds: defaults,
    },
    {
      ...base,
      capacityPerS: 100,
      label: `[${recommended}], 100 req/s`,
      backoffSeconds: recommended,
    },
  ];
}

/** The table `deno task simulate --fleet` prints. */
export function fleetTable(scenarios = fleetScenarios()): string[] {
  const lines = [
    "| backoff_seconds, collector capacity | requests in outage | peak req/s in outage | peak req/s after | 503s after | all drained (s) | median host drained (s) | longest episode wait (s) |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const s of scenarios) {
    const r = simulateFleet(s);
    lines.push(
      `| ${s.label} | ${r.requestsDuringOutage} | ${r.peakDuringOutage} | ${r.peakAfter} | ${r.refusedAfter} | ${
        r.drainS ?? "not drained"
      } | ${r.medianHostDrainS ?? "—"} | ${Math.round(r.longestWaitS)} |`,
    );
  }
  return [
    `${scenarios[0]?.hosts} hosts, an outage of ${
      scenarios[0]?.outageS
    } s, one episode per host every ${scenarios[0]?.episodeEveryS} s`,
    "",
    ...lines,
  ];
}
