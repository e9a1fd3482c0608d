import { assertEquals, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { tempDir } from "../../devkit/fixtures.ts";
import { readText } from "../../src/fs/read_text.ts";
import { denoFs, isNotFound } from "../../src/fs/fs.ts";
import { SimFs } from "../../sim/sim_fs.ts";

Deno.test("readText() returns what Deno.readTextFile does: lossy UTF-8, a byte order mark kept", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "f.json");
  await Deno.writeFile(path, new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d, 0xff]));
  const text = await readText(denoFs, path);
  assertEquals(text, await Deno.readTextFile(path));
  assertEquals(text, "\uFEFF{}\uFFFD");
  const fs = new SimFs(() => 0);
  fs.produceFile("/data/f.json", await Deno.readFile(path));
  assertEquals(await readText(fs, "/data/f.json"), text);
});

Deno.test("readText() throws what the fs throws: not found, or larger than its limit", async () => {
  await using tmp = await tempDir();
  const missing = await readText(denoFs, join(tmp.path, "none")).catch((e) => e);
  assertEquals(isNotFound(missing), true);
  await Deno.writeTextFile(join(tmp.path, "big"), "12345");
  await assertRejects(() => readText(denoFs, join(tmp.path, "big"), { limit: 4 }), RangeError);
  assertEquals(await readText(denoFs, join(tmp.path, "big"), { limit: 5 }), "12345");
});
