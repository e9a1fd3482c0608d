/**
 * `kill -9` at random points of a run, again and again, then a clean run: every episode must end
 * in exactly one place, nothing lost, and the collector holding each exactly once.
 *
 * Kill instants follow the run's own progress, not the wall clock: each round is killed after a
 * random number of its log lines (plus a random fraction of a millisecond), so the kills land
 * inside the work on a fast machine and on a slow one alike.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { cliCommand } from "../../devkit/cli.ts";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";

/** A small deterministic PRNG, so a failing run can be repeated with its seed. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `args` and SIGKILLs it right after its `lines`-th log line (and a random sub-millisecond
 * delay); returns whether it was killed (false: it exited on its own first).
 */
async function killAfterLines(
  args: string[],
  lines: number,
  random: () => number,
  finished: () => Promise<boolean>,
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliCommand(args),
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let seen = 0;
  let killed = false;
  let exited = false;
  // A service that has shipped everything goes quiet: stop it then (its work is done).
  const watcher = (async () => {
    while (!exited && !killed) {
      if (await finished()) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    seen += decoder.decode(chunk).split("\n").length - 1;
    if (seen >= lines && !killed) {
      if (random() < 0.5) await new Promise((r) => queueMicrotask(() => r(null)));
      try {
        child.kill("SIGKILL");
        killed = true;
      } catch { /* already exited */ }
    }
  }
  await child.status;
  exited = true;
  await watcher;
  return killed;
}

for (const mode of ["--once", "service"] as const) {
  Deno.test(`${mode} survives kill -9 at any point, with concurrent uploads: each episode in one place, stored exactly once`, async () => {
    const seed = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 100000);
    const random = mulberry32(seed);
    await using tmp = await tempDir();
    const pki = await sharedPki();
    await using collector = await startCollectorProcess(tmp.path, pki);
    await using lab = await makeLab({
      url: collector.url,
      pki,
      shipper: "upload_concurrency = 3\nscan_interval_s = 0.05\nbackoff_seconds = [0.05]",
    });
    const ids = Array.from({ length: 24 }, (_, i) => `ep-${String(i).padStart(2, "0")}`);
    for (const id of ids) {
      const bytes = new Uint8Array(300_000).map((_, i) => (i * 31 + id.charCodeAt(4)) % 251);
      await makeEpisode(lab.dataRoot, id, { files: { "obs/data.bin": bytes, "log.txt": id } });
    }
    await makeEpisode(lab.dataRoot, "ep-unstamped", { meta: "{}" });

    const args = mode === "--once"
      ? ["--once", "--config", lab.configPath]
      : ["--config", lab.configPath];
    let kills = 0;
    // Each round gets at least one line further, so the rounds always end; the service never
    // exits by itself, so its rounds stop once everything is shipped.
    for (let round = 0; round < 40; round++) {
      if ((await names(lab.layout.shipped)).length === ids.length) break;
      const finished = async () => (await names(lab.layout.shipped)).length === ids.length;
      if (await killAfterLines(args, 1 + Math.floor(random() * 12), random, finished)) kills++;
      else break;
    }
    const final = await new Deno.Command(Deno.execPath(), {
      args: cliCommand(["--once", "--config", lab.configPath]),
      clearEnv: true,
    }).output();
    assertEquals(final.code, 0, `seed ${seed}: ${new TextDecoder().decode(final.stderr)}`);
    assert(kills >= 3, `seed ${seed}: runs were killed (${kills})`);

    assertEquals(await names(lab.layout.shipped), ids, `seed ${seed}`);
    assertEquals(await names(lab.layout.quarantine), ["ep-unstamped"], `seed ${seed}`);
    assertEquals(await names(lab.layout.episodes), [], `seed ${seed}`);
    assertEquals(await names(lab.layout.outbox), [], `seed ${seed}`);
    const stored = await names(join(collector.storeDir, "lab-01"));
    assertEquals(
      stored,
      ids.flatMap((id) => [`${id}.tar.gz`, `${id}.tar.gz.json`]),
      `seed ${seed}`,
    );
    for (const id of ids) {
      const dir = join(lab.layout.shipped, id);
      const repacked = await packEpisode(dir, id, walkEpisode(dir), join(tmp.path, `${id}.re`));
      const file = await Deno.readFile(join(collector.storeDir, "lab-01", `${id}.tar.gz`));
      assertEquals(
        createHash("sha256").update(file).digest("base64"),
        Buffer.from(repacked.sha256).toString("base64"),
        `seed ${seed}: ${id} stored intact`,
      );
    }
    const { stderr } = await collector.stop();
    for (const id of ids) {
      assertEquals(
        stderr.split(`PUT /v1/episodes/lab-01/${id}.tar.gz 201`).length - 1,
        1,
        `seed ${seed}: ${id} stored once`,
      );
    }
    console.log(`${mode} seed ${seed}: ${kills} kills`);
  });
}
