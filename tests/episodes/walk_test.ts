import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { tempDir } from "../../devkit/fixtures.ts";

/** Runs bash with `script` in `cwd`: names made of raw bytes need `$'\xff'`. */
async function bash(cwd: string, script: string): Promise<void> {
  const out = await new Deno.Command("bash", { args: ["-c", script], cwd }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("walkEpisode() lists depth first, sorted, with device and inode of each entry", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep");
  await Deno.mkdir(join(dir, "b"), { recursive: true });
  await Deno.writeTextFile(join(dir, "b", "z.txt"), "zz");
  await Deno.writeTextFile(join(dir, "a.txt"), "a");
  const tree = walkEpisode(dir);
  assertEquals(tree.entries.map((e) => [e.relPath, e.kind, e.size]), [
    ["", "directory", 0],
    ["a.txt", "file", 1],
    ["b", "directory", 0],
    ["b/z.txt", "file", 2],
  ]);
  assertEquals(tree.totalBytes, 3);
  assertEquals(tree.problem, undefined);
  const info = await Deno.lstat(join(dir, "b", "z.txt"));
  assertEquals([tree.entries[3]?.dev, tree.entries[3]?.ino], [info.dev, info.ino]);
});

Deno.test("walkEpisode() names a file whose name is not UTF-8 in problem, without throwing", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep");
  await Deno.mkdir(join(dir, "raw"), { recursive: true });
  await Deno.writeTextFile(join(dir, "meta.json"), "{}");
  await bash(dir, "touch $'raw/data-\\xff.bin' && echo hi > raw/ok.txt");
  const tree = walkEpisode(dir);
  assertMatch(
    tree.problem ?? "",
    /^entry "data-\uFFFD\.bin" in directory "raw" has a name that is not valid UTF-8/,
  );
  assertEquals(tree.entries.map((e) => e.relPath), ["", "meta.json", "raw", "raw/ok.txt"]);
});

Deno.test("walkEpisode() names a directory that is not UTF-8, and two names that decode alike", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep");
  await Deno.mkdir(dir);
  await bash(dir, "mkdir $'\\xfe\\xfe' && touch $'\\xfe\\xfe/inside'");
  assertMatch(walkEpisode(dir).problem ?? "", /entry "\uFFFD\uFFFD" in directory "\."/);
  await Deno.remove(dir, { recursive: true });
  await Deno.mkdir(dir);
  // One real U+FFFD (valid UTF-8) and one lone 0xff byte: both read back as "\uFFFD".
  await bash(dir, "touch $'\\xef\\xbf\\xbd' $'\\xff'");
  assertMatch(walkEpisode(dir).problem ?? "", /entry "\uFFFD"/);
});

Deno.test("walkEpisode() accepts a valid UTF-8 name that holds U+FFFD", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "odd-\uFFFD.txt"), "x");
  const tree = walkEpisode(dir);
  assertEquals(tree.problem, undefined);
  assertEquals(tree.entries.map((e) => e.relPath), ["", "odd-\uFFFD.txt"]);
});
