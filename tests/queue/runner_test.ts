/**
 * One episode's turn, in-process against a scripted receiver: reused ids and what a 409 means,
 * tarballs damaged in outbox/ or in transit, local failures that never end, episodes held for
 * an operator. The invariants named are those of `src/queue/mod.ts`.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { COMMIT, makeEpisode, names } from "../../devkit/fixtures.ts";
import { makeQueueLab } from "../support/queue_lab.ts";
import { scriptedReceiver } from "../support/scripted_receiver.ts";
import { newMemory, runPass } from "../../src/queue/pass.ts";
import { LOCAL_FAILURE_LIMIT } from "../../src/queue/transitions.ts";
import { denoEpisodes, denoPacker } from "../../src/queue/world.ts";
import { REASON_FILE } from "../../src/layout.ts";

Deno.test("runPass() quarantines an episode re-created under a shipped id, naming both digests (invariant 5: only its own fault)", async () => {
  await using lab = await makeQueueLab();
  const receiver = scriptedReceiver();
  const world = lab.world({ receiver });
  await makeEpisode(lab.dataRoot, "ep-1", { files: { "a.csv": "first run\n" } });
  assertEquals((await runPass({ config: lab.config, logger: lab.logger, world })).shipped, [
    "ep-1",
  ]);
  // The producer runs again under the same id, with other results.
  await makeEpisode(lab.dataRoot, "ep-1", { files: { "a.csv": "second run\n" } });
  const summary = await runPass({ config: lab.config, logger: lab.logger, world });
  assertEquals(summary.shipped, []);
  assertEquals(summary.duplicates, []);
  assertEquals(summary.quarantined.map((q) => q.id), ["ep-1"]);
  const [first, second] = receiver.sent;
  const reason = JSON.parse(
    await Deno.readTextFile(join(lab.layout.quarantine, "ep-1", REASON_FILE)),
  );
  assert(reason.reason.includes(first!.sha256), reason.reason);
  assert(reason.reason.includes(second!.sha256), reason.reason);
  assertMatch(reason.reason, /rename the episode directory/i);
  assertEquals(reason.http_status, 409);
  assertEquals(await names(lab.layout.shipped), ["ep-1"], "the first one stays shipped");
});

Deno.test("runPass() ships a 409 with our digest as a confirmed duplicate and one without a digest marked unconfirmed", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "same");
  await makeEpisode(lab.dataRoot, "blind");
  const receiver = scriptedReceiver((s) => ({
    class: "duplicate",
    status: 409,
    digest: s.id === "same" ? s.sha256 : null,
  }));
  const summary = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world({ receiver }),
  });
  assertEquals(summary.duplicates.sort(), ["blind", "same"]);
  assertEquals(summary.unconfirmed, ["blind"]);
  assertEquals(await names(lab.layout.shipped), ["blind", "same"]);
  assertEquals(await names(lab.layout.unconfirmed), ["blind"], "prune must keep it");
  assert(lab.lines.some((l) => l.includes("WARN") && l.includes("marked unconfirmed")));
});

Deno.test("runPass() repacks a tarball damaged in outbox/ instead of sending it again (invariant 7)", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1");
  let down = true;
  const receiver = scriptedReceiver(() =>
    down
      ? { class: "transient", status: 503, said: "HTTP 503", retryAfterMs: null }
      : { class: "stored", status: 201 }
  );
  const memory = newMemory();
  const pass = () =>
    runPass({
      config: lab.config,
      logger: lab.logger,
      memory,
      world: lab.world({ receiver, random: () => 0.5 }),
    });
  await pass();
  const [tarball] = (await names(lab.layout.outbox)).filter((n) => n.endsWith(".tar.gz"));
  const path = join(lab.layout.outbox, tarball!);
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 5]! ^= 0xff;
  await Deno.writeFile(path, bytes);
  down = false;
  lab.clock.t += 3600_000;
  const summary = await pass();
  assertEquals(summary.shipped, ["ep-1"]);
  assertEquals(receiver.sent.length, 2);
  for (const s of receiver.sent) {
    assertEquals(s.sha256, s.claimed, "never sent bytes unlike their digest");
  }
  assert(lab.lines.some((l) => l.includes("no longer matches its recorded digest")));
});

Deno.test("runPass() packs afresh and sends again at once when the receiver finds the body damaged, never quarantining it", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1");
  const receiver = scriptedReceiver((_, i) =>
    i === 0
      ? { class: "repack", status: 400, said: "HTTP 400: Content-Digest does not match the body" }
      : { class: "stored", status: 201 }
  );
  const summary = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world({ receiver }),
  });
  assertEquals(summary.shipped, ["ep-1"]);
  assertEquals(summary.quarantined, []);
  assertEquals(receiver.sent.length, 2);
  assert(lab.lines.some((l) => l.includes("packing it again")));
});

for (const daemon of [true, false]) {
  Deno.test(`runPass() quarantines an episode whose packing fails the same way LOCAL_FAILURE_LIMIT times, and stops retrying it (${daemon ? "service" : "--once"})`, async () => {
    await using lab = await makeQueueLab();
    await makeEpisode(lab.dataRoot, "ep-1");
    const receiver = scriptedReceiver();
    const memory = newMemory();
    const packer = {
      ...denoPacker,
      pack: () =>
        Promise.reject(
          Object.assign(new Error("File name too long (os error 36)"), { code: "ENAMETOOLONG" }),
        ),
    };
    for (let i = 0; i < LOCAL_FAILURE_LIMIT; i++) {
      const summary = await runPass({
        config: lab.config,
        logger: lab.logger,
        // Counted by the service and across --once runs from cron alike.
        memory: daemon ? memory : newMemory(),
        world: lab.world({ receiver, packer, random: () => 0.5 }),
      });
      assertEquals(summary.queued.map((q) => q.id), ["ep-1"], `pass ${i + 1}`);
      lab.clock.t += 3600_000;
    }
    const last = await runPass({
      config: lab.config,
      logger: lab.logger,
      memory: daemon ? memory : newMemory(),
      world: lab.world({ receiver, packer }),
    });
    assertEquals(last.queued, []);
    assertEquals(last.quarantined.map((q) => q.id), ["ep-1"]);
    assertMatch(last.quarantined[0]!.reason, /failed locally 5 times in a row: File name too long/);
    assertEquals(receiver.sent.length, 0);
  });
}

Deno.test("runPass() holds an episode the shipper cannot read or move: nothing packed or sent, logged once with the fix", async () => {
  await using lab = await makeQueueLab();
  const dir = await makeEpisode(lab.dataRoot, "ep-1");
  const receiver = scriptedReceiver();
  const memory = newMemory();
  const access = { path: dir, problem: "not writable by the shipper", fix: "chmod g+w it" };
  const episodes = { ...denoEpisodes(lab.layout), access: () => Promise.resolve(access) };
  for (let i = 0; i < 2; i++) {
    const summary = await runPass({
      config: lab.config,
      logger: lab.logger,
      memory,
      world: lab.world({ receiver, episodes }),
    });
    assertEquals(summary.held, [{ id: "ep-1", ...access }]);
    assertEquals(summary.queued, []);
  }
  assertEquals(receiver.sent.length, 0);
  assertEquals(await names(lab.layout.outbox), []);
  assertEquals(lab.lines.filter((l) => l.includes("episode held")).length, 1, "logged once");
});

Deno.test("Outbox.recover() writes the reason of a quarantine a crash cut short after its rename (invariants 3, 8)", async () => {
  await using lab = await makeQueueLab();
  const dir = await makeEpisode(lab.dataRoot, "ep-1");
  // A pass decided and recorded the quarantine with its name, renamed, then died.
  const state = {
    episode_id: "ep-1",
    packed: null,
    attempts: 0,
    next_attempt_at: null,
    last_error: null,
    repacks: 0,
    local: null,
    intent: {
      source: "collector",
      reason: "collector refused the episode: HTTP 412",
      http_status: 412,
      response_body: "not on the allow-list",
      commit: COMMIT,
      at: new Date(lab.clock.t).toISOString(),
      dest: "ep-1",
    },
  };
  await Deno.mkdir(lab.layout.outbox, { recursive: true });
  await Deno.writeTextFile(lab.layout.statePath("ep-1"), JSON.stringify(state));
  await Deno.mkdir(lab.layout.quarantine, { recursive: true });
  await Deno.rename(dir, join(lab.layout.quarantine, "ep-1"));
  const receiver = scriptedReceiver();
  await runPass({ config: lab.config, logger: lab.logger, world: lab.world({ receiver }) });
  const reason = JSON.parse(
    await Deno.readTextFile(join(lab.layout.quarantine, "ep-1", REASON_FILE)),
  );
  assertEquals([reason.source, reason.http_status, reason.response_body], [
    "collector",
    412,
    "not on the allow-list",
  ]);
  assertEquals(await names(lab.layout.outbox), []);
  assertEquals(receiver.sent.length, 0);
});
