import { assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import {
  moveDirNoClobber,
  TEMP_SUFFIX,
  writeFileAtomic,
  writeJsonAtomic,
} from "../../src/fs/atomic.ts";
import { names, tempDir } from "../../devkit/fixtures.ts";

Deno.test("moveDirNoClobber() never overwrites: a clash gets the next free name", async () => {
  await using tmp = await tempDir();
  const dest = join(tmp.path, "quarantine");
  await Deno.mkdir(dest);
  for (let i = 1; i <= 3; i++) {
    const src = join(tmp.path, "episodes", "ep");
    await Deno.mkdir(src, { recursive: true });
    await Deno.writeTextFile(join(src, "n.txt"), String(i));
    await moveDirNoClobber(src, dest);
  }
  assertEquals(await names(dest), ["ep", "ep.2", "ep.3"]);
  assertEquals(await Deno.readTextFile(join(dest, "ep", "n.txt")), "1");
  assertEquals(await Deno.readTextFile(join(dest, "ep.3", "n.txt")), "3");
  assertEquals(await names(join(tmp.path, "episodes")), []);
});

Deno.test("moveDirNoClobber() keeps a clash within NAME_MAX for a 255-byte name", async () => {
  await using tmp = await tempDir();
  const long = "x".repeat(255);
  await Deno.mkdir(join(tmp.path, "dest", long), { recursive: true });
  await Deno.writeTextFile(join(tmp.path, "dest", long, "done.marker"), "");
  await Deno.mkdir(join(tmp.path, long));
  const moved = await moveDirNoClobber(join(tmp.path, long), join(tmp.path, "dest"));
  assertEquals(moved, join(tmp.path, "dest", "x".repeat(253) + ".2"));
});

Deno.test("writeJsonAtomic() leaves only the final file", async () => {
  await using tmp = await tempDir();
  await writeJsonAtomic(join(tmp.path, "s.json"), { a: 1 });
  await writeJsonAtomic(join(tmp.path, "s.json"), { a: 2 });
  assertEquals(await names(tmp.path), ["s.json"]);
  assertEquals(JSON.parse(await Deno.readTextFile(join(tmp.path, "s.json"))), { a: 2 });
  assertEquals((await names(tmp.path)).some((n) => n.endsWith(TEMP_SUFFIX)), false);
});

Deno.test("moveDirNoClobber() takes the place of an empty directory and skips a file of the same name", async () => {
  await using tmp = await tempDir();
  const dest = join(tmp.path, "shipped");
  await Deno.mkdir(join(dest, "ep"), { recursive: true });
  await Deno.writeTextFile(join(dest, "ep.2"), "a file, not an episode");
  await Deno.mkdir(join(tmp.path, "ep"));
  await Deno.writeTextFile(join(tmp.path, "ep", "done.marker"), "");
  assertEquals(await moveDirNoClobber(join(tmp.path, "ep"), dest), join(dest, "ep"));
  await Deno.mkdir(join(tmp.path, "ep"));
  await Deno.writeTextFile(join(tmp.path, "ep", "done.marker"), "");
  assertEquals(await moveDirNoClobber(join(tmp.path, "ep"), dest), join(dest, "ep.3"));
  assertEquals(await Deno.readTextFile(join(dest, "ep.2")), "a file, not an episode");
});

Deno.test("writeJsonAtomic() can keep its temporary file in another directory", async () => {
  await using tmp = await tempDir();
  const episode = join(tmp.path, "ep");
  const outbox = join(tmp.path, "outbox");
  await Deno.mkdir(episode);
  await Deno.mkdir(outbox);
  await writeJsonAtomic(join(episode, "reason.json"), { r: 1 }, { tempDir: outbox });
  assertEquals(await names(episode), ["reason.json"]);
  assertEquals(await names(outbox), []);
});

Deno.test("moveDirNoClobber() never moves onto a reserved dot-name: .history arrives as _.history", async () => {
  await using tmp = await tempDir();
  const from = join(tmp.path, "a");
  const to = join(tmp.path, "b");
  await Deno.mkdir(join(from, ".history"), { recursive: true });
  await Deno.mkdir(join(to, ".history"), { recursive: true });
  await Deno.writeTextFile(join(to, ".history", "ep9.json"), "{}");
  const dest = await moveDirNoClobber(join(from, ".history"), to);
  assertEquals(dest, join(to, "_.history"));
  assertEquals(await names(join(to, ".history")), ["ep9.json"]);
});

Deno.test("writeFileAtomic() removes its temporary file when the rename fails, and sets an exact mode", async () => {
  await using tmp = await tempDir();
  const target = join(tmp.path, "status.json");
  await Deno.mkdir(target); // a non-empty directory where the file should go
  await Deno.writeTextFile(join(target, "x"), "");
  let failed = false;
  await writeFileAtomic(target, "{}").catch(() => (failed = true));
  assertEquals(failed, true);
  assertEquals(await names(tmp.path), ["status.json"]);
  const path = join(tmp.path, "open.prom");
  await writeFileAtomic(path, "a 1\n", { mode: 0o644 });
  assertEquals((await Deno.stat(path)).mode! & 0o777, 0o644);
});
