/**
 * Every command stops on Ctrl-C (SIGINT) and SIGTERM with 130 / 143 and leaves the data root
 * consistent (issue 14 item 7). "Mid-work" is an event, never a guess at a duration: the test
 * holds the moves section, so the command is blocked at its next move (seen in /proc/locks), or
 * the collector holds the upload (seen as a request). The service's graceful stop is in
 * cli_test.ts.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { cliCommand } from "../../devkit/cli.ts";
import { makeEpisode, names } from "../../devkit/fixtures.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { waitFor } from "../support/wait.ts";
import { EXIT } from "../../src/cli/args.ts";
import { REASON_FILE } from "../../src/layout.ts";

/** A CLI process whose stdout and stderr are collected as they come. */
function start(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliCommand(args),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = { stdout: "", stderr: "", exited: false };
  const collect = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out[key] += decoder.decode(chunk, { stream: true });
  };
  const done = Promise.all([collect(child.stdout, "stdout"), collect(child.stderr, "stderr")]);
  const status = child.status.then(async (s) => {
    out.exited = true;
    await done;
    return s;
  });
  return { child, out, status };
}

/** Whether process `pid` waits for a flock(2) on the file with inode `ino` (/proc/locks "->"). */
async function waitsForLock(pid: number, ino: number): Promise<boolean> {
  // Deno reads /proc/locks only with --allow-all; cat(1) is enough for the test runner.
  const out = await new Deno.Command("cat", { args: ["/proc/locks"], stderr: "inherit" }).output();
  const locks = new TextDecoder().decode(out.stdout);
  return locks.split("\n").some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === "->" && f[2] === "FLOCK" && f[5] === String(pid) &&
      f[6]?.split(":")[2] === String(ino);
  });
}

/**
 * Runs `args` while this test holds the moves section: waits until the command is blocked on it,
 * sends `signal`, waits until the command says it got it, then lets the section go (a command
 * that ignored the signal carries on and exits 0, so the test fails instead of hanging).
 */
async function interruptAtMove(
  dataRoot: string,
  args: string[],
  signal: "SIGINT" | "SIGTERM",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const lockPath = join(dataRoot, ".cis490-ship.moves.lock");
  const held = await Deno.open(lockPath, { read: true, write: true, create: true });
  await held.lock(true);
  const { ino } = await held.stat();
  const run = start(args);
  try {
    await waitFor(
      `${args[0]} blocked on the moves section`,
      async () => run.out.exited || await waitsForLock(run.child.pid, ino!),
    );
    assert(!run.out.exited, `exited before its first move: ${run.out.stdout}${run.out.stderr}`);
    run.child.kill(signal);
    await waitFor(`${args[0]} told of ${signal}`, () => /received/.test(run.out.stderr));
  } finally {
    held.close();
  }
  const status = await run.status;
  return { code: status.code, stdout: run.out.stdout, stderr: run.out.stderr };
}

const realNames = async (dir: string) => (await names(dir)).filter((n) => !n.startsWith("."));

Deno.test("status stops on SIGINT with 130 while it waits for the moves section, creating nothing", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await makeEpisode(lab.dataRoot, "ep-1");
  await Deno.writeTextFile(join(lab.dataRoot, ".cis490-ship.moves.lock"), "");
  const before = await names(lab.dataRoot);
  const run = await interruptAtMove(lab.dataRoot, ["status", "--config", lab.configPath], "SIGINT");
  assertEquals(run.code, 130, run.stdout + run.stderr);
  assertEquals(await names(lab.dataRoot), before);
});

Deno.test("prune stops on SIGTERM with 143 between two removals; a second prune finishes the job", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await Deno.writeTextFile(
    lab.configPath,
    (await Deno.readTextFile(lab.configPath)) + "\n[retention]\nkeep_local_for_days = 0\n",
  );
  const ids = ["ep-1", "ep-2", "ep-3"];
  for (const id of ids) {
    await Deno.mkdir(join(lab.layout.shipped, id), { recursive: true });
    await Deno.writeTextFile(join(lab.layout.shipped, id, "x"), id);
  }
  const args = ["prune", "--config", lab.configPath];
  const run = await interruptAtMove(lab.dataRoot, args, "SIGTERM");
  assertEquals(run.code, 143, run.stdout + run.stderr);
  for (const id of await names(lab.layout.shipped)) {
    assertEquals(await Deno.readTextFile(join(lab.layout.shipped, id, "x")), id, "left whole");
  }
  const again = await interruptFree(["prune", "--config", lab.configPath]);
  assertEquals(again.code, EXIT.ok, again.stderr);
  assertEquals(await names(lab.layout.shipped), []);
  assertEquals(await names(join(lab.dataRoot, ".cis490-ship.trash")), []);
});

Deno.test("requeue stops on SIGINT with 130 between two moves; every episode is in one place, and a second requeue finishes", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  const ids = ["ep-1", "ep-2", "ep-3"];
  for (const id of ids) await makeEpisode(lab.dataRoot, id, { meta: null });
  const drained = await interruptFree(["quarantine-unstamped", "--config", lab.configPath]);
  assertEquals(drained.code, EXIT.ok, drained.stderr);
  const run = await interruptAtMove(
    lab.dataRoot,
    ["requeue", "--all", "--config", lab.configPath],
    "SIGINT",
  );
  assertEquals(run.code, 130, run.stdout + run.stderr);
  const back = await names(lab.layout.episodes);
  const still = await realNames(lab.layout.quarantine);
  assertEquals([...back, ...still].sort(), ids, "each episode in exactly one place");
  for (const id of back) {
    assert(!(await names(join(lab.layout.episodes, id))).includes(REASON_FILE));
  }
  const again = await interruptFree(["requeue", "--all", "--config", lab.configPath]);
  assertEquals(again.code, EXIT.ok, again.stdout);
  assertEquals(await names(lab.layout.episodes), ids);
});

Deno.test("quarantine-unstamped stops on SIGTERM with 143 between two moves; a second run finishes", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  const ids = ["ep-1", "ep-2", "ep-3"];
  for (const id of ids) await makeEpisode(lab.dataRoot, id, { meta: null });
  const args = ["quarantine-unstamped", "--config", lab.configPath];
  const run = await interruptAtMove(lab.dataRoot, args, "SIGTERM");
  assertEquals(run.code, 143, run.stdout + run.stderr);
  const left = await names(lab.layout.episodes);
  const moved = await realNames(lab.layout.quarantine);
  assertEquals([...left, ...moved].sort(), ids, "each episode in exactly one place");
  for (const id of moved) {
    assert((await names(join(lab.layout.quarantine, id))).includes(REASON_FILE), id);
  }
  const again = await interruptFree(args);
  assertEquals(again.code, EXIT.ok, again.stderr);
  assertEquals(await realNames(lab.layout.quarantine), ids);
});

/** Runs a command to its end. */
async function interruptFree(args: string[]) {
  const run = start(args);
  const status = await run.status;
  return { code: status.code, stdout: run.out.stdout, stderr: run.out.stderr };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`--once stops on ${signal} mid-upload with ${signal === "SIGINT" ? 130 : 143}: the episode stays queued, its attempt not counted`, async () => {
    const pki = await sharedPki();
    const server = await startFaultServer(pki, () => ({ hang: true }));
    try {
      await using lab = await makeLab({ url: server.url, pki });
      await makeEpisode(lab.dataRoot, "ep-1");
      const run = start(["--once", "--config", lab.configPath]);
      await waitFor("the upload in flight", () => run.out.exited || server.requests.length > 0);
      run.child.kill(signal);
      const status = await run.status;
      assertEquals(status.code, signal === "SIGINT" ? 130 : 143, run.out.stderr);
      assertEquals(await names(lab.layout.episodes), ["ep-1"]);
      assertEquals((await lab.state("ep-1"))?.attempts, 0);
      assertEquals(
        (await names(lab.layout.outbox)).filter((n) => n.endsWith(".partial")),
        [],
        "no temporary file left",
      );
    } finally {
      await server.close();
    }
  });
}

Deno.test("check stops on SIGINT with 130 while the collector does not answer", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ hang: true }));
  try {
    await using lab = await makeLab({ url: server.url, pki });
    const run = start(["check", "--config", lab.configPath]);
    await waitFor("the probe in flight", () => run.out.exited || server.requests.length > 0);
    run.child.kill("SIGINT");
    const status = await run.status;
    assertEquals(status.code, 130, run.out.stdout + run.out.stderr);
    assertMatch(run.out.stderr, /SIGINT received/);
  } finally {
    await server.close();
  }
});
