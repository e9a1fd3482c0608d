import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { capacityFor, EpisodeChangedError, packEpisode } from "../../src/pack/pack.ts";
import { takenBuffers } from "../../src/fs/buffers.ts";

const MiB = 1024 * 1024;
import { tempDir } from "../../devkit/fixtures.ts";

async function sh(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    ...(cwd && { cwd }),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

async function makeTree(root: string): Promise<string> {
  const dir = join(root, "ep-1");
  await Deno.mkdir(join(dir, "b/nested"), { recursive: true });
  await Deno.writeTextFile(join(dir, "meta.json"), '{"code_version":{"commit":"x"}}');
  await Deno.writeTextFile(join(dir, "b/nested/z.txt"), "zzz");
  await Deno.writeTextFile(join(dir, "a.txt"), "aaa");
  await Deno.writeFile(
    join(dir, "big.bin"),
    crypto.getRandomValues(new Uint8Array(65536)).map((_, i) => i % 251),
  );
  await Deno.writeTextFile(join(dir, "done.marker"), "");
  return dir;
}

const sha = async (path: string) =>
  createHash("sha256").update(await Deno.readFile(path)).digest("hex");

Deno.test("packEpisode() gives the same bytes for the same directory, and its digest is the file's", async () => {
  await using tmp = await tempDir();
  const dir = await makeTree(tmp.path);
  const one = await packEpisode(dir, "ep-1", walkEpisode(dir), join(tmp.path, "1.tar.gz"));
  const two = await packEpisode(dir, "ep-1", walkEpisode(dir), join(tmp.path, "2.tar.gz"));
  assertEquals(await sha(join(tmp.path, "1.tar.gz")), await sha(join(tmp.path, "2.tar.gz")));
  assertEquals(one, two);
  assertEquals(Buffer.from(one.sha256).toString("hex"), await sha(join(tmp.path, "1.tar.gz")));
  assertEquals(one.size, (await Deno.stat(join(tmp.path, "1.tar.gz"))).size);
  // A copy with the same content and times packs to the same bytes too.
  await sh("cp", ["-a", dir, join(tmp.path, "copy")]);
  const copy = join(tmp.path, "copy");
  const three = await packEpisode(copy, "ep-1", walkEpisode(copy), join(tmp.path, "3.tar.gz"));
  assertEquals(three.sha256, one.sha256);
});

Deno.test("packEpisode() writes sorted entries under <id>/ with uid/gid 0 and no names, read by GNU tar", async () => {
  await using tmp = await tempDir();
  const dir = await makeTree(tmp.path);
  await packEpisode(dir, "ep-1", walkEpisode(dir), join(tmp.path, "e.tar.gz"));
  const listing = await sh("tar", ["--numeric-owner", "-tvzf", join(tmp.path, "e.tar.gz")]);
  const names = listing.trim().split("\n").map((l) => l.split(/\s+/).at(-1));
  assertEquals(names, [
    "ep-1/",
    "ep-1/a.txt",
    "ep-1/b/",
    "ep-1/b/nested/",
    "ep-1/b/nested/z.txt",
    "ep-1/big.bin",
    "ep-1/done.marker",
    "ep-1/meta.json",
  ]);
  for (const line of listing.trim().split("\n")) assertMatch(line, /^\S+ 0\/0 /);
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await sh("tar", ["-xzf", join(tmp.path, "e.tar.gz"), "-C", out]);
  await sh("diff", ["-r", dir, join(out, "ep-1")]);
});

Deno.test("packEpisode() keeps long names intact with PAX headers", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep-long");
  const deep = join(dir, "d".repeat(120), "e".repeat(120));
  await Deno.mkdir(deep, { recursive: true });
  const leaf = "f".repeat(200) + ".txt";
  await Deno.writeTextFile(join(deep, leaf), "long");
  await packEpisode(dir, "ep-long", walkEpisode(dir), join(tmp.path, "l.tar"), {
    compression: "none",
  });
  const listing = await sh("tar", ["-tf", join(tmp.path, "l.tar")]);
  assert(listing.includes(`ep-long/${"d".repeat(120)}/${"e".repeat(120)}/${leaf}\n`), listing);
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await sh("tar", ["-xf", join(tmp.path, "l.tar"), "-C", out]);
  assertEquals(
    await Deno.readTextFile(join(out, "ep-long", "d".repeat(120), "e".repeat(120), leaf)),
    "long",
  );
});

Deno.test("packEpisode() stores symlinks as links, never following them, and skips FIFOs", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep-s");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(tmp.path, "secret.txt"), "outside data_root");
  await Deno.symlink(join(tmp.path, "secret.txt"), join(dir, "escape"));
  await sh("mkfifo", [join(dir, "pipe")]);
  const skipped: string[] = [];
  await packEpisode(dir, "ep-s", walkEpisode(dir), join(tmp.path, "s.tar"), {
    compression: "none",
    onSkip: (p) => skipped.push(p),
  });
  assertEquals(skipped, ["pipe"]);
  const listing = await sh("tar", ["-tvf", join(tmp.path, "s.tar")]);
  assertMatch(listing, new RegExp(`^l.* ep-s/escape -> ${join(tmp.path, "secret.txt")}$`, "m"));
  assert(!listing.includes("pipe"));
  assert(!(await Deno.readTextFile(join(tmp.path, "s.tar"))).includes("outside data_root"));
});

Deno.test("packEpisode() aborts when a file changes size, leaving no output", async () => {
  await using tmp = await tempDir();
  const dir = await makeTree(tmp.path);
  const small = walkEpisode(dir);
  await Deno.writeTextFile(join(dir, "a.txt"), "aaaa-grown");
  const out = join(tmp.path, "x.tar.gz");
  const e1 = await assertRejects(() => packEpisode(dir, "ep-1", small, out), EpisodeChangedError);
  assertMatch(e1.message, /"a\.txt" changed while being packed: grew beyond 3 bytes/);
  assertEquals(await Deno.lstat(out).catch(() => null), null);

  await Deno.writeFile(join(dir, "huge.bin"), new Uint8Array(3 * 1024 * 1024));
  const large = walkEpisode(dir);
  await Deno.truncate(join(dir, "huge.bin"), 1024 * 1024 + 5);
  const e2 = await assertRejects(() => packEpisode(dir, "ep-1", large, out), EpisodeChangedError);
  assertMatch(e2.message, /"huge\.bin" changed while being packed: shrank below 3145728 bytes/);
  await Deno.writeFile(join(dir, "huge.bin"), new Uint8Array(3 * 1024 * 1024));
  const before = walkEpisode(dir);
  await Deno.writeFile(join(dir, "huge.bin"), new Uint8Array(10), { append: true });
  const e3 = await assertRejects(() => packEpisode(dir, "ep-1", before, out), EpisodeChangedError);
  assertMatch(e3.message, /grew beyond 3145728 bytes/);
  assertEquals(await Deno.lstat(out).catch(() => null), null);
});

// Memory is measured by `deno task bench` (peak RSS of a separate process, 64 MiB vs 2 GiB), not
// inside the shared test process, where it depends on everything else running.
Deno.test("packEpisode() streams a 256 MiB sparse file into a small gzip", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep-big");
  await Deno.mkdir(dir);
  await Deno.truncate(join(dir, "zeros.bin"), 256 * 1024 * 1024).catch(async () => {
    await Deno.writeFile(join(dir, "zeros.bin"), new Uint8Array(0));
    await Deno.truncate(join(dir, "zeros.bin"), 256 * 1024 * 1024);
  });
  const result = await packEpisode(dir, "ep-big", walkEpisode(dir), join(tmp.path, "big.tar.gz"));
  assert(
    result.size > 0 && result.size < 2 * 1024 * 1024,
    `gzip of zeros is small: ${result.size}`,
  );
});

import { Buffer } from "node:buffer";

/** An episode of a few small files of every kind the packer treats apart. */
async function makeSmallMixed(root: string): Promise<string> {
  const dir = join(root, "ep-small");
  const deep = "d".repeat(120) + "/ü-" + "n".repeat(110);
  await Deno.mkdir(join(dir, deep), { recursive: true });
  await Deno.writeTextFile(join(dir, "meta.json"), '{"code_version":{"commit":"x"}}');
  // Random (gzip stores it after its probe), text (deflated), and a long name (PAX).
  await Deno.writeFile(join(dir, "noise.bin"), crypto.getRandomValues(new Uint8Array(40_000)));
  await Deno.writeTextFile(join(dir, "obs.csv"), "t,x\n".repeat(5_000));
  await Deno.writeTextFile(join(dir, deep, "f".repeat(90) + ".txt"), "tiny");
  await Deno.symlink("l".repeat(300), join(dir, "link"));
  await Deno.writeTextFile(join(dir, "done.marker"), "");
  return dir;
}

Deno.test("packEpisode() packs a small episode in buffers of its size, with the bytes 1 MiB buffers give", async () => {
  await using tmp = await tempDir();
  const dir = await makeSmallMixed(tmp.path);
  const tree = walkEpisode(dir);
  const capacity = capacityFor("ep-small", tree);
  assert(capacity <= 128 * 1024, `capacity ${capacity}`);
  for (const compression of ["gzip", "zstd", "none"] as const) {
    const before = takenBuffers().get(MiB) ?? 0;
    const small = await packEpisode(dir, "ep-small", tree, join(tmp.path, `s.${compression}`), {
      compression,
    });
    assertEquals(takenBuffers().get(MiB) ?? 0, before, `${compression} took a 1 MiB buffer`);
    const big = await packEpisode(dir, "ep-small", tree, join(tmp.path, `b.${compression}`), {
      compression,
      capacity: MiB,
    });
    assertEquals(small, big, compression);
    if (compression === "none") assert(small.size < capacity, `${small.size} ≥ ${capacity}`);
  }
});

Deno.test("capacityFor() bounds the tar from above, whatever the names, links and sizes", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep");
  await Deno.mkdir(dir);
  const names = ["a", "é".repeat(60), "字".repeat(80), "x".repeat(250), "🙂".repeat(40)];
  for (const [i, name] of names.entries()) {
    await Deno.mkdir(join(dir, name));
    await Deno.writeFile(join(dir, name, "f"), new Uint8Array(i * 777));
    await Deno.symlink("t".repeat(i * 50 + 1) + "ü".repeat(i * 20), join(dir, name, "s"));
  }
  const tree = walkEpisode(dir);
  const bound = capacityFor("ep", tree);
  const out = join(tmp.path, "ep.tar");
  const packed = await packEpisode(dir, "ep", tree, out, { compression: "none" });
  assert(packed.size < bound, `${packed.size} ≥ ${bound}`);
  assert(bound <= 4 * packed.size, `${bound} is far above ${packed.size}`);
});
