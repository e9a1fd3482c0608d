/**
 * The pass in-process: fake put, fake clock, real disk. Host pause and probe, concurrency, the
 * collector's verdict recorded before the move, clock jumps.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { COMMIT, makeEpisode, names } from "../../devkit/fixtures.ts";
import { preflightKey } from "../../src/queue/preflight_key.ts";
import { makeQueueLab } from "../support/queue_lab.ts";
import { newMemory, runPass } from "../../src/queue/pass.ts";
import { readState } from "../../src/queue/state.ts";
import { statePath } from "../../src/queue/layout.ts";

Deno.test("runPass() probes with one upload, then drains the rest concurrently", async () => {
  await using lab = await makeQueueLab("upload_concurrency = 3");
  for (let i = 0; i < 9; i++) await makeEpisode(lab.dataRoot, `ep-${i}`);
  let inFlight = 0;
  let begun = 0;
  const peaks: number[] = [];
  const put = lab.put;
  const waiting: (() => void)[] = [];
  const summary = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world({
      put: async (request) => {
        inFlight++;
        begun++;
        peaks.push(inFlight);
        // Hold each upload until three are in flight (or none can follow), however slowly the
        // other workers pack: only a probe or a full set of workers gets through.
        if (begun > 1 && inFlight < 3 && begun < 9) await new Promise<void>((r) => waiting.push(r));
        else for (const wake of waiting.splice(0)) wake();
        try {
          return await put(request);
        } finally {
          inFlight--;
        }
      },
    }),
  });
  assertEquals(summary.shipped.length, 9);
  assertEquals(peaks[0], 1, "the first upload goes alone");
  assertEquals(Math.max(...peaks), 3, "then three at a time");
  assertEquals(await names(lab.layout.outbox), []);
});

Deno.test("runPass() sends nothing more once the collector is down, and nothing at all while the host waits", async () => {
  await using lab = await makeQueueLab("upload_concurrency = 4");
  for (let i = 0; i < 20; i++) await makeEpisode(lab.dataRoot, `ep-${String(i).padStart(2, "0")}`);
  lab.answer = () => ({ status: 503, body: "down" });
  const memory = newMemory();
  const pass = () =>
    runPass({
      config: lab.config,
      logger: lab.logger,
      world: lab.world({ random: () => 0.5 }),
      memory,
    });
  const first = await pass();
  assertEquals(lab.requests.length, 1, "one probe");
  assertEquals(first.queued.length, 20);
  assertMatch(first.collectorDown ?? "", /collector unavailable/);
  await pass();
  assertEquals(lab.requests.length, 1, "still paused: no request");
  lab.clock.t += 1000;
  await pass();
  assertEquals(lab.requests.length, 2, "one probe per backoff step");
  // Only the probed episodes count attempts.
  const attempts = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => readState(statePath(lab.layout, `ep-${String(i).padStart(2, "0")}`)),
    ),
  );
  // Packed ahead while the first probe went (one worker per request slot, and one more), but
  // nothing packed once the host was known to be down: the disk does not fill for a dead collector.
  const packed = attempts.filter((s) => s !== null);
  assert(packed.length <= 5, `${packed.length} packed`);
  const tried = packed.filter((s) => s!.attempts > 0);
  // Which queued episode carries a probe is a race between the workers; the set is the point.
  assertEquals(
    tried.map((s) => s!.episode_id).sort(),
    [...new Set(lab.requests.map((r) => r.id))].sort(),
  );
  assertEquals(tried.reduce((n, s) => n + s!.attempts, 0), 2);
  lab.answer = () => ({ status: 201 });
  lab.clock.t += 2000;
  const last = await pass();
  assertEquals(last.shipped.length, 20);
  assertEquals(new Set(lab.requests.slice(2).map((r) => r.id)).size, 20);
});

Deno.test(
  "runPass() records the collector's answer before moving: a failing move never re-sends, and backs off",
  {
    ignore: Deno.uid() !== 0,
  },
  async () => {
    await using lab = await makeQueueLab();
    const dir = await makeEpisode(lab.dataRoot, "ep-1");
    // A mount point cannot be renamed, even by root: the move into shipped/ fails with EBUSY.
    const mount = await new Deno.Command("mount", { args: ["--bind", dir, dir] }).output();
    assert(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      const memory = newMemory();
      const pass = () =>
        runPass({
          config: lab.config,
          logger: lab.logger,
          world: lab.world({ random: () => 0.5 }),
          memory,
        });
      const first = await pass();
      assertEquals(lab.requests.length, 1);
      assertEquals(first.shipped, []);
      const state = await readState(statePath(lab.layout, "ep-1"));
      assertEquals(state?.verdict?.kind, "ship");
      assertEquals(await names(lab.layout.outbox), ["ep-1.state.json"], "tarball gone at once");
      const failures = () => lab.lines.filter((l) => l.includes("failed locally")).length;
      assertEquals(failures(), 1);
      await pass();
      assertEquals(failures(), 1, "backing off: not retried before its time");
      for (const step of [1000, 2000, 4000]) {
        lab.clock.t += step;
        await pass();
      }
      assertEquals(failures(), 4, "one loud line per attempt");
      // The count grows through the waiting passes in between: the schedule lengthens.
      assertEquals(
        lab.lines.filter((l) => l.includes("failed locally")).map((l) =>
          /attempt=(\d+)/.exec(l)?.[1]
        ),
        ["1", "2", "3", "4"],
      );
      // A new process (fresh memory) finishes from the recorded verdict, without the network.
      await pass();
      const fresh = await runPass({
        config: lab.config,
        logger: lab.logger,
        world: lab.world(),
      });
      assertEquals(fresh.shipped, []);
      assertEquals(lab.requests.length, 1, "never sent again");
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
    }
    lab.clock.t += 60_000;
    const done = await runPass({
      config: lab.config,
      logger: lab.logger,
      world: lab.world(),
    });
    assertEquals(done.shipped, ["ep-1"]);
    assertEquals(lab.requests.length, 1);
    assertEquals(await names(lab.layout.shipped), ["ep-1"]);
    assertEquals(await names(lab.layout.outbox), []);
  },
);

Deno.test("runPass() sends an episode whose next attempt was computed under a clock years ahead", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1");
  lab.answer = () => ({ status: 503 });
  const future = lab.clock.t + 5 * 365 * 86400_000;
  const saved = lab.clock.t;
  lab.clock.t = future;
  await runPass({ config: lab.config, logger: lab.logger, world: lab.world() });
  assertEquals((await readState(statePath(lab.layout, "ep-1")))?.attempts, 1);
  lab.clock.t = saved;
  lab.answer = () => ({ status: 201 });
  const back = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world(),
  });
  assertEquals(back.shipped, ["ep-1"]);
  assert(lab.lines.some((l) => l.includes("the clock jumped")), "-v says why it did not wait");
});

Deno.test("runPass() with -v says why each held-back episode waits and until when", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1");
  lab.answer = () => ({ status: 503, body: "busy" });
  const memory = newMemory();
  await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world({ random: () => 0.5 }),
    memory,
  });
  await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world(),
    memory: newMemory(),
  });
  assert(
    lab.lines.some((l) =>
      /DEBUG waiting episode=ep-1 until=2026-03-01T00:00:01.000Z why=.*HTTP 503/.test(l)
    ),
    lab.lines.join("\n"),
  );
});

Deno.test("runPass() with a stop signal already aborted sends nothing", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1");
  const summary = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world(),
    signal: AbortSignal.abort(),
  });
  assertEquals(lab.requests.length, 0);
  assertEquals(summary.queued.map((q) => q.why), ["stopping"]);
  assertEquals(await names(join(lab.dataRoot, "episodes")), ["ep-1"]);
});

Deno.test("runPass() pauses the host even when the failed episode's state cannot be written: one probe, not a storm", async () => {
  await using lab = await makeQueueLab("backoff_seconds = [60]\nupload_concurrency = 2");
  for (const id of ["ep-1", "ep-2", "ep-3", "ep-4", "ep-5"]) await makeEpisode(lab.dataRoot, id);
  lab.answer = () => ({ error: "ECONNREFUSED" });
  const memory = newMemory();
  await runPass({
    config: lab.config,
    logger: lab.logger,
    memory,
    world: lab.world({
      put: async (request) => {
        // A non-empty directory where the state goes: the next state write fails (like EIO).
        const id = request.url.split("/").at(-1)!.replace(/\.tar(\.gz|\.zst)?$/, "");
        const path = statePath(lab.layout, id);
        await Deno.remove(path);
        await Deno.mkdir(path);
        await Deno.writeTextFile(join(path, "x"), "");
        return await lab.put(request);
      },
    }),
  });
  assertEquals(lab.requests.length, 1);
  assertEquals(memory.gate.paused?.why, "collector-down");
});

Deno.test("runPass() never strands the probe when the gate opens between two looks (clock moving on)", async () => {
  for (let offset = 1; offset <= 8; offset++) {
    await using lab = await makeQueueLab("backoff_seconds = [60]\nupload_concurrency = 1");
    const a = await makeEpisode(lab.dataRoot, "ep-a");
    await makeEpisode(lab.dataRoot, "ep-b");
    const base = lab.clock.t;
    const memory = newMemory();
    memory.gate = {
      paused: {
        why: "collector-down",
        message: "ECONNREFUSED",
        since: base - 60_000,
        failures: 1,
        nextProbeAt: base + offset,
      },
    };
    memory.preflightCache.set("ep-a", {
      key: await preflightKey(a),
      commit: COMMIT,
      accessOk: true,
    });
    let t = base;
    const summary = await runPass({
      config: lab.config,
      logger: lab.logger,
      memory,
      world: lab.world({ now: () => t++ }),
    });
    assertEquals(summary.shipped.length + summary.queued.length, 2, `offset ${offset}`);
  }
});

Deno.test("runPass() ships an episode put back by hand with its quarantine reason, setting the reason aside (not re-quarantined)", async () => {
  await using lab = await makeQueueLab();
  const dir = await makeEpisode(lab.dataRoot, "ep-1");
  await Deno.writeTextFile(
    join(dir, "quarantine_reason.json"),
    JSON.stringify({ episode_id: "ep-1", source: "collector", reason: "refused: HTTP 412" }),
  );
  const summary = await runPass({ config: lab.config, logger: lab.logger, world: lab.world() });
  assertEquals(summary.shipped, ["ep-1"]);
  assertEquals(summary.quarantined, []);
  assertEquals(
    await names(join(lab.layout.shipped, "ep-1")).then((n) => n.includes("quarantine_reason.json")),
    false,
  );
  const history = await names(join(lab.layout.quarantine, ".history"));
  assertEquals(history.length, 1);
  assertMatch(history[0]!, /^ep-1\..*\.json$/);
});

Deno.test("runPass() checks the memory's garbage bound after every episode, the same bound pass after pass", async () => {
  await using lab = await makeQueueLab("upload_concurrency = 2");
  const memory = newMemory();
  let checks = 0;
  memory.garbage = { check: () => checks++ };
  for (let i = 0; i < 5; i++) await makeEpisode(lab.dataRoot, `ep-${i}`);
  const pass = () =>
    runPass({ config: lab.config, logger: lab.logger, world: lab.world(), memory });
  assertEquals((await pass()).shipped.length, 5);
  assertEquals(checks, 5, "one check per episode");
  for (let i = 5; i < 8; i++) await makeEpisode(lab.dataRoot, `ep-${i}`);
  assertEquals((await pass()).shipped.length, 3);
  assertEquals(checks, 8, "the service's next pass goes on with the same bound");
});
