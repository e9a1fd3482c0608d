import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";
import { compressible } from "../../src/pack/compressible.ts";
import { describeError } from "../../src/log/log.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

const bash = (script: string) => run("bash", ["-c", script]);
const sha = async (path: string) =>
  createHash("sha256").update(await Deno.readFile(path)).digest("hex");

/** Random bytes: `crypto.getRandomValues` fills at most 64 KiB a call. */
function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Random files larger than the packer's buffer, and text: what buffer reuse could corrupt. */
async function mixedEpisode(root: string): Promise<string> {
  const dir = join(root, "ep-mix");
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  await Deno.writeFile(join(dir, "a-random.bin"), random(3 * 1024 * 1024 + 77));
  await Deno.writeFile(join(dir, "b-random.bin"), random(200_000));
  const line = (i: number) => `${i},sensor-${i % 17},${(i * 0.37).toFixed(3)},ok\n`;
  for (let f = 0; f < 5; f++) {
    await Deno.writeTextFile(
      join(dir, "logs", `run-${f}.csv`),
      Array.from({ length: 20_000 }, (_, i) => line(i * f)).join(""),
    );
  }
  await Deno.writeTextFile(join(dir, "meta.json"), '{"code_version":{"commit":"x"}}');
  return dir;
}

Deno.test("compressible() deflates text and stores random or already-compressed bytes", () => {
  const text = new TextEncoder().encode("time,value\n1,2\n".repeat(4000));
  const cases: [string, Uint8Array, boolean][] = [
    ["text", text, true],
    ["zeros", new Uint8Array(65536), true],
    ["random", random(65536), false],
    ["gzip output", gzipSync(random(65536)), false],
  ];
  for (const [name, sample, expected] of cases) {
    assertEquals(compressible(sample), expected, name);
  }
});

Deno.test("packEpisode() adaptive gzip is one valid gzip stream, deterministic, no larger than level 1", async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  const one = join(tmp.path, "1.tar.gz"), two = join(tmp.path, "2.tar.gz");
  const plain = join(tmp.path, "plain.tar");
  await packEpisode(dir, "ep-mix", walkEpisode(dir), one);
  await packEpisode(dir, "ep-mix", walkEpisode(dir), two);
  await packEpisode(dir, "ep-mix", walkEpisode(dir), plain, { compression: "none" });
  assertEquals(await sha(one), await sha(two));
  await run("gzip", ["-t", one]);
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await run("tar", ["-xzf", one, "-C", out]);
  await run("diff", ["-r", dir, join(out, "ep-mix")]);
  const level1 = gzipSync(await Deno.readFile(plain), { level: 1 }).length;
  const ours = (await Deno.stat(one)).size;
  assert(ours <= level1, `adaptive ${ours} B > plain level 1 ${level1} B`);
  for (const level of [1, 9]) {
    const path = join(tmp.path, `l${level}.tar.gz`);
    await packEpisode(dir, "ep-mix", walkEpisode(dir), path, { level });
    await run("gzip", ["-t", path]);
  }
});

Deno.test("packEpisode() reuses its buffers without a byte of one pack reaching another", async () => {
  await using tmp = await tempDir();
  const big = await mixedEpisode(tmp.path);
  const small = join(tmp.path, "ep-small");
  await Deno.mkdir(join(small, "data"), { recursive: true });
  await Deno.writeTextFile(join(small, "data", "a.csv"), "a,1,2\n".repeat(700));
  await Deno.writeFile(join(small, "data", "noise.bin"), random(9000));
  await Deno.writeTextFile(join(small, "meta.json"), '{"code_version":{"commit":"x"}}');
  const jobs = [
    [big, "ep-mix", "gzip"],
    [small, "ep-small", "gzip"],
    [big, "ep-mix", "none"],
    [small, "ep-small", "zstd"],
    [big, "ep-mix", "zstd"],
    [small, "ep-small", "none"],
  ] as const;
  let n = 0;
  const pack = async ([dir, id, compression]: (typeof jobs)[number]) => {
    const out = join(tmp.path, `${n++}.tar`);
    await packEpisode(dir, id, walkEpisode(dir), out, { compression });
    return await sha(out);
  };
  const inOrder: string[] = [];
  for (const job of jobs) inOrder.push(await pack(job));
  const reversed: string[] = [];
  for (const job of [...jobs].reverse()) reversed.unshift(await pack(job));
  const together = await Promise.all(jobs.map(pack));
  assertEquals(reversed, inOrder);
  assertEquals(together, inOrder);
  // And what a process that never packed before makes.
  const child = new URL("./_pack_child.ts", import.meta.url).pathname;
  const fresh = JSON.parse(
    await run(Deno.execPath(), [
      "run",
      ...PERMISSION_FLAGS,
      child,
      small,
      join(tmp.path, "fresh.tar"),
      "gzip",
    ]),
  );
  assertEquals(fresh.sha256, inOrder[1]);
});

Deno.test("packEpisode() refuses a level outside the compression's range", async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  for (
    const [compression, level] of [["gzip", 0], ["gzip", 10], ["zstd", 20], ["zstd", 1.5]] as const
  ) {
    const error = await assertRejects(
      () =>
        packEpisode(dir, "ep-mix", walkEpisode(dir), join(tmp.path, "x"), { compression, level }),
      RangeError,
    );
    assertMatch(error.message, new RegExp(`${compression} level "${level}"`));
  }
  assertEquals(await Deno.lstat(join(tmp.path, "x")).catch(() => null), null);
});

Deno.test("packEpisode() zstd output is read by zstd -d | tar and is deterministic", async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  const one = join(tmp.path, "1.tar.zst"), two = join(tmp.path, "2.tar.zst");
  await packEpisode(dir, "ep-mix", walkEpisode(dir), one, { compression: "zstd" });
  await packEpisode(dir, "ep-mix", walkEpisode(dir), two, { compression: "zstd" });
  assertEquals(await sha(one), await sha(two));
  await run("zstd", ["-t", "-q", one]);
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await bash(`zstd -d -c '${one}' | tar -xf - -C '${out}'`);
  await run("diff", ["-r", dir, join(out, "ep-mix")]);
  const level19 = join(tmp.path, "19.tar.zst");
  await packEpisode(dir, "ep-mix", walkEpisode(dir), level19, { compression: "zstd", level: 19 });
  const listing = await bash(`zstd -d -c '${level19}' | tar -tf -`);
  assert(listing.includes("ep-mix/logs/run-4.csv"), listing);
});

Deno.test("packEpisode() uncompressed output round-trips files larger than its buffer", async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  const tar = join(tmp.path, "e.tar");
  await packEpisode(dir, "ep-mix", walkEpisode(dir), tar, { compression: "none" });
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await run("tar", ["-xf", tar, "-C", out]);
  await run("diff", ["-r", dir, join(out, "ep-mix")]);
});

Deno.test("packEpisode() keeps times before 1970 and after 2242 in PAX records GNU tar reads", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep-t");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "old.txt"), "old");
  await Deno.writeTextFile(join(dir, "future.txt"), "future");
  await run("touch", ["-d", "1960-01-01T00:00:00Z", join(dir, "old.txt")]);
  await run("touch", ["-d", "@99999999999", join(dir, "future.txt")]);
  for (const compression of ["gzip", "none"] as const) {
    const tar = join(tmp.path, `t-${compression}`);
    await packEpisode(dir, "ep-t", walkEpisode(dir), tar, { compression });
    const out = join(tmp.path, `out-${compression}`);
    await Deno.mkdir(out);
    await run("tar", ["-xf", tar, "-C", out]);
    const old = await Deno.stat(join(out, "ep-t", "old.txt"));
    const future = await Deno.stat(join(out, "ep-t", "future.txt"));
    assertEquals(old.mtime?.getTime(), Date.parse("1960-01-01T00:00:00Z"));
    // ext4 and tmpfs clamp @99999999999 to 2446, still beyond the octal field's 2242.
    const source = (await Deno.stat(join(dir, "future.txt"))).mtime?.getTime() ?? 0;
    assert(source > 0o77777777777 * 1000, `source time ${source}`);
    assertEquals(future.mtime?.getTime(), source);
  }
});

Deno.test("packEpisode() with an aborted signal rejects at once and leaves no file", async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  const out = join(tmp.path, "x.tar.gz");
  const error = await assertRejects(() =>
    packEpisode(dir, "ep-mix", walkEpisode(dir), out, { signal: AbortSignal.abort() })
  );
  assertEquals(error.name, "AbortError");
  assertEquals(await Deno.lstat(out).catch(() => null), null);
});

for (const compression of ["gzip", "zstd", "none"] as const) {
  Deno.test(`packEpisode() stops mid-file when its signal aborts, removing the partial file (${compression})`, async () => {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "ep-big");
    await Deno.mkdir(dir);
    const size = 64 * 1024 * 1024;
    await Deno.writeFile(join(dir, "big.bin"), new Uint8Array(0));
    await Deno.truncate(join(dir, "big.bin"), size);
    const out = join(tmp.path, "x.tar");
    const controller = new AbortController();
    let lastRead = 0;
    const error = await assertRejects(() =>
      packEpisode(dir, "ep-big", walkEpisode(dir), out, {
        compression,
        signal: controller.signal,
        onProgress: (read) => {
          lastRead = read;
          controller.abort();
        },
      })
    );
    assertEquals(error.name, "AbortError");
    assert(lastRead < size, `read ${lastRead} of ${size} bytes after the abort`);
    assertEquals(await Deno.lstat(out).catch(() => null), null);
  });
}

Deno.test("packEpisode() on a full disk says so with the path and removes the partial file", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep-r");
  await Deno.mkdir(dir);
  await Deno.writeFile(join(dir, "random.bin"), random(1024 * 1024));
  const mount = join(tmp.path, "small");
  await Deno.mkdir(mount);
  await run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount]);
  try {
    for (const compression of ["gzip", "none", "zstd"] as const) {
      const out = join(mount, `ep-r.${compression}`);
      const error = await assertRejects(() =>
        packEpisode(dir, "ep-r", walkEpisode(dir), out, { compression })
      );
      assertMatch(
        describeError(error),
        new RegExp(`^Cannot write tarball "${out}": No space left on device.*ENOSPC`),
      );
      assertEquals(await Array.fromAsync(Deno.readDir(mount)), []);
    }
  } finally {
    await run("umount", [mount]);
  }
});

/** An episode of one file of `bytes` made by a bash pipeline writing to "$1". */
async function episodeOf(root: string, name: string, script: string): Promise<string> {
  const dir = join(root, name);
  await Deno.mkdir(dir);
  await run("bash", ["-c", `set -e; ${script}`, "_", join(dir, "data")]);
  return dir;
}

// The bug of issue 12: base64 files were probed at zlib-ng level 1 (fixed Huffman codes), found
// incompressible and stored, so base64 episodes shipped at full size.
Deno.test("packEpisode() gzip compresses a base64 episode no larger than tar | gzip -3", async () => {
  await using tmp = await tempDir();
  const dir = await episodeOf(
    tmp.path,
    "ep-b64",
    'head -c 3000000 /dev/urandom | base64 -w 76 > "$1"',
  );
  const ours = join(tmp.path, "ours.tar.gz");
  const { size } = await packEpisode(dir, "ep-b64", walkEpisode(dir), ours);
  const gzip3 = Number(
    (await bash(`tar -C '${tmp.path}' -cf - ep-b64 | gzip -3 | wc -c`)).trim(),
  );
  assert(size <= gzip3, `ours ${size} B > gzip -3 ${gzip3} B`);
  await run("gzip", ["-t", ours]);
});

Deno.test("packEpisode() gzip never makes random or gzipped data larger than stored", async () => {
  await using tmp = await tempDir();
  const random = await episodeOf(tmp.path, "ep-r", 'head -c 5000000 /dev/urandom > "$1"');
  const gzipped = await episodeOf(
    tmp.path,
    "ep-g",
    'seq 1 2000000 | gzip -6 > "$1"',
  );
  for (const [dir, id] of [[random, "ep-r"], [gzipped, "ep-g"]] as const) {
    const plain = await packEpisode(dir, id, walkEpisode(dir), join(tmp.path, `${id}.tar`), {
      compression: "none",
    });
    const gz = await packEpisode(dir, id, walkEpisode(dir), join(tmp.path, `${id}.tar.gz`));
    // Stored deflate blocks cost 5 bytes per 64 KiB, gzip's header and trailer 18.
    assert(gz.size <= plain.size * 1.001, `${id}: gzip ${gz.size} B > stored ${plain.size} B`);
  }
});

Deno.test("packEpisode() reports progress up to the tree's total bytes", async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  const tree = walkEpisode(dir);
  for (const compression of ["gzip", "zstd", "none"] as const) {
    const seen: number[] = [];
    await packEpisode(dir, "ep-mix", tree, join(tmp.path, compression), {
      compression,
      onProgress: (done) => seen.push(done),
    });
    assert(seen.every((n, i) => i === 0 || n >= seen[i - 1]!), `${compression}: not monotonic`);
    assertEquals(seen.at(-1), tree.totalBytes, compression);
  }
});

Deno.test("packEpisode() reuses compressors without changing a byte (a stored tail, then text)", async () => {
  await using tmp = await tempDir();
  const text = await mixedEpisode(tmp.path);
  const stored = await episodeOf(tmp.path, "ep-z", 'head -c 200000 /dev/urandom > "$1"');
  const digest = async (dir: string, id: string, name: string, compression: "gzip" | "zstd") =>
    Buffer.from(
      (await packEpisode(dir, id, walkEpisode(dir), join(tmp.path, name), { compression })).sha256,
    ).toString("hex");
  for (const compression of ["gzip", "zstd"] as const) {
    const first = await digest(text, "ep-mix", `a-${compression}`, compression);
    // Ends with gzip switched to level 0: the pooled compressor must come back at its level.
    await digest(stored, "ep-z", `b-${compression}`, compression);
    assertEquals(await digest(text, "ep-mix", `c-${compression}`, compression), first);
  }
});

/** Whether strace can trace here (ptrace may be forbidden in a container): else ignored. */
const canTrace = (() => {
  try {
    return new Deno.Command("strace", { args: ["-o", "/dev/null", "true"], stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "packEpisode() with sync: false leaves the fsync to the caller",
  ignore: !canTrace,
}, async () => {
  await using tmp = await tempDir();
  const dir = await mixedEpisode(tmp.path);
  const child = new URL("./_pack_child.ts", import.meta.url).pathname;
  const fsyncs = async (sync: boolean) => {
    const out = join(tmp.path, `s-${sync}.tar.gz`);
    const log = join(tmp.path, `strace-${sync}`);
    await run("strace", [
      "-f",
      "-y",
      "-e",
      "trace=fsync,fdatasync",
      "-o",
      log,
      Deno.execPath(),
      "run",
      "--quiet",
      ...PERMISSION_FLAGS,
      child,
      dir,
      out,
      "gzip",
      ...(sync ? [] : ["--no-sync"]),
    ]);
    return (await Deno.readTextFile(log)).split("\n").filter((l) => l.includes(out)).length;
  };
  assertEquals(await fsyncs(true) >= 1, true, "the default must fsync the tarball");
  assertEquals(await fsyncs(false), 0);
});
