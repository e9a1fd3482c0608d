import { assert, assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";
import { workerFrames } from "../../src/pack/_zstd_workers.ts";
import { rawFrame, SEGMENT, segmentKind, WORKER_MIN_BYTES } from "../../src/pack/_zstd_frames.ts";
import { frameBound } from "../../src/pack/_zlib_sync.ts";
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

/** Each frame of a .zst file: its header descriptor byte and its blocks' types (0 = raw). */
function framesOf(bytes: Uint8Array): { descriptor: number; blocks: number[] }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: { descriptor: number; blocks: number[] }[] = [];
  let at = 0;
  while (at < bytes.length) {
    assertEquals(view.getUint32(at, true), 0xfd2fb528, `no frame magic at ${at}`);
    const descriptor = bytes[at + 4]!;
    const single = (descriptor >> 5) & 1, fcsFlag = descriptor >> 6, dictFlag = descriptor & 3;
    const fcsBytes = [single, 2, 4, 8][fcsFlag]!;
    at += 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]! + fcsBytes;
    const blocks: number[] = [];
    for (let last = 0; !last;) {
      const header = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
      last = header & 1;
      const type = (header >> 1) & 3, size = header >> 3;
      blocks.push(type);
      at += 3 + (type === 1 ? 1 : size); // an RLE block holds one byte
    }
    if (descriptor & 4) at += 4; // content checksum
    frames.push({ descriptor, blocks });
  }
  return frames;
}

Deno.test("rawFrame() writes a frame of raw blocks that zstd decodes to the same bytes", async () => {
  await using tmp = await tempDir();
  for (const size of [1, 128 * 1024, 128 * 1024 + 1, SEGMENT - 7, SEGMENT]) {
    const input = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(input.subarray(i, i + 65536));
    const out = new Uint8Array(frameBound(size));
    const length = rawFrame(input, out);
    assertEquals(length, 9 + 3 * Math.ceil(size / (128 * 1024)) + size, `${size} B`);
    const path = join(tmp.path, `raw-${size}.zst`);
    await Deno.writeFile(path, out.subarray(0, length));
    await run("zstd", ["-t", "-q", path]);
    const back = await new Deno.Command("zstd", { args: ["-d", "-c", path], stdout: "piped" })
      .output();
    assertEquals(hex(back.stdout), hex(input), `${size} B round trip`);
  }
});

Deno.test("segmentKind() stores only what looks incompressible at its middle and both ends", () => {
  const random = () => {
    const bytes = new Uint8Array(SEGMENT);
    for (let i = 0; i < SEGMENT; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    return bytes;
  };
  const text = new TextEncoder().encode("t,x\n1,0.5\n".repeat(SEGMENT / 10));
  assertEquals(segmentKind(random(), 1), "raw");
  assertEquals(segmentKind(text.subarray(0, SEGMENT), 1), "text");
  // Random in the middle, but a CSV file starts in the last 8 KiB: zstd gets to compress it.
  const tail = random();
  tail.set(text.subarray(0, 8 * 1024), SEGMENT - 8 * 1024);
  assertEquals(segmentKind(tail, 1), "mixed");
  const head = random();
  head.set(text.subarray(0, 8 * 1024), 0);
  assertEquals(segmentKind(head, 1), "mixed");
  // Too small to sample: compressed.
  assertEquals(segmentKind(random().subarray(0, 60 * 1024), 1), "mixed");
});

Deno.test("packEpisode() zstd stores random segments as raw frames, compresses text, zstd reads both", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "ep-mix");
  await Deno.mkdir(dir);
  await run("bash", ["-c", `head -c 5000000 /dev/urandom > '${join(dir, "a.bin")}'`]);
  await Deno.writeTextFile(join(dir, "b.csv"), "t,x\n1,0.5\n".repeat(300_000));
  const out = join(tmp.path, "mix.tar.zst");
  const tree = walkEpisode(dir);
  await packEpisode(dir, "ep-mix", tree, out, { compression: "zstd", workers: false });
  const frames = framesOf(await Deno.readFile(out));
  // The random file spans segments 1–4 whole: stored. The CSV's segments: compressed.
  const raw = frames.filter((f) => f.descriptor === 0xa0 && f.blocks.every((b) => b === 0));
  assert(raw.length >= 3, `${raw.length} raw frames of ${frames.length}`);
  assert(frames.at(-1)!.blocks.some((b) => b === 2), "the CSV's last frame is not compressed");
  const back = join(tmp.path, "back");
  await Deno.mkdir(back);
  await run("bash", ["-c", `zstd -d -c '${out}' | tar -xf - -C '${back}'`]);
  await run("diff", ["-r", dir, join(back, "ep-mix")]);
});
