import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { EpisodeChangedError, packEpisode } from "../../src/pack/pack.ts";
import { tempDir } from "../../devkit/fixtures.ts";

const SECRET = "root:$6$secret-hash-that-must-never-leave:19000:0:99999:7:::\n";

/** An episode with `sub/data.txt`, and a secret-like file outside it named the same way. */
async function setUp(root: string): Promise<{ dir: string; outside: string }> {
  const dir = join(root, "ep-1");
  await Deno.mkdir(join(dir, "sub"), { recursive: true });
  await Deno.writeTextFile(join(dir, "meta.json"), "{}");
  await Deno.writeTextFile(join(dir, "sub", "data.txt"), "x".repeat(SECRET.length));
  const outside = join(root, "etc");
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "data.txt"), SECRET);
  await Deno.chmod(join(outside, "data.txt"), 0o600);
  return { dir, outside };
}

/** No regular file under `root` but `allowed` holds the secret (symlinks are not followed). */
async function assertSecretNowhereBut(root: string, allowed: string): Promise<void> {
  for await (const entry of Deno.readDir(root)) {
    const path = join(root, entry.name);
    if (entry.isDirectory) await assertSecretNowhereBut(path, allowed);
    if (!entry.isFile || path === allowed) continue;
    assert(!(await Deno.readTextFile(path)).includes("secret-hash"), `${path} holds the secret`);
  }
}

for (const compression of ["none", "gzip"] as const) {
  Deno.test(`packEpisode() rejects a file swapped for a symlink after the walk (${compression})`, async () => {
    await using tmp = await tempDir();
    const { dir, outside } = await setUp(tmp.path);
    const tree = walkEpisode(dir);
    await Deno.remove(join(dir, "sub", "data.txt"));
    await Deno.symlink(join(outside, "data.txt"), join(dir, "sub", "data.txt"));
    const out = join(tmp.path, "out.tar");
    const error = await assertRejects(
      () => packEpisode(dir, "ep-1", tree, out, { compression }),
      EpisodeChangedError,
    );
    assertMatch(
      error.message,
      /"sub\/data\.txt" changed while being packed: (.*ELOOP|it is no longer the file)/,
    );
    assertEquals(await Deno.lstat(out).catch(() => null), null);
    await assertSecretNowhereBut(tmp.path, join(outside, "data.txt"));
  });
}

Deno.test("packEpisode() rejects a file replaced by a hard link to another file after the walk", async () => {
  await using tmp = await tempDir();
  const { dir, outside } = await setUp(tmp.path);
  const tree = walkEpisode(dir);
  await Deno.remove(join(dir, "sub", "data.txt"));
  await Deno.link(join(outside, "data.txt"), join(dir, "sub", "data.txt"));
  const out = join(tmp.path, "out.tar");
  const error = await assertRejects(
    () => packEpisode(dir, "ep-1", tree, out, { compression: "none" }),
    EpisodeChangedError,
  );
  assertMatch(error.message, /no longer the file that was listed/);
  assertEquals(await Deno.lstat(out).catch(() => null), null);
});

Deno.test("packEpisode() rejects a directory swapped for a symlink after the walk", async () => {
  await using tmp = await tempDir();
  const { dir, outside } = await setUp(tmp.path);
  const tree = walkEpisode(dir);
  await Deno.rename(join(dir, "sub"), join(tmp.path, "moved-away"));
  await Deno.symlink(outside, join(dir, "sub"));
  const out = join(tmp.path, "out.tar");
  const error = await assertRejects(
    () => packEpisode(dir, "ep-1", tree, out, { compression: "none" }),
    EpisodeChangedError,
  );
  assertMatch(error.message, /"sub" changed while being packed/);
  assertEquals(await Deno.lstat(out).catch(() => null), null);
  await assertSecretNowhereBut(tmp.path, join(outside, "data.txt"));
});

Deno.test("packEpisode() rejects a FIFO swapped in for a file without blocking on it", async () => {
  await using tmp = await tempDir();
  const { dir } = await setUp(tmp.path);
  const tree = walkEpisode(dir);
  await Deno.remove(join(dir, "sub", "data.txt"));
  await new Deno.Command("mkfifo", { args: [join(dir, "sub", "data.txt")] }).output();
  const error = await assertRejects(
    () => packEpisode(dir, "ep-1", tree, join(tmp.path, "out.tar")),
    EpisodeChangedError,
  );
  assertMatch(error.message, /no longer the file/);
});

Deno.test("walkEpisode() lists through the directory it checked, so a swapped directory is caught", async () => {
  await using tmp = await tempDir();
  const { dir, outside } = await setUp(tmp.path);
  // A directory that is a symlink when walked is recorded as a symlink, never listed.
  await Deno.rename(join(dir, "sub"), join(tmp.path, "moved-away"));
  await Deno.symlink(outside, join(dir, "sub"));
  const tree = walkEpisode(dir);
  assertEquals(tree.entries.map((e) => [e.relPath, e.kind]), [
    ["", "directory"],
    ["meta.json", "file"],
    ["sub", "symlink"],
  ]);
  await packEpisode(dir, "ep-1", tree, join(tmp.path, "ok.tar"), { compression: "none" });
  const tar = await Deno.readTextFile(join(tmp.path, "ok.tar"));
  assert(!tar.includes("secret-hash"));
});

Deno.test("walkEpisode() refuses an episode directory swapped for a symlink: never packed as a lone link", async () => {
  await using tmp = await tempDir();
  const real = join(tmp.path, "moved-away");
  await Deno.mkdir(real);
  await Deno.writeTextFile(join(real, "data.txt"), "the real data");
  const dir = join(tmp.path, "ep3");
  await Deno.symlink(real, dir);
  const error = await assertRejects(
    () => Promise.resolve().then(() => walkEpisode(dir)),
    EpisodeChangedError,
  );
  assertMatch(error.message, /it is no longer a directory \(now a symlink\)/);
});
