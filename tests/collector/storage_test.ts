/**
 * The collector's storage, stopped at each durable step of a commit as a crash would stop it,
 * then restarted: whatever is visible is whole and described by its sidecar.
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { COMMIT, tempDir } from "../../devkit/fixtures.ts";
import type { Admitted } from "../../src/collector/gate.ts";
import {
  clearIncoming,
  INCOMING_DIR,
  type Sidecar,
  storedDigest,
  type StoreStep,
  storeUpload,
} from "../../src/collector/storage.ts";

const STEPS: StoreStep[] = ["body-durable", "sidecar-durable", "object-visible"];

class Crash extends Error {}

function upload(bytes: Uint8Array): Admitted {
  return {
    hostId: "lab-01",
    episodeId: "ep-1",
    compression: "gzip",
    commit: COMMIT,
    sha256: createHash("sha256").update(bytes).digest("base64"),
    size: bytes.length,
  };
}

async function* body(bytes: Uint8Array) {
  for (let i = 0; i < bytes.length; i += 4096) yield bytes.subarray(i, i + 4096);
}

/** Every visible object has a sidecar that describes exactly its bytes. */
async function assertConsistent(store: string): Promise<string[]> {
  const visible: string[] = [];
  for await (const host of Deno.readDir(store)) {
    if (host.name === INCOMING_DIR) continue;
    for await (const entry of Deno.readDir(join(store, host.name))) {
      if (entry.name.endsWith(".json")) continue;
      const path = join(store, host.name, entry.name);
      const bytes = await Deno.readFile(path);
      const sidecar: Sidecar = JSON.parse(
        await Deno.readTextFile(`${path}.json`).catch(() => {
          throw new Error(`"${path}" is visible without its sidecar: it would answer 409 forever`);
        }),
      );
      assertEquals(sidecar.sha256, createHash("sha256").update(bytes).digest("base64"), path);
      assertEquals(sidecar.size, bytes.length, path);
      visible.push(`${host.name}/${entry.name}`);
    }
  }
  return visible;
}

for (const step of STEPS) {
  Deno.test(`storeUpload() stopped after "${step}" leaves a consistent store, and the retry lands`, async () => {
    await using tmp = await tempDir();
    const store = join(tmp.path, "store");
    await clearIncoming(store);
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) >>> 2);
    const meta = { clientSubject: "CN=lab-01", now: Date.parse("2026-11-27T10:00:00Z") };
    await assertRejects(
      () =>
        storeUpload(store, upload(bytes), body(bytes), {
          ...meta,
          checkpoint: (at) => {
            if (at === step) throw new Crash(at);
          },
        }),
      Crash,
    );
    // Restart: what the collector does before it listens.
    await clearIncoming(store);
    const before = await assertConsistent(store);
    const retry = await storeUpload(store, upload(bytes), body(bytes), meta);
    if (before.length === 0) assertEquals(retry.kind, "stored");
    else assertEquals(retry, { kind: "duplicate", digest: upload(bytes).sha256 });
    assertEquals(await assertConsistent(store), ["lab-01/ep-1.tar.gz"]);
    assertEquals([...Deno.readDirSync(join(store, INCOMING_DIR))], [], "no leftovers");
  });
}

Deno.test("storedDigest() reads the sidecar, and hashes an object an older collector left without one", async () => {
  await using tmp = await tempDir();
  const store = join(tmp.path, "store");
  await clearIncoming(store);
  const bytes = new Uint8Array(70_000).fill(5);
  const meta = { clientSubject: "CN=lab-01", now: 0 };
  const stored = await storeUpload(store, upload(bytes), body(bytes), meta);
  assert(stored.kind === "stored");
  assertEquals(await storedDigest(stored.path), upload(bytes).sha256);
  await Deno.remove(`${stored.path}.json`);
  assertEquals(await storedDigest(stored.path), upload(bytes).sha256);
  const other = new Uint8Array(10).fill(6);
  assertEquals(
    await storeUpload(store, { ...upload(other), compression: "none" }, body(other), meta),
    { kind: "duplicate", digest: upload(bytes).sha256 },
  );
});
