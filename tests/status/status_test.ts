import { assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { COMMIT, makeEpisode, tempDir } from "../../devkit/fixtures.ts";
import {
  buildStatus,
  type EpisodeSnapshot,
  formatAge,
  formatBytes,
  formatStatus,
  stateOf,
  type StatusSnapshot,
} from "../../src/status/status.ts";
import { newMemory } from "../../src/queue/pass.ts";
import {
  type DaemonStatus,
  daemonStatusPath,
  onceStatusOf,
  parseDaemonStatus,
  readDaemonStatus,
  writeDaemonStatus,
} from "../../src/status/daemon_status.ts";
import { newSnapshotCache, readStatusSnapshot } from "../../src/status/snapshot.ts";
import { layoutOf } from "../../src/layout.ts";
import { META_FILE } from "../../src/episodes/preflight.ts";
import { DONE_MARKER } from "../../src/episodes/scan.ts";
import { emptyState } from "../../src/queue/state.ts";
import { SimFs } from "../../sim/sim_fs.ts";
import { simEpisodes } from "../../sim/sim_world.ts";
import { guardDenoFs } from "../support/deno_fs_guard.ts";
import { countingSimLock } from "../support/counting_lock.ts";

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);

function ep(name: string, fields: Partial<EpisodeSnapshot> = {}): EpisodeSnapshot {
  return {
    name,
    complete: true,
    completedAt: NOW - 60_000,
    bytes: 100,
    rejected: null,
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
    [ep("g", { rejected: "meta.json is missing" }), "rejected"],
    [ep("h", { rejected: "too big", packed: true, outbox: due }), "packed"],
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
    ],
    shipped: 1,
    quarantined: 0,
    unconfirmed: 0,
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
    rejected: { count: 0, bytes: 0 },
    packed: { count: 0, bytes: 0 },
    waiting: { count: 2, bytes: 200 },
    shipped: { count: 1, bytes: null },
    quarantined: { count: 0, bytes: null },
  });
  assertEquals(report.total, { count: 5, bytes: 1205 });
  assertEquals(report.oldest_unshipped, {
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
  assertEquals(report.waiting.map((w) => [w.episode, w.attempts, w.last_error]), [
    ["w2", 1, "reset"],
    ["w1", 3, "HTTP 503"],
  ]);
  assertEquals(report.daemon, {
    running: true,
    pid: 4242,
    status_updated_at: "2026-01-10T11:59:58.000Z",
    status_written_by: "service",
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
    "oldest_unshipped",
    "next_retry",
    "waiting",
    "rejected",
    "unconfirmed",
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
  assertEquals(lines[7], "  waiting           2       200 B  backing off after a failed attempt");
  assertEquals(lines[8], "  shipped           1           -  in shipped/");
  assertEquals(
    lines[10],
    "  total             5     1.2 KiB  (episodes/ only; outbox tarballs: 777 B)",
  );
  assertEquals(lines.slice(11), [
    "oldest unshipped: old, complete for 1h 2m (since 2026-01-10T10:57:55.000Z)",
    "next retry: w2 at 2026-01-10T12:00:30.000Z (after 1 failed attempt: reset)",
    "waiting, with each one's last error:",
    "  w2: 1 failed attempt, next at 2026-01-10T12:00:30.000Z: reset",
    "  w1: 3 failed attempts, next at 2026-01-10T12:01:30.000Z: HTTP 503",
    "unconfirmed: none",
    "last success: ep-0 at 2026-01-10T10:00:00.000Z",
    "last error: HTTP 503 at 2026-01-10T11:59:00.000Z",
  ]);
  const idle = formatStatus(buildStatus(snapshot(null, null), NOW));
  assertEquals(idle[1], "daemon: not running");
  assertMatch(idle.join("\n"), /last success: none recorded\nlast error: none recorded$/);
});

Deno.test("formatStatus() never says due now while uploads are paused", () => {
  const paused = formatStatus(buildStatus(snapshot(DAEMON, { pid: 4242 }), NOW)).join("\n");
  assertEquals(paused.includes("due now"), false, paused);
  assertMatch(paused, /^ {2}packed +0 +0 B +tarball in outbox\/; held while uploads are paused$/m);
  assertMatch(paused, /^ {2}ready +1 .*held while uploads are paused$/m);
  const open = formatStatus(buildStatus(snapshot({ ...DAEMON, paused: null }, { pid: 1 }), NOW));
  assertMatch(open.join("\n"), /^ {2}packed +0 +0 B +tarball in outbox\/, due now$/m);
});

Deno.test("formatStatus() lists rejected episodes and unconfirmed ones, and says who wrote the status file", () => {
  const s = snapshot({ ...DAEMON, mode: "once" }, null);
  s.episodes.push(ep("bad", { rejected: "meta.json is missing" }));
  s.unconfirmed = 2;
  const lines = formatStatus(buildStatus(s, NOW));
  assertEquals(lines[1], "daemon: not running; last pass 2026-01-10T11:59:58.000Z (a --once run)");
  assertEquals(
    lines[4],
    "  rejected          1       100 B  complete, preflight will quarantine it",
  );
  const text = lines.join("\n");
  assertMatch(text, /\nrejected, quarantined by the next pass:\n {2}bad: meta\.json is missing\n/);
  assertMatch(text, /\nunconfirmed: 2 shipped episodes the collector never confirmed holding/);
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
    { ...DAEMON, mode: "cron" },
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
  await makeEpisode(root, "ep-unstamped", { meta: null });
  await Deno.mkdir(join(root, "shipped", "ep-s"), { recursive: true });
  await Deno.mkdir(join(root, "shipped", "ep-u"), { recursive: true });
  await Deno.mkdir(join(root, "quarantine", "ep-q"), { recursive: true });
  await Deno.mkdir(join(root, "quarantine", ".history"), { recursive: true });
  await Deno.mkdir(join(root, ".cis490-ship.unconfirmed"), { recursive: true });
  for (const mark of ["ep-u", "ep-gone"]) {
    await Deno.writeTextFile(join(root, ".cis490-ship.unconfirmed", mark), "");
  }
  await writeDaemonStatus(root, DAEMON);
  assertEquals(await readDaemonStatus(root), DAEMON);
  const snap = await readStatusSnapshot(root, { hostId: "lab-01" });
  assertEquals(snap.episodes.map((e) => [e.name, e.complete, e.rejected !== null]), [
    ["ep-ready", true, false],
    ["ep-running", false, false],
    ["ep-unstamped", true, true],
  ]);
  assertEquals([snap.shipped, snap.quarantined, snap.unconfirmed], [2, 1, 1]);
  assertEquals(
    snap.episodes[0]?.bytes,
    5 + (await Deno.stat(join(root, "episodes/ep-ready/meta.json"))).size,
  );
  assertEquals(snap.holder, null);
  assertEquals(snap.daemon, DAEMON);
});

Deno.test("readStatusSnapshot() reuses a folder's count while its times show it unchanged, and counts again after a change", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  for (const id of ["ep-1", "ep-2"]) {
    await Deno.mkdir(join(root, "shipped", id), { recursive: true });
  }
  const cache = newSnapshotCache();
  // Listed a minute after its last change: outside the racy window, so cached.
  const later = () => Date.now() + 60_000;
  assertEquals((await readStatusSnapshot(root, { hostId: "h", cache, now: later })).shipped, 2);
  // The cached count is what the next snapshot reports while the folder's times are the same:
  // seen by planting a different count under the same key.
  const key = cache.dirs.get(join(root, "shipped"))!.key;
  cache.dirs.set(join(root, "shipped"), { key, count: 99 });
  assertEquals((await readStatusSnapshot(root, { hostId: "h", cache, now: later })).shipped, 99);
  await Deno.mkdir(join(root, "shipped", "ep-3"));
  assertEquals((await readStatusSnapshot(root, { hostId: "h", cache })).shipped, 3);
  // A folder changed within the racy window is never cached.
  assertEquals(cache.dirs.has(join(root, "shipped")), false);
});

Deno.test("readStatusSnapshot() reports an episode whose state file cannot be read, instead of failing", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await makeEpisode(root, "ep-1");
  await Deno.mkdir(join(root, "outbox", "ep-1.state.json"), { recursive: true });
  const snap = await readStatusSnapshot(root, { hostId: "lab-01" });
  assertEquals(snap.episodes.map((e) => [e.name, e.outbox]), [["ep-1", null]]);
});

Deno.test("onceStatusOf() keeps what earlier runs learnt and adds up the counters", () => {
  const memory = newMemory();
  const fresh = onceStatusOf(null, memory, { pid: 7, now: NOW });
  assertEquals([fresh.mode, fresh.last_success, fresh.counters.shipped], ["once", null, 0]);
  const previous: DaemonStatus = { ...DAEMON, mode: "once" };
  const idle = onceStatusOf(previous, memory, { pid: 7, now: NOW });
  assertEquals(idle.last_success, DAEMON.last_success, "a run with nothing to do keeps it");
  assertEquals(idle.last_error, DAEMON.last_error);
  assertEquals(idle.counters, DAEMON.counters);
  memory.lastSuccess = { at: NOW, episode: "ep-9" };
  memory.counters.shipped = 2;
  memory.counters.bytes_shipped = 10;
  const busy = onceStatusOf(previous, memory, { pid: 7, now: NOW });
  assertEquals(busy.last_success, { at: "2026-01-10T12:00:00.000Z", episode: "ep-9" });
  assertEquals([busy.counters.shipped, busy.counters.bytes_shipped], [5, 4106]);
  assertEquals([busy.pid, busy.updated_at], [7, "2026-01-10T12:00:00.000Z"]);
  assertEquals(parseDaemonStatus(JSON.stringify(busy)), busy);
});

Deno.test("readStatusSnapshot() runs on an injected file system, section, episode reader and lock probe alone", async () => {
  // SimFs's "/data" does not exist on this disk, and the guard records any Deno file call even
  // where the code swallows its error: the snapshot must be read through the injected fs alone.
  const fs = new SimFs(() => NOW);
  const layout = layoutOf("/data");
  const episode = (id: string, files: Record<string, string>, complete = true) => {
    for (const [name, text] of Object.entries(files)) {
      fs.produceFile(join(layout.episodes, id, name), text);
    }
    if (complete) fs.produceFile(join(layout.episodes, id, DONE_MARKER), "");
  };
  const meta = JSON.stringify({ code_version: { commit: COMMIT } });
  episode("ep-ready", { [META_FILE]: meta, "x.bin": "12345" });
  episode("ep-running", { "x.bin": "abc" }, false);
  episode("ep-unstamped", { "x.bin": "1" });
  const tarball = "tarball bytes";
  fs.produceFile(layout.tarballPath("ep-ready", "gzip"), tarball);
  fs.produceFile(
    layout.statePath("ep-ready"),
    JSON.stringify({
      ...emptyState("ep-ready"),
      attempts: 2,
      last_error: "HTTP 503",
      packed: {
        compression: "gzip",
        size: tarball.length,
        sha256: "x",
        commit: COMMIT,
        packed_at: new Date(NOW).toISOString(),
      },
    }),
  );
  fs.produceFile(join(layout.outbox, "ep-ready.tar.gz.1234abcd.partial"), "half");
  for (const id of ["ep-s", "ep-u"]) fs.produceDir(join(layout.shipped, id));
  fs.produceDir(join(layout.quarantine, "ep-q"));
  fs.produceDir(layout.history);
  for (const id of ["ep-u", "ep-gone"]) fs.produceFile(join(layout.unconfirmed, id), "");
  fs.produceFile(daemonStatusPath("/data"), JSON.stringify(DAEMON));
  const [lock, sections] = countingSimLock();
  let snap;
  {
    using guard = guardDenoFs();
    snap = await readStatusSnapshot("/data", {
      hostId: "lab-01",
      fs,
      lock,
      episodes: simEpisodes(fs),
      holder: () => Promise.resolve({ pid: 4242 }),
      now: () => NOW,
    });
    assertEquals(guard.calls, []);
  }
  assertEquals(
    snap.episodes.map((e) => [e.name, e.complete, e.rejected !== null, e.bytes, e.packed]),
    [
      ["ep-ready", true, false, 5 + meta.length, true],
      ["ep-running", false, false, 3, false],
      ["ep-unstamped", true, true, 1, false],
    ],
  );
  assertEquals(snap.episodes[0]?.outbox, {
    attempts: 2,
    nextAttemptAt: null,
    lastError: "HTTP 503",
  });
  assertEquals([snap.shipped, snap.quarantined, snap.unconfirmed], [2, 1, 1]);
  assertEquals([snap.outboxBytes, sections()], [tarball.length, 1]);
  assertEquals([snap.holder, snap.daemon], [{ pid: 4242 }, DAEMON]);
});
