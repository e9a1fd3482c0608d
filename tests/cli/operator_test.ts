/**
 * What an operator sees, through main.ts under the binary's permission flags: `--once` from cron
 * is as visible as the service (issue 14 item 6), outputs that tell the truth (item 10), `requeue`
 * by the name the operator sees (item 9), unconfirmed duplicates kept until confirmed (item 3).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { cliCommand, runCli, spawnCli } from "../../devkit/cli.ts";
import { waitFor } from "../support/wait.ts";
import { COMMIT, makeEpisode, names } from "../../devkit/fixtures.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { EXIT } from "../../src/cli/args.ts";
import { REASON_FILE } from "../../src/layout.ts";

/** Writes an outbox state that backs `id` off until `nextAt` after `attempts` failures. */
async function backedOff(
  outbox: string,
  id: string,
  fields: { attempts: number; nextAt: number; error: string },
) {
  await Deno.mkdir(outbox, { recursive: true });
  await Deno.writeTextFile(
    join(outbox, `${id}.state.json`),
    JSON.stringify({
      episode_id: id,
      compression: "gzip",
      size: 10,
      sha256: "AAAA",
      commit: COMMIT,
      packed_at: new Date(0).toISOString(),
      attempts: fields.attempts,
      next_attempt_at: new Date(fields.nextAt).toISOString(),
      last_error: fields.error,
    }),
  );
}

Deno.test("--once updates the status file and the metrics textfile, so status reports its success", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201 }));
  try {
    await using lab = await makeLab({ url: server.url, pki });
    const prom = join(lab.root, "ship.prom");
    await Deno.writeTextFile(
      lab.configPath,
      (await Deno.readTextFile(lab.configPath)).replace(
        "[shipper]",
        `[shipper]\nmetrics_textfile = "${prom}"`,
      ),
    );
    await makeEpisode(lab.dataRoot, "ep-1");
    const once = await lab.once();
    assertEquals(once.code, EXIT.ok, once.stderr);
    const status = await runCli(["status", "--json", "--config", lab.configPath]);
    assertEquals(status.code, EXIT.ok, status.stderr);
    assertEquals(JSON.parse(status.stdout).last_success?.episode, "ep-1");
    const text = await runCli(["status", "--config", lab.configPath]);
    assertMatch(text.stdout, /^last success: ep-1 at /m);
    const metrics = await Deno.readTextFile(prom).catch(() => "(no textfile)");
    assertMatch(metrics, /^cis490_ship_uploads_total\{outcome="shipped"\} 1$/m);
    assertMatch(metrics, /^cis490_ship_backlog_episodes\{state="shipped"\} 1$/m);

    // A second run with nothing to do keeps what the first one learnt, and adds to its counters.
    await makeEpisode(lab.dataRoot, "ep-2");
    assertEquals((await lab.once()).code, EXIT.ok);
    assertEquals((await lab.once()).code, EXIT.ok);
    const after = JSON.parse(
      (await runCli(["status", "--json", "--config", lab.configPath])).stdout,
    );
    assertEquals(after.last_success?.episode, "ep-2");
    assertEquals(after.counters?.shipped, 2);
    assertMatch(
      await Deno.readTextFile(prom),
      /^cis490_ship_uploads_total\{outcome="shipped"\} 2$/m,
    );
  } finally {
    await server.close();
  }
});

Deno.test("status shows each waiting episode's last error, from its outbox state", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  const later = Date.now() + 3600_000;
  for (const [id, error] of [["ep-a", "HTTP 503"], ["ep-b", "connection reset"]] as const) {
    await makeEpisode(lab.dataRoot, id);
    await backedOff(lab.layout.outbox, id, { attempts: 2, nextAt: later, error });
  }
  const json = await runCli(["status", "--json", "--config", lab.configPath]);
  assertEquals(json.code, EXIT.ok, json.stderr);
  const report = JSON.parse(json.stdout);
  assertEquals(
    (report.waiting ?? []).map((w: { episode: string; last_error: string }) => [
      w.episode,
      w.last_error,
    ]),
    [["ep-a", "HTTP 503"], ["ep-b", "connection reset"]],
  );
  const text = (await runCli(["status", "--config", lab.configPath])).stdout;
  assertMatch(text, /^ {2}ep-a: 2 failed attempts, next at .*: HTTP 503$/m);
  assertMatch(text, /^ {2}ep-b: 2 failed attempts, next at .*: connection reset$/m);
});

Deno.test("status counts as ready only what preflight will send, and names the oldest unshipped one the same in text and JSON", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await makeEpisode(lab.dataRoot, "ep-ok");
  await makeEpisode(lab.dataRoot, "ep-unstamped", { meta: null });
  await makeEpisode(lab.dataRoot, "bad name");
  const json = await runCli(["status", "--json", "--config", lab.configPath]);
  assertEquals(json.code, EXIT.ok, json.stderr);
  const report = JSON.parse(json.stdout);
  assertEquals(report.states.ready.count, 1);
  assertEquals(report.states.rejected?.count, 2);
  assertEquals(report.oldest_unshipped?.episode, "ep-ok");
  assertEquals("oldest_ready" in report, false);
  const text = (await runCli(["status", "--config", lab.configPath])).stdout;
  assertMatch(text, /^ {2}ready +1 .*complete, preflight passes, not packed yet$/m);
  assertMatch(text, /^ {2}rejected +2 .*complete, preflight will quarantine it$/m);
  assertMatch(text, /^oldest unshipped: ep-ok, /m);
});

Deno.test("--once --dry-run lists what would be packed and sent, and sends and creates nothing", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201 }));
  try {
    await using lab = await makeLab({ url: server.url, pki });
    await makeEpisode(lab.dataRoot, "ep-1");
    await makeEpisode(lab.dataRoot, "ep-unstamped", { meta: null });
    await makeEpisode(lab.dataRoot, "ep-running", { complete: false });
    const before = await names(lab.dataRoot);
    const run = await runCli(["--once", "--dry-run", "--config", lab.configPath]);
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertMatch(run.stdout, /^would pack and send ep-1 \(\d+ B\)$/m);
    assertMatch(run.stdout, /^would quarantine ep-unstamped: meta\.json is missing/m);
    assertMatch(run.stdout, /^incomplete \(no done\.marker yet\): ep-running$/m);
    assertMatch(run.stdout, /\(dry run: nothing sent, nothing changed\)\n$/);
    assertEquals(server.requests.length, 0);
    assertEquals(await names(lab.dataRoot), before);
    assertEquals(await names(lab.layout.episodes), ["ep-1", "ep-running", "ep-unstamped"]);
  } finally {
    await server.close();
  }
});

Deno.test("requeue, prune and quarantine-unstamped print JSON with --json; prune --dry-run shows sizes", async () => {
  await using lab = await makeLab({
    url: "https://127.0.0.1:9",
  });
  await Deno.writeTextFile(
    lab.configPath,
    (await Deno.readTextFile(lab.configPath)) + "\n[retention]\nkeep_local_for_days = 0\n",
  );
  const args = ["--config", lab.configPath];
  await makeEpisode(lab.dataRoot, "ep-old", { meta: null });
  const drained = await runCli(["quarantine-unstamped", "--json", ...args]);
  assertEquals(JSON.parse(drained.stdout).quarantined[0].episode, "ep-old");
  const requeued = await runCli(["requeue", "--json", "ep-old", ...args]);
  assertEquals(requeued.code, EXIT.ok, requeued.stderr);
  const r = JSON.parse(requeued.stdout);
  assertEquals(r.version, 1);
  assertEquals(r.requeued.map((x: { episode: string }) => x.episode), ["ep-old"]);

  await Deno.mkdir(join(lab.layout.shipped, "ep-s"), { recursive: true });
  await Deno.writeTextFile(join(lab.layout.shipped, "ep-s", "x.bin"), "x".repeat(2048));
  const dry = await runCli(["prune", "--dry-run", ...args]);
  assertEquals(dry.code, EXIT.ok, dry.stderr);
  assertMatch(dry.stdout, /^would prune shipped\/ep-s \(2\.0 KiB, shipped /m);
  assertMatch(dry.stdout, /^would prune 1 \(2\.0 KiB\), kept 0 /m);
  const pruned = await runCli(["prune", "--json", ...args]);
  assertEquals(pruned.code, EXIT.ok, pruned.stderr);
  const p = JSON.parse(pruned.stdout);
  assertEquals(p.version, 1);
  assertEquals(p.pruned.map((x: { episode: string; bytes: number }) => [x.episode, x.bytes]), [[
    "ep-s",
    2048,
  ]]);
  assertEquals(await names(lab.layout.shipped), []);
});

Deno.test("requeue goes by the name the operator sees: a directory renamed in quarantine/ goes back under its new name", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  const args = ["--config", lab.configPath];
  await makeEpisode(lab.dataRoot, "bad name");
  await lab.once(); // preflight quarantines it: not a valid id, and it says to rename it
  const reason = JSON.parse(
    await Deno.readTextFile(join(lab.layout.quarantine, "bad name", REASON_FILE)),
  );
  assertMatch(reason.reason, /episode id/);
  const refused = await runCli(["requeue", "bad name", ...args]);
  assertEquals(refused.code, EXIT.failure);
  assertMatch(refused.stdout, /rename quarantine\/bad name to a valid episode id/);

  await Deno.rename(join(lab.layout.quarantine, "bad name"), join(lab.layout.quarantine, "good"));
  const run = await runCli(["requeue", "good", ...args]);
  assertEquals(run.code, EXIT.ok, run.stdout + run.stderr);
  assertEquals(await names(lab.layout.episodes), ["good"]);
  assert(!(await names(join(lab.layout.episodes, "good"))).includes(REASON_FILE));
});

Deno.test("requeue takes a trimmed non-UTF-8 name with a .2 suffix back under a valid id", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  const args = ["--config", lab.configPath];
  // Two names sharing their first 100 bytes: their quarantine names are trimmed to 200
  // characters, so the second one gets `.2` (202 characters, longer than any id).
  const long = "a".repeat(99);
  for (const tail of ["1", "2"]) {
    await makeEpisode(lab.dataRoot, `tmp-${tail}`);
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        `mv -- "$1/$2" "$1/$3"$'\\xff'"$4"`,
        "_",
        lab.layout.episodes,
        `tmp-${tail}`,
        long,
        tail,
      ],
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    await lab.once();
  }
  const quarantined = (await names(lab.layout.quarantine)).filter((n) => !n.startsWith("."));
  assertEquals(quarantined.map((n) => n.length), [200, 202]);
  const second = quarantined[1]!;
  const run = await runCli(["requeue", second, ...args]);
  assertEquals(run.code, EXIT.ok, run.stdout + run.stderr);
  const [back] = await names(lab.layout.episodes);
  assertEquals(back?.length, 200);
  assertEquals(back?.endsWith(".2"), true, back);
  assertEquals(back === quarantined[0], false, "never the first one's name");
});

Deno.test("prune never removes a shipped entry the collector never confirmed; confirm lets it go", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await Deno.writeTextFile(
    lab.configPath,
    (await Deno.readTextFile(lab.configPath)) + "\n[retention]\nkeep_local_for_days = 0\n",
  );
  const args = ["--config", lab.configPath];
  for (const id of ["ep-1", "ep-2"]) {
    await Deno.mkdir(join(lab.layout.shipped, id), { recursive: true });
  }
  await Deno.mkdir(lab.layout.unconfirmed);
  await Deno.writeTextFile(join(lab.layout.unconfirmed, "ep-1"), "");
  const status = JSON.parse((await runCli(["status", "--json", ...args])).stdout);
  assertEquals(status.unconfirmed, { count: 1 });
  assertMatch(
    (await runCli(["status", ...args])).stdout,
    /^unconfirmed: 1 shipped episode the collector never confirmed/m,
  );
  const prune = await runCli(["prune", ...args]);
  assertEquals(prune.code, EXIT.ok, prune.stderr);
  assertMatch(prune.stdout, /^kept shipped\/ep-1: unconfirmed/m);
  assertEquals(await names(lab.layout.shipped), ["ep-1"]);

  const unknown = await runCli(["confirm", "ep-9", ...args]);
  assertEquals(unknown.code, EXIT.failure);
  const confirm = await runCli(["confirm", "ep-1", ...args]);
  assertEquals(confirm.code, EXIT.ok, confirm.stderr);
  assertEquals(await names(lab.layout.unconfirmed), []);
  assertEquals((await runCli(["prune", ...args])).code, EXIT.ok);
  assertEquals(await names(lab.layout.shipped), []);
});

Deno.test("the service writes the status file and the metrics textfile after its passes", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201 }));
  try {
    await using lab = await makeLab({ url: server.url, pki, shipper: "scan_interval_s = 0.2" });
    const prom = join(lab.root, "ship.prom");
    await Deno.writeTextFile(
      lab.configPath,
      (await Deno.readTextFile(lab.configPath)).replace(
        "[shipper]",
        `[shipper]\nmetrics_textfile = "${prom}"`,
      ),
    );
    await makeEpisode(lab.dataRoot, "ep-1");
    const daemon = spawnCli(["--config", lab.configPath]);
    try {
      await waitFor(
        "the metrics count ep-1 shipped",
        async () =>
          /^cis490_ship_uploads_total\{outcome="shipped"\} 1$/m.test(
            await Deno.readTextFile(prom).catch(() => ""),
          ),
      );
      const status = JSON.parse(
        (await runCli(["status", "--json", "--config", lab.configPath])).stdout,
      );
      assertEquals(status.daemon.status_written_by, "service");
      assertEquals(status.last_success?.episode, "ep-1");
    } finally {
      assertEquals((await daemon.stop("SIGTERM")).code, EXIT.ok);
    }
  } finally {
    await server.close();
  }
});

Deno.test("--once into a pipe draws no progress; on a terminal it does, cleared before every log line", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201 }));
  try {
    await using lab = await makeLab({ url: server.url, pki });
    await makeEpisode(lab.dataRoot, "ep-1", { files: { "big.bin": new Uint8Array(256 * 1024) } });
    const piped = await lab.once();
    assertEquals(piped.code, EXIT.ok, piped.stderr);
    assertEquals(piped.stderr.includes("\x1b["), false, "no escape sequence into a pipe");

    const noise = crypto.getRandomValues(new Uint8Array(65536)); // incompressible
    await makeEpisode(lab.dataRoot, "ep-2", { files: { "big.bin": noise } });
    // script(1) runs the binary on a pseudo-terminal, as an operator's shell would.
    const quoted = cliCommand(["--once", "--config", lab.configPath]).map((a) =>
      `'${a.replaceAll("'", `'"'"'`)}'`
    );
    const out = await new Deno.Command("script", {
      args: ["-qefc", `${Deno.execPath()} ${quoted.join(" ")}`, "/dev/null"],
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    // The escape character shown as "ESC", so the patterns below hold no control character.
    // A terminal ends lines with CR LF.
    const tty = new TextDecoder().decode(out.stdout).replaceAll("\x1b", "ESC")
      .replaceAll("\r\n", "\n");
    assertEquals(out.code, EXIT.ok, tty);
    // The pack shows as it goes, then the upload, with the bytes packed so far beside it.
    assertMatch(tty, /\rESC\[Kep-2 pack 0 B\/64\.1 KiB 0% · -\/s · ETA - \| packed 0 B/);
    assertMatch(
      tty,
      /\rESC\[Kep-2 upload 0 B\/6\d\.\d KiB 0% · -\/s · ETA - \| packed 64\.1 KiB, uploaded 0 B/,
    );
    // Every log line starts on a clean line: the progress line was cleared before it.
    // Every log line, and the summary, starts on a clean line: the progress line was cleared.
    const written = tty.split("\n").map((line) => line.slice(line.lastIndexOf("\r") + 1));
    const logs = written.filter((l) => / (INFO|WARN|ERROR) /.test(l));
    assert(logs.length >= 3, tty);
    for (const line of logs) assertMatch(line, /^(ESC\[K)?\d{4}-\d\d-\d\dT/, JSON.stringify(line));
    assert(written.includes("ESC[Kshipped: 1 (ep-2)"), tty);
  } finally {
    await server.close();
  }
});

Deno.test({
  name:
    "an episode moved back by hand with mv is shipped, not re-quarantined as a move a crash interrupted",
  fn: async () => {
    const pki = await sharedPki();
    const server = await startFaultServer(pki, () => ({ status: 201 }));
    try {
      await using lab = await makeLab({ url: server.url, pki });
      await makeEpisode(lab.dataRoot, "ep-1", { meta: null });
      const drained = await runCli(["quarantine-unstamped", "--config", lab.configPath]);
      assertEquals(drained.code, EXIT.ok, drained.stderr);
      // The operator fixes meta.json and moves the episode back by hand, reason file and all.
      const dir = join(lab.layout.quarantine, "ep-1");
      await Deno.writeTextFile(
        join(dir, "meta.json"),
        JSON.stringify({ code_version: { commit: COMMIT } }),
      );
      await Deno.rename(dir, join(lab.layout.episodes, "ep-1"));
      const once = await lab.once();
      assertEquals(once.code, EXIT.ok, once.stderr);
      assertEquals(await names(lab.layout.shipped), ["ep-1"]);
      assertEquals(
        await names(join(lab.layout.shipped, "ep-1")).then((n) => n.includes(REASON_FILE)),
        false,
      );
      assertEquals(once.stderr.includes("interrupted by a crash"), false, once.stderr);
      assertEquals((await names(lab.layout.history)).length, 1, "the reason kept in history");
    } finally {
      await server.close();
    }
  },
});
