import { assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { MAX_META_BYTES, readMeta } from "../../src/episodes/meta.ts";
import { tempDir } from "../../devkit/fixtures.ts";

const META = '{"code_version": {"commit": "0123456789abcdef0123456789abcdef01234567"}}';

Deno.test("readMeta() returns the text of a regular meta.json", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "meta.json"), META);
  assertEquals(await readMeta(dir.path), { text: META });
});

Deno.test("readMeta() reports a missing meta.json as missing", async () => {
  await using dir = await tempDir();
  assertEquals(await readMeta(dir.path), { kind: "missing", problem: "meta.json is missing" });
});

Deno.test("readMeta() never follows a symlink, even to a good meta.json", async () => {
  await using dir = await tempDir();
  const elsewhere = join(dir.path, "elsewhere.json");
  await Deno.writeTextFile(elsewhere, META);
  await Deno.symlink(elsewhere, join(dir.path, "meta.json"));
  assertEquals(await readMeta(dir.path), {
    kind: "not a regular file",
    problem: "meta.json is a symlink, not a regular file",
  });
});

Deno.test("readMeta() refuses a directory and a FIFO without blocking", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "meta.json"));
  assertEquals(await readMeta(dir.path), {
    kind: "not a regular file",
    problem: "meta.json is a directory, not a regular file",
  });
  await using fifoDir = await tempDir();
  const made = await new Deno.Command("mkfifo", { args: [join(fifoDir.path, "meta.json")] })
    .output();
  assertEquals(made.success, true);
  assertEquals(await readMeta(fifoDir.path), {
    kind: "not a regular file",
    problem: "meta.json is a special file, not a regular file",
  });
});

Deno.test("readMeta() calls a 1 GiB meta.json too large from its size, not missing", async () => {
  await using dir = await tempDir();
  // Sparse: the test never writes a gigabyte, and readMeta must not read one.
  using file = await Deno.open(join(dir.path, "meta.json"), { write: true, create: true });
  await file.truncate(1024 ** 3);
  assertEquals(await readMeta(dir.path), {
    kind: "too large",
    problem: "meta.json is 1073741824 bytes, more than the 1 MiB limit",
  });
});

Deno.test("readMeta() accepts exactly the limit and refuses one byte more", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "meta.json");
  await Deno.writeTextFile(path, " ".repeat(MAX_META_BYTES - META.length) + META);
  const at = await readMeta(dir.path);
  assertEquals("text" in at ? at.text.length : at, MAX_META_BYTES);
  await Deno.writeTextFile(path, " ", { append: true });
  assertEquals(await readMeta(dir.path), {
    kind: "too large",
    problem: `meta.json is ${MAX_META_BYTES + 1} bytes, more than the 1 MiB limit`,
  });
  assertEquals(await readMeta(dir.path, { maxBytes: 100 }), {
    kind: "too large",
    problem: `meta.json is ${MAX_META_BYTES + 1} bytes, more than the 100 bytes limit`,
  });
});
