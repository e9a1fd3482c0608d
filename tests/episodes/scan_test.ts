import { assert, assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { scanEpisodes } from "../../src/episodes/scan.ts";
import { tempDir } from "../../devkit/fixtures.ts";

/** Makes `<dir>/<name>/done.marker` where `name` is raw bytes given as printf escapes. */
async function mkdirRaw(dir: string, printfName: string): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      'n="$(printf "$2")" && mkdir "$1/$n" && touch "$1/$n/done.marker"',
      "_",
      dir,
      printfName,
    ],
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("scanEpisodes() sorts complete, incomplete and ignored entries", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "b"));
  await Deno.writeTextFile(join(dir.path, "b", "done.marker"), "");
  await Deno.utime(join(dir.path, "b", "done.marker"), 100, 100);
  await Deno.mkdir(join(dir.path, "a"));
  await Deno.writeTextFile(join(dir.path, "a", "done.marker"), "");
  await Deno.utime(join(dir.path, "a", "done.marker"), 200, 200);
  await Deno.mkdir(join(dir.path, "c"));
  await Deno.writeTextFile(join(dir.path, "file"), "");
  await Deno.symlink(join(dir.path, "a"), join(dir.path, "link"));
  const scan = await scanEpisodes(dir.path);
  assertEquals(scan.complete.map((e) => e.name), ["b", "a"]);
  assertEquals(scan.incomplete.map((e) => e.name), ["c"]);
  assertEquals(scan.ignored, ["file", "link"]);
  assertEquals(scan.unaddressable, []);
});

Deno.test("scanEpisodes() lists directories whose names are not UTF-8 apart, without crashing", async () => {
  await using dir = await tempDir();
  await mkdirRaw(dir.path, "ep-\\xff\\xfe");
  await mkdirRaw(dir.path, "\\xc3(");
  await Deno.mkdir(join(dir.path, "ok"));
  await Deno.writeTextFile(join(dir.path, "ok", "done.marker"), "");
  const scan = await scanEpisodes(dir.path);
  assertEquals(scan.unaddressable, ["ep-\uFFFD\uFFFD", "\uFFFD("]);
  assertEquals(scan.complete.map((e) => e.name), ["ok"]);
  assertEquals(scan.incomplete, []);
});

Deno.test("scanEpisodes() treats a name holding a real U+FFFD (valid UTF-8) as an ordinary directory", async () => {
  await using dir = await tempDir();
  await mkdirRaw(dir.path, "ep-\\xef\\xbf\\xbd");
  const scan = await scanEpisodes(dir.path);
  assertEquals(scan.complete.map((e) => e.name), ["ep-\uFFFD"]);
  assertEquals(scan.unaddressable, []);
});
