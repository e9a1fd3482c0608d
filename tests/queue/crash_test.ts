/**
 * `kill -9` at random instants of `--once`, again and again, then a clean run: every episode must
 * end in exactly one place, nothing lost, and the collector holding each exactly once.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
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

Deno.test("--once survives kill -9 at any instant: each episode in one place, stored exactly once", async () => {
  const seed = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 100000);
  const random = mulberry32(seed);
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(tmp.path, pki);
  await using lab = await makeLab({ url: collector.url, pki });
  const ids = Array.from({ length: 24 }, (_, i) => `ep-${String(i).padStart(2, "0")}`);
  for (const id of ids) {
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 31 + id.charCodeAt(4)) % 251);
    await makeEpisode(lab.dataRoot, id, { files: { "obs/data.bin": bytes, "log.txt": id } });
  }
  await makeEpisode(lab.dataRoot, "ep-unstamped", { meta: "{}" });

  let kills = 0;
  for (let round = 0; round < 60; round++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: cliCommand(["--once", "--config", lab.configPath]),
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
        kills++;
      } catch { /* already exited */ }
    }, 40 + random() * 300);
    const status = await child.status;
    clearTimeout(timer);
    if (status.success) break;
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
  assertEquals(stored, ids.flatMap((id) => [`${id}.tar.gz`, `${id}.tar.gz.json`]), `seed ${seed}`);
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
  console.log(`seed ${seed}: ${kills} kills`);
});

import { Buffer } from "node:buffer";
