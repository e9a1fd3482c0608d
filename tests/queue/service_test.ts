/** The service loop under fake time: nothing here sleeps for real. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { makeEpisode, names } from "../../devkit/fixtures.ts";
import { makeQueueLab, type QueueLab } from "../support/queue_lab.ts";
import { FakeTime } from "../support/fake_time.ts";
import { PRUNE_INTERVAL_MS, Service, type ServiceOptions } from "../../src/queue/service.ts";
import type { Config } from "../../src/config/config.ts";
import { type PutRequest, type PutResponse, UploadError } from "../../src/upload/put.ts";
import { collectorReceiver } from "../../src/upload/collector_receiver.ts";

/** A Service on the lab's config and logger, under fake time, stopped by `stop`. */
function serviceUnder(
  lab: QueueLab,
  time: FakeTime,
  stop: AbortController,
  { put, ...options }: Partial<ServiceOptions> & {
    put?: (request: PutRequest) => Promise<PutResponse>;
  },
): Service {
  return new Service({
    config: lab.config,
    logger: lab.logger,
    stop: stop.signal,
    now: time.now,
    sleep: time.sleep,
    ...(put && { receiver: (config: Config) => collectorReceiver(config, { put, now: time.now }) }),
    ...options,
  });
}

Deno.test("Service waits a random start-up delay under one interval, then scans every interval", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 5");
  const time = new FakeTime(lab.clock.t);
  const stop = new AbortController();
  const passesAt: number[] = [];
  let passed = () => {};
  const service = serviceUnder(lab, time, stop, {
    random: () => 0.7,
    put: lab.put,
    afterPass: () => {
      passesAt.push(time.t);
      passed();
      return Promise.resolve();
    },
  });
  const pass = () => new Promise<void>((r) => (passed = r));
  const running = service.run();
  let done = pass();
  await time.next(running);
  await done;
  assertEquals(time.asked[0], 3500, "start-up delay: 0.7 × 5 s");
  done = pass();
  await time.next(running);
  await done;
  // A new episode is shipped by the next pass, within one interval.
  await makeEpisode(lab.dataRoot, "ep-new");
  done = pass();
  await time.next(running);
  await done;
  stop.abort();
  await running;
  assertEquals(passesAt.map((t) => t - lab.clock.t), [3500, 8500, 13500]);
  assertEquals(await names(lab.layout.shipped), ["ep-new"]);
});

Deno.test("Service with the collector down and 200 queued: one request per backoff step, then each episode exactly once", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 5\nupload_concurrency = 4");
  for (let i = 0; i < 200; i++) await makeEpisode(lab.dataRoot, `ep-${String(i).padStart(3, "0")}`);
  const start = lab.clock.t;
  const time = new FakeTime(start);
  const upAt = start + 600_000;
  lab.answer = (_id, at) => at < upAt ? { error: "ECONNREFUSED" } : { status: 201 };
  const stop = new AbortController();
  const service = serviceUnder(lab, time, stop, {
    random: () => 0.5,
    put: (request) => {
      lab.clock.t = time.t;
      return lab.put(request);
    },
    afterPass: async () => {
      if ((await names(lab.layout.shipped)).length === 200) stop.abort();
    },
  });
  const running = service.run();
  for (let steps = 0; await time.next(running); steps++) {
    if (steps > 10_000) stop.abort();
  }
  await running;
  const down = lab.requests.filter((r) => r.at < upAt);
  const gaps = down.slice(1).map((r, i) => (r.at - down[i]!.at) / 1000);
  // 1 + 2 + 4 + … : the schedule's steps, each probe alone.
  assertEquals(gaps, [1, 2, 4, 8, 16, 32, 60, 120, 300]);
  const up = lab.requests.filter((r) => r.at >= upAt);
  assertEquals(up.length, 200);
  assertEquals(new Set(up.map((r) => r.id)).size, 200, "each episode exactly once");
  assertEquals(await names(lab.layout.outbox), []);
});

Deno.test("Service prunes on its own period, not every scan", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 600");
  const time = new FakeTime(lab.clock.t);
  const stop = new AbortController();
  const prunedAt: number[] = [];
  let passes = 0;
  const service = serviceUnder(lab, time, stop, {
    random: () => 0,
    put: lab.put,
    prune: () => {
      prunedAt.push(time.t - lab.clock.t);
      return Promise.resolve();
    },
    afterPass: () => {
      if (++passes === 14) stop.abort();
      return Promise.resolve();
    },
  });
  const running = service.run();
  for (let steps = 0; await time.next(running); steps++) {
    if (steps > 1000) stop.abort();
  }
  await running;
  assertEquals(prunedAt, [0, PRUNE_INTERVAL_MS, 2 * PRUNE_INTERVAL_MS]);
});

Deno.test("Service reloads its config on request, and keeps the old one when the new one is broken", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 5");
  const time = new FakeTime(lab.clock.t);
  const stop = new AbortController();
  const next: (Config | Error)[] = [
    { ...lab.config, scanIntervalS: 30 },
    new Error("lab-host.toml: shipper.scan_interval_s: must be a number"),
  ];
  const service = serviceUnder(lab, time, stop, {
    random: () => 0,
    put: lab.put,
    reload: () => {
      const n = next.shift()!;
      return n instanceof Error ? Promise.reject(n) : Promise.resolve(n);
    },
  });
  const running = service.run();
  await time.next(running);
  service.requestReload();
  await time.next(running);
  assertEquals(service.config.scanIntervalS, 30);
  service.requestReload();
  await time.next(running);
  assertEquals(service.config.scanIntervalS, 30, "old config kept");
  stop.abort();
  await running;
  assert(lab.lines.some((l) => l.includes("config reloaded")));
  assert(
    lab.lines.some((l) =>
      /ERROR config reload failed; keeping the old config: .*scan_interval_s/.test(l)
    ),
  );
  assertEquals(time.asked.slice(-2), [30_000, 30_000]);
});

Deno.test("Service stop: an upload in flight gets the grace period, then is aborted; nothing counted", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 5\nstop_grace_s = 7");
  await makeEpisode(lab.dataRoot, "ep-1");
  const time = new FakeTime(lab.clock.t);
  const stop = new AbortController();
  let started!: () => void;
  const inFlight = new Promise<void>((r) => (started = r));
  const service = serviceUnder(lab, time, stop, {
    random: () => 0,
    put: (request) =>
      new Promise((_, reject) => {
        started();
        request.signal?.addEventListener("abort", () =>
          reject(new UploadError("aborted", "aborted")));
      }),
  });
  const running = service.run();
  await time.next(running); // start-up delay
  await inFlight;
  stop.abort();
  const before = time.t;
  await time.next(running); // the grace period
  await running;
  assertEquals(time.t - before, 7000);
  assertMatch(
    lab.lines.join("\n"),
    /stop grace period over: aborting the upload in flight stop_grace_s=7/,
  );
  assertEquals(await names(lab.layout.episodes), ["ep-1"]);
  assertEquals(await names(lab.layout.outbox), ["ep-1.state.json", "ep-1.tar.gz"]);
});

Deno.test("Service does not spin while a probe is due but no episode may be sent yet, or none is left", async () => {
  for (const removeEpisode of [false, true]) {
    await using lab = await makeQueueLab(
      "scan_interval_s = 60\nbackoff_seconds = [2]\nupload_concurrency = 1",
    );
    await makeEpisode(lab.dataRoot, "ep-a");
    lab.answer = () => ({ error: "ECONNREFUSED" });
    const time = new FakeTime(lab.clock.t);
    const start = time.t;
    const stop = new AbortController();
    // Start delay 0; the episode's own backoff jitters long (2.4 s), the host's short (1.6 s).
    const randoms = [0, 0.999, 0];
    let passes = 0;
    const service = serviceUnder(lab, time, stop, {
      random: () => randoms.shift() ?? 0.5,
      put: (request) => {
        lab.clock.t = time.t;
        return lab.put(request);
      },
      afterPass: async () => {
        passes++;
        if (removeEpisode && lab.requests.length === 1) {
          await Deno.remove(join(lab.dataRoot, "episodes", "ep-a"), { recursive: true })
            .catch(() => {});
        }
        if (time.t - start > 120_000 || passes > 50) stop.abort();
      },
    });
    const running = service.run();
    while (await time.next(running));
    await running;
    // One pass per probe (every 2 s here), plus at most a couple: never passes back to back.
    assert(
      passes <= lab.requests.length + 3,
      `${passes} passes for ${lab.requests.length} requests; sleeps: ${time.asked.join(", ")}`,
    );
    assert(time.asked.filter((ms) => ms === 0).length <= 1, `sleeps: ${time.asked.join(", ")}`);
  }
});

Deno.test("Service prunes again once a clock that was a year ahead is corrected", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 600");
  const year = 365 * 86400_000;
  const start = lab.clock.t;
  const time = new FakeTime(start + year);
  const stop = new AbortController();
  const prunedAt: number[] = [];
  let passes = 0;
  const service = serviceUnder(lab, time, stop, {
    random: () => 0,
    put: lab.put,
    prune: () => {
      prunedAt.push(time.t);
      return Promise.resolve();
    },
    afterPass: () => {
      if (++passes === 2) time.t = start; // the clock is corrected: a year back
      if (passes === 3) stop.abort();
      return Promise.resolve();
    },
  });
  const running = service.run();
  while (await time.next(running));
  await running;
  assertEquals(prunedAt, [start + year, start]);
});

Deno.test("Service keeps running when a whole pass fails, retrying it on the backoff schedule", async () => {
  await using lab = await makeQueueLab("scan_interval_s = 600\nbackoff_seconds = [30]");
  const outbox = join(lab.dataRoot, "outbox");
  await Deno.writeTextFile(outbox, ""); // not a directory: the pass cannot even start
  const time = new FakeTime(lab.clock.t);
  const stop = new AbortController();
  let passes = 0;
  const service = serviceUnder(lab, time, stop, {
    random: () => 0.5,
    put: lab.put,
    afterPass: () => {
      passes++;
      stop.abort();
      return Promise.resolve();
    },
  });
  const running = service.run();
  await time.next(running); // the start-up delay
  await time.next(running); // the failed pass's backoff
  await Deno.remove(outbox);
  while (await time.next(running));
  await running;
  assertEquals(passes, 1, "a later pass ran");
  assertMatch(
    lab.lines.join("\n"),
    /ERROR pass failed; retrying: .* failed_passes=1 retry_in_ms=30000/,
  );
  assertEquals(time.asked.slice(0, 2), [300_000, 30_000]);
});
