/**
 * The tarball writer past its early-flush interval: a second handle flushes what is written
 * while writing goes on, and the bytes, size and SHA-256 are those of a plain write.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { SYNC_EVERY, TarballFile } from "../../src/pack/_tarball_file.ts";

/** Open descriptors of this process that point at `path`. */
function handlesOn(path: string): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === path) n++;
    } catch {
      // Closed since the listing.
    }
  }
  return n;
}

Deno.test("TarballFile flushes early past SYNC_EVERY and writes the same bytes and digest", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "t.tar");
  const chunk = 1 << 20;
  const buffers = [new Uint8Array(chunk), new Uint8Array(chunk)];
  const expected = createHash("sha256");
  const file = TarballFile.create(path);
  assertEquals(handlesOn(path), 1);
  let sawFlusher = false;
  const total = SYNC_EVERY * 2 + chunk * 3;
  for (let i = 0; i * chunk < total; i++) {
    const b = buffers[i % 2]!;
    b.fill(i % 251);
    b[0] = i & 0xff;
    expected.update(b);
    await file.write(b);
    sawFlusher ||= handlesOn(path) === 2;
  }
  assert(sawFlusher, "a second handle flushed the tarball while it was written");
  const result = await file.finish(true);
  assertEquals(handlesOn(path), 0, "every handle closed");
  assertEquals(result.size, total);
  const digest = new Uint8Array(expected.digest());
  assertEquals(result.sha256, digest);
  const onDisk = createHash("sha256");
  using read = await Deno.open(path);
  for await (const part of read.readable) onDisk.update(part);
  assertEquals(new Uint8Array(onDisk.digest()), digest);
});
