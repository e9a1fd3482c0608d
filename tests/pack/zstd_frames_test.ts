import { assert, assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";
import { workerFrames } from "../../src/pack/_zstd_workers.ts";
import { SEGMENT, WORKER_MIN_BYTES } from "../../src/pack/_zstd_frames.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import { tempDir } from "../../devkit/fixtures.ts";

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Compressible text for many segments (enough for the Worker), a random file between. */
async function textEpisode(root: string): Promise<string> {
  const dir = join(root, "ep-text");
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  const lines = (from: number) =>
    Array.from({ length: 250_000 }, (_, i) => `${from + i},${Math.sin(from + i).toFixed(6)}\n`)
      .join("");
  for (let f = 0; f < 5; f++) await Deno.writeTextFile(join(dir, "logs", `${f}.csv`), lines(f));
  await run("bash", ["-c", `head -c 3000000 /dev/urandom > '${join(dir, "logs", "1b.bin")}'`]);
  await Deno.writeTextFile(join(dir, "meta.json"), "{}");
  return dir;
}

Deno.test("packEpisode() zstd gives the same frames with or without the Worker, and zstd reads them", async () => {
  await using tmp = await tempDir();
  const dir = await textEpisode(tmp.path);
  const tree = walkEpisode(dir);
  assert(tree.totalBytes > WORKER_MIN_BYTES + 4 * SEGMENT, `${tree.totalBytes} B: too small`);
  const before = workerFrames();
  const withWorker = join(tmp.path, "w.tar.zst"), without = join(tmp.path, "m.tar.zst");
  const a = await packEpisode(dir, "ep-text", tree, withWorker, { compression: "zstd" });
  assert(workerFrames() > before, "the Worker made no frame");
  const b = await packEpisode(dir, "ep-text", tree, without, {
    compression: "zstd",
    workers: false,
  });
  assertEquals(hex(a.sha256), hex(b.sha256));
  await run("zstd", ["-t", "-q", withWorker]);
  // One frame per segment: `zstd -l` counts them.
  const frames = Number(
    /^\s*(\d+)\s/m.exec((await run("zstd", ["-l", withWorker])).split("\n")[1]!)?.[1],
  );
  assert(frames >= 4, `${frames} frames`);
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await run("bash", ["-c", `zstd -d -c '${withWorker}' | tar -xf - -C '${out}'`]);
  await run("diff", ["-r", dir, join(out, "ep-text")]);
});

Deno.test("packEpisode() zstd makes frames in its Worker under the binary's permission flags", async () => {
  await using tmp = await tempDir();
  const dir = await textEpisode(tmp.path);
  const out = join(tmp.path, "child.tar.zst");
  const child = new URL("./_pack_child.ts", import.meta.url).pathname;
  const printed = await run(Deno.execPath(), [
    "run",
    "--quiet",
    ...PERMISSION_FLAGS,
    child,
    dir,
    out,
    "zstd",
  ]);
  const { sha256, workerFrames: frames } = JSON.parse(printed);
  assert(frames > 0, `the Worker made ${frames} frames: ${printed}`);
  const here = await packEpisode(dir, "ep-text", walkEpisode(dir), join(tmp.path, "here.zst"), {
    compression: "zstd",
    workers: false,
  });
  assertEquals(sha256, hex(here.sha256));
  await run("zstd", ["-t", "-q", out]);
});
