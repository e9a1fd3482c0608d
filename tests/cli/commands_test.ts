/** The operator commands through the real CLI (main.ts under the build's permission flags). */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { runCli, spawnCli } from "../../devkit/cli.ts";
import { makeEpisode, names } from "../../devkit/fixtures.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { EXIT } from "../../src/cli/args.ts";
import { REASON_FILE } from "../../src/queue/reason.ts";
import { waitFor } from "../support/wait.ts";
import type { StatusReport } from "../../src/status/status.ts";

const until = waitFor;

Deno.test("status --json reports a versioned document that adds up; status prints it for people", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await makeEpisode(lab.dataRoot, "ep-ready");
  await makeEpisode(lab.dataRoot, "ep-running", { complete: false });
  await Deno.mkdir(join(lab.layout.shipped, "ep-s"), { recursive: true });
  await Deno.mkdir(join(lab.layout.quarantine, "ep-q"), { recursive: true });
  const run = await runCli(["status", "--json", "--config", lab.configPath]);
  assertEquals(run.code, EXIT.ok, run.stderr);
  const report: StatusReport = JSON.parse(run.stdout);
  assertEquals(report.version, 2);
  assertEquals(report.host_id, "lab-01");
  assertEquals(report.data_root, lab.dataRoot);
  assertEquals(report.daemon, {
    running: false,
    pid: null,
    status_updated_at: null,
    status_written_by: null,
  });
  assertEquals(
    Object.fromEntries(Object.entries(report.states).map(([k, v]) => [k, v.count])),
    { incomplete: 1, ready: 1, rejected: 0, packed: 0, waiting: 0, shipped: 1, quarantined: 1 },
  );
  assertEquals(report.total.count, 4);
  assertEquals(report.oldest_unshipped?.episode, "ep-ready");
  const text = await runCli(["status", "--config", lab.configPath]);
  assertEquals(text.code, EXIT.ok);
  assertMatch(text.stdout, /^daemon: not running$/m);
  assertMatch(text.stdout, /^ {2}ready +1 +\d+ B +complete, preflight passes, not packed yet$/m);
  assertMatch(text.stdout, /^oldest unshipped: ep-ready, complete for \d+s/m);
});

Deno.test("quarantine-unstamped, requeue and prune report and exit as documented", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await makeEpisode(lab.dataRoot, "ep-ok");
  await makeEpisode(lab.dataRoot, "ep-old", { meta: null });
  const args = ["--config", lab.configPath];
  const dry = await runCli(["quarantine-unstamped", "--dry-run", ...args]);
  assertEquals(dry, {
    code: 0,
    stdout:
      "would quarantine ep-old: meta.json is missing: the episode was produced by code that does not stamp its commit (drained by quarantine-unstamped)\nwould quarantine 1, kept 1 (dry run: nothing changed)\n",
    stderr: "",
  });
  const json = await runCli(["quarantine-unstamped", "--json", ...args]);
  assertEquals(json.code, EXIT.ok);
  const drained = JSON.parse(json.stdout);
  assertEquals(drained.version, 1);
  assertEquals(drained.quarantined.map((q: { episode: string }) => q.episode), ["ep-old"]);
  assertEquals(await names(lab.layout.quarantine), ["ep-old"]);

  const missing = await runCli(["requeue", "ep-nope", ...args]);
  assertEquals(missing.code, EXIT.failure);
  assertMatch(missing.stdout, /^not in quarantine\/: ep-nope$/m);
  const back = await runCli(["requeue", "ep-old", ...args]);
  assertEquals(back.code, EXIT.ok, back.stdout);
  assertMatch(back.stdout, /^requeued quarantine\/ep-old -> episodes\/ep-old \(reason kept in /m);
  assertEquals(await names(join(lab.layout.episodes, "ep-old")), ["data", "done.marker"]);

  const prune = await runCli(["prune", "--dry-run", ...args]);
  assertEquals(prune.code, EXIT.ok);
  assertEquals(
    prune.stdout,
    "would prune 0 (0 B), kept 0 (keep_local_for_days = 7) (dry run: nothing changed)\n",
  );
  const usage = await runCli(["prune", "--all", ...args]);
  assertEquals(usage.code, EXIT.usage);
  assertEquals(
    usage.stderr,
    "cis490-ship prune: Unknown option '--all'\nRun \"cis490-ship prune --help\" for usage.\n",
  );
});

Deno.test("a second daemon started at the same moment is refused naming the holder's pid, every round", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9", shipper: "scan_interval_s = 60" });
  for (let round = 0; round < 6; round++) {
    const a = spawnCli(["--config", lab.configPath]);
    const b = spawnCli(["--config", lab.configPath]);
    const first = await Promise.race([
      a.child.status.then(() => ({ loser: a, winner: b })),
      b.child.status.then(() => ({ loser: b, winner: a })),
    ]);
    const lost = await first.loser.stop();
    assertEquals(lost.code, EXIT.tempFail, `round ${round}`);
    assertMatch(
      await first.loser.stderr,
      new RegExp(`another cis490-ship \\(pid ${first.winner.child.pid}\\) holds ${lab.dataRoot}`),
    );
    assertEquals((await first.winner.stop("SIGTERM")).code, 0);
  }
});

Deno.test("quarantine-unstamped, requeue and status while the daemon ships a mixed backlog: nothing lost or half-moved", async () => {
  const pki = await sharedPki();
  await using lab = await makeLab({ url: "", pki, shipper: "scan_interval_s = 0.1" });
  await using collector = await startCollectorProcess(lab.root, pki);
  const config = (await Deno.readTextFile(lab.configPath)).replace(
    'url = ""',
    `url = "${collector.url}"`,
  );
  await Deno.writeTextFile(lab.configPath, config);
  const stamped: string[] = Array.from({ length: 12 }, (_, i) => `ep-s${i}`);
  const unstamped = Array.from({ length: 8 }, (_, i) => `ep-u${i}`);
  for (const id of stamped) await makeEpisode(lab.dataRoot, id);
  for (const id of unstamped) await makeEpisode(lab.dataRoot, id, { meta: { seed: 1 } });
  let all = stamped.length + unstamped.length;
  const args = ["--config", lab.configPath];
  const daemon = spawnCli(args);
  try {
    await until("the daemon at work", async () => (await names(lab.layout.shipped)).length > 0);
    for (let round = 0; round < 4; round++) {
      // Episodes keep arriving, so the daemon ships while the commands run.
      for (let i = 0; i < 3; i++) {
        const id = `ep-r${round}-${i}`;
        stamped.push(id);
        await makeEpisode(lab.dataRoot, id);
        all++;
      }
      const [drain, requeue, status] = await Promise.all([
        runCli(["quarantine-unstamped", ...args]),
        runCli(["requeue", "--all", ...args]),
        runCli(["status", "--json", ...args]),
      ]);
      assertEquals(drain.code, EXIT.ok, drain.stderr);
      // A requeue racing the drain may find an id back in episodes/: refused, never overwritten.
      assert(requeue.code === EXIT.ok || requeue.code === EXIT.failure, requeue.stderr);
      assertEquals(requeue.stderr, "");
      assertEquals(status.code, EXIT.ok, status.stderr);
      const report: StatusReport = JSON.parse(status.stdout);
      assertEquals(report.total.count, all, `round ${round}: ${status.stdout}`);
      assertEquals(report.daemon.running, true);
      assertEquals(report.daemon.pid, daemon.child.pid);
    }
    await runCli(["quarantine-unstamped", ...args]);
    await until(
      "every episode settled",
      async () =>
        (await names(lab.layout.shipped)).length === stamped.length &&
        (await names(lab.layout.quarantine)).filter((n) => !n.startsWith(".")).length ===
          unstamped.length,
    );
  } finally {
    const stopped = await daemon.stop("SIGTERM");
    assertEquals(stopped.code, 0, await daemon.stderr);
  }
  assertEquals(await names(lab.layout.episodes), []);
  assertEquals(await names(lab.layout.shipped), [...stamped].sort());
  assertEquals(
    (await names(lab.layout.quarantine)).filter((n) => !n.startsWith(".")),
    [...unstamped].sort(),
  );
  for (const id of unstamped) {
    const reason = JSON.parse(
      await Deno.readTextFile(join(lab.layout.quarantine, id, REASON_FILE)),
    );
    assertEquals(reason.episode_id, id);
  }
  for (const id of stamped) {
    assertEquals((await names(join(lab.layout.shipped, id))).includes(REASON_FILE), false);
  }
  const stored = (await names(join(collector.storeDir, "lab-01"))).filter((n) =>
    n.endsWith(".tar.gz")
  );
  assertEquals(stored, stamped.map((id) => `${id}.tar.gz`).sort());
  const final = JSON.parse((await runCli(["status", "--json", ...args])).stdout) as StatusReport;
  assertEquals(final.states.shipped.count + final.states.quarantined.count, all);
});
