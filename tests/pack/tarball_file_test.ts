/**
 * The tarball writer past its early-flush interval: a second handle flushes what is written
 * while writing goes on, and the bytes, size and SHA-256 are those of a plain write.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { SYNC_EVERY, TarballFile } from "../../src/pack/_tarball_file.ts";

/**
 * The access modes (0 read-only, 1 write-only, 2 both) of this process's descriptors on `path`.
 * Found by find(1) and /proc/PID/fdinfo: Deno reads /proc/self only with --allow-all. The writer's
 * handle is write-only (Deno may hold a duplicate of it while a write is in flight); the early
 * flusher's is read-only.
 */
function modesOn(path: string): number[] {
  const script = 'for fd in $(find "/proc/$1/fd" -lname "$2" -printf "%f\\n"); do ' +
    'sed -n "s/^flags:[[:space:]]*//p" "/proc/$1/fdinfo/$fd" 2>/dev/null; done';
  const out = new Deno.Command("sh", {
    args: ["-c", script, "sh", String(Deno.pid), path],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "")
    .map((flags) => parseInt(flags, 8) & 3);
}

Deno.test("TarballFile flushes early past SYNC_EVERY and writes the same bytes and digest", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "t.tar");
  const chunk = 1 << 20;
  const buffers = [new Uint8Array(chunk), new Uint8Array(chunk)];
  const expected = createHash("sha256");
  const file = TarballFile.create(path);
  assertEquals(modesOn(path), [1]);
  let sawFlusher = false;
  const total = SYNC_EVERY * 2 + chunk * 3;
  for (let i = 0; i * chunk < total; i++) {
    const b = buffers[i % 2]!;
    b.fill(i % 251);
    b[0] = i & 0xff;
    expected.update(b);
    await file.write(b);
    sawFlusher ||= modesOn(path).includes(0);
  }
  assert(sawFlusher, "a second handle flushed the tarball while it was written");
  const result = await file.finish(true);
  assertEquals(modesOn(path), [], "every handle closed");
  assertEquals(result.size, total);
  const digest = new Uint8Array(expected.digest());
  assertEquals(result.sha256, digest);
  const onDisk = createHash("sha256");
  using read = await Deno.open(path);
  for await (const part of read.readable) onDisk.update(part);
  assertEquals(new Uint8Array(onDisk.digest()), digest);
});
