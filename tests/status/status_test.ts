import { assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { makeEpisode, tempDir } from "../../devkit/fixtures.ts";
import {
  buildStatus,
  type EpisodeSnapshot,
  formatAge,
  formatBytes,
  formatStatus,
  stateOf,
  type StatusSnapshot,
} from "../../src/status/status.ts";
import {
  type DaemonStatus,
  parseDaemonStatus,
  readDaemonStatus,
  writeDaemonStatus,
} from "../../src/status/daemon_status.ts";
import { readStatusSnapshot } from "../../src/ops/status.ts";

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);

function ep(name: string, fields: Partial<EpisodeSnapshot> = {}): EpisodeSnapshot {
  return {
    name,
    place: "episodes",
    complete: true,
    completedAt: NOW - 60_000,
    bytes: 100,
    outbox: null,
    packed: false,
    ...fields,
  };
}

const DAEMON: DaemonStatus = {
  version: 1,
  pid: 4242,
  updated_at: "2026-01-10T11:59:58.000Z",
  paused: {
    why: "collector-down",
    message: "HTTP 503",
    since: "2026-01-10T11:00:00.000Z",
    next_probe_at: "2026-01-10T12:05:00.000Z",
  },
  last_success: { at: "2026-01-10T10:00:00.000Z", episode: "ep-0" },
  last_error: { at: "2026-01-10T11:59:00.000Z", message: "HTTP 503" },
  counters: { shipped: 3, duplicates: 1, quarantined: 2, failed_attempts: 9, bytes_shipped: 4096 },
};

Deno.test("stateOf() puts each episode in exactly one state", () => {
  const waiting = { attempts: 2, nextAttemptAt: NOW + 1000, lastError: "HTTP 503" };
  const due = { attempts: 2, nextAttemptAt: NOW - 1, lastError: "HTTP 503" };
  const cases: [EpisodeSnapshot, string][] = [
    [ep("a", { complete: false, completedAt: null }), "incomplete"],
    [ep("b"), "ready"],
    [
      ep("c", { packed: true, outbox: { attempts: 0, nextAttemptAt: null, lastError: null } }),
      "packed",
    ],
    [ep("d", { packed: true, outbox: due }), "packed"],
    [ep("e", { packed: true, outbox: waiting }), "waiting"],
    [ep("f", { packed: false, outbox: waiting }), "waiting"],
    [ep("g", { place: "shipped", complete: false }), "shipped"],
    [ep("h", { place: "quarantine", complete: false }), "quarantined"],
  ];
  for (const [e, state] of cases) assertEquals(stateOf(e, NOW), state, e.name);
});

function snapshot(daemon: DaemonStatus | null, holder: { pid: number | null } | null) {
  const s: StatusSnapshot = {
    dataRoot: "/data",
    hostId: "lab-01",
    episodes: [
      ep("old", { completedAt: NOW - 3_725_000, bytes: 1000 }),
      ep("w1", {
        outbox: { attempts: 3, nextAttemptAt: NOW + 90_000, lastError: "HTTP 503" },
        packed: true,
      }),
      ep("w2", { outbox: { attempts: 1, nextAttemptAt: NOW + 30_000, lastError: "reset" } }),
      ep("run", { complete: false, completedAt: null, bytes: 5 }),
      ep("s", { place: "shipped", complete: false, completedAt: null }),
    ],
    outboxBytes: 777,
    holder,
    daemon,
  };
  return s;
}

Deno.test("buildStatus() adds up counts and bytes and reports oldest, next retry, daemon facts", () => {
  const report = buildStatus(snapshot(DAEMON, { pid: 4242 }), NOW);
  assertEquals(report.states, {
    incomplete: { count: 1, bytes: 5 },
    ready: { count: 1, bytes: 1000 },
    packed: { count: 0, bytes: 0 },
    waiting: { count: 2, bytes: 200 },
    shipped: { count: 1, bytes: 100 },
    quarantined: { count: 0, bytes: 0 },
  });
  assertEquals(report.total, { count: 5, bytes: 1305 });
  assertEquals(report.oldest_ready, {
    episode: "old",
    completed_at: "2026-01-10T10:57:55.000Z",
    age_s: 3725,
  });
  assertEquals(report.next_retry, {
    episode: "w2",
    at: "2026-01-10T12:00:30.000Z",
    attempts: 1,
    last_error: "reset",
  });
  assertEquals(report.daemon, {
    running: true,
    pid: 4242,
    status_updated_at: "2026-01-10T11:59:58.000Z",
  });
  assertEquals(report.paused, DAEMON.paused);
  assertEquals(report.counters, DAEMON.counters);
  assertEquals(Object.keys(report), [
    "version",
    "generated_at",
    "host_id",
    "data_root",
    "daemon",
    "states",
    "total",
    "outbox_bytes",
    "oldest_ready",
    "next_retry",
    "paused",
    "last_success",
    "last_error",
    "counters",
  ]);
});

Deno.test("buildStatus() drops a recorded pause when no daemon holds the data root", () => {
  const report = buildStatus(snapshot(DAEMON, null), NOW);
  assertEquals(report.paused, null);
  assertEquals(report.daemon.running, false);
  assertEquals(report.last_success, DAEMON.last_success);
});

Deno.test("formatStatus() prints a readable report", () => {
  const lines = formatStatus(buildStatus(snapshot(DAEMON, { pid: 4242 }), NOW));
  assertEquals(lines.slice(0, 3), [
    "host lab-01, data root /data",
    "daemon: running (pid 4242), last pass 2026-01-10T11:59:58.000Z",
    "uploads PAUSED (collector-down) since 2026-01-10T11:00:00.000Z: HTTP 503; next probe 2026-01-10T12:05:00.000Z",
  ]);
  assertEquals(lines[3], "  incomplete        1         5 B  no done.marker yet");
  assertEquals(lines[6], "  waiting           2       200 B  backing off after a failed attempt");
  assertEquals(lines[9], "  total             5     1.3 KiB  (outbox tarballs: 777 B)");
  assertEquals(lines.slice(10), [
    "oldest unshipped: old, complete for 1h 2m (since 2026-01-10T10:57:55.000Z)",
    "next retry: w2 at 2026-01-10T12:00:30.000Z (after 1 failed attempts: reset)",
    "last success: ep-0 at 2026-01-10T10:00:00.000Z",
    "last error: HTTP 503 at 2026-01-10T11:59:00.000Z",
  ]);
  const idle = formatStatus(buildStatus(snapshot(null, null), NOW));
  assertEquals(idle[1], "daemon: not running");
  assertMatch(idle.join("\n"), /last success: none recorded\nlast error: none recorded$/);
});

Deno.test("formatBytes() and formatAge() read naturally", () => {
  assertEquals([0, 1023, 1536, 5 * 1024 ** 3].map(formatBytes), [
    "0 B",
    "1023 B",
    "1.5 KiB",
    "5.0 GiB",
  ]);
  assertEquals([5, 65, 3725, 90_000].map(formatAge), ["5s", "1m 5s", "1h 2m", "1d 1h"]);
});

Deno.test("parseDaemonStatus() accepts version 1 and rejects anything else", () => {
  assertEquals(parseDaemonStatus(JSON.stringify(DAEMON)), DAEMON);
  const bad: unknown[] = [
    { ...DAEMON, version: 2 },
    { ...DAEMON, paused: { ...DAEMON.paused, why: "tired" } },
    { ...DAEMON, counters: { ...DAEMON.counters, shipped: -1 } },
    { ...DAEMON, last_success: { at: "yesterday", episode: "x" } },
    [],
  ];
  for (const b of bad) assertEquals(parseDaemonStatus(JSON.stringify(b)), null, JSON.stringify(b));
  assertEquals(parseDaemonStatus("{"), null);
});

Deno.test("readStatusSnapshot() reads every place and the daemon status file", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await makeEpisode(root, "ep-ready", { files: { "x.bin": "12345" } });
  await makeEpisode(root, "ep-running", { complete: false });
  await Deno.mkdir(join(root, "shipped", "ep-s"), { recursive: true });
  await Deno.mkdir(join(root, "quarantine", "ep-q"), { recursive: true });
  await Deno.mkdir(join(root, "quarantine", ".history"), { recursive: true });
  await writeDaemonStatus(root, DAEMON);
  assertEquals(await readDaemonStatus(root), DAEMON);
  const snap = await readStatusSnapshot(root, "lab-01");
  assertEquals(snap.episodes.map((e) => [e.name, e.place, e.complete]), [
    ["ep-ready", "episodes", true],
    ["ep-running", "episodes", false],
    ["ep-s", "shipped", false],
    ["ep-q", "quarantine", false],
  ]);
  assertEquals(
    snap.episodes[0]?.bytes,
    5 + (await Deno.stat(join(root, "episodes/ep-ready/meta.json"))).size,
  );
  assertEquals(snap.holder, null);
  assertEquals(snap.daemon, DAEMON);
});

Deno.test("readStatusSnapshot() reports an episode whose state file cannot be read, instead of failing", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await makeEpisode(root, "ep-1");
  await Deno.mkdir(join(root, "outbox", "ep-1.state.json"), { recursive: true });
  const snap = await readStatusSnapshot(root, "lab-01");
  assertEquals(snap.episodes.map((e) => [e.name, e.outbox]), [["ep-1", null]]);
});
