import { assert, assertEquals } from "../support/assert.ts";
import { join } from "node:path";
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";
import { workerFrames } from "../../src/pack/_zstd_workers.ts";
import {
  rawFrame,
  SEGMENT,
  segmentKind,
  stridedRepeat,
  WORKER_MIN_BYTES,
} from "../../src/pack/_zstd_frames.ts";
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

/** `bytes` random bytes. */
function randomBytes(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

Deno.test("segmentKind() stores only one file's bytes that look incompressible everywhere it looks", () => {
  const text = new TextEncoder().encode("t,x\n1,0.5\n".repeat(SEGMENT / 10));
  assertEquals(segmentKind(randomBytes(SEGMENT), 1, true), "raw");
  assertEquals(segmentKind(text.subarray(0, SEGMENT), 1, true), "text");
  // A tar header or padding in it: a file boundary, so zstd decides, whatever the samples say.
  assertEquals(segmentKind(randomBytes(SEGMENT), 1, false), "mixed");
  // Random in the middle, but text in the last or first 8 KiB.
  const tail = randomBytes(SEGMENT);
  tail.set(text.subarray(0, 8 * 1024), SEGMENT - 8 * 1024);
  assertEquals(segmentKind(tail, 1, true), "mixed");
  const head = randomBytes(SEGMENT);
  head.set(text.subarray(0, 8 * 1024), 0);
  assertEquals(segmentKind(head, 1, true), "mixed");
  // One random 64 KiB block, repeated: every sample is random, the repeats are zstd's to find.
  const block = randomBytes(64 * 1024);
  const repeated = new Uint8Array(SEGMENT);
  for (let at = 0; at < SEGMENT; at += block.length) repeated.set(block, at);
  assertEquals(segmentKind(repeated, 1, true), "mixed");
  // Too small to sample: compressed.
  assertEquals(segmentKind(randomBytes(60 * 1024), 1, true), "mixed");
});

Deno.test("stridedRepeat() finds a block written twice at a distance the stride divides, not noise", () => {
  assertEquals(stridedRepeat(randomBytes(SEGMENT)), false);
  const twice = randomBytes(SEGMENT);
  twice.copyWithin(600 * 1024, 100 * 1024, 100 * 1024 + 4096); // a 4 KiB sector duplicated
  assertEquals(stridedRepeat(twice), true);
});

Deno.test("packEpisode() zstd stores a random file's whole segments as raw frames, compresses text, zstd reads both", async () => {
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

/**
 * An episode of `files` packed with zstd (no Worker) is no larger than what zstd -1 makes of its
 * tar, MiB by MiB as the packer frames it (raw frames are 9 + 3 bytes per block smaller than
 * zstd's: no checksum), and unpacks to the same files.
 */
async function assertPacksLikeZstd(files: Record<string, Uint8Array | string>): Promise<void> {
  await using scratch = await tempDir();
  const tmp = scratch.path;
  const dir = join(tmp, "ep");
  await Deno.mkdir(dir);
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(join(dir, name), content);
    else await Deno.writeFile(join(dir, name), content);
  }
  const tree = walkEpisode(dir);
  const out = join(tmp, "packed.tar.zst");
  const { size } = await packEpisode(dir, "ep", tree, out, { compression: "zstd", workers: false });
  const plain = join(tmp, "packed.tar");
  await packEpisode(dir, "ep", tree, plain, { compression: "none" });
  const tar = await Deno.readFile(plain);
  let zstd = 0;
  for (let at = 0; at < tar.length; at += SEGMENT) {
    zstd += zstdCompressSync(tar.subarray(at, at + SEGMENT), {
      params: {
        [zlibConstants.ZSTD_c_compressionLevel]: 1,
        [zlibConstants.ZSTD_c_checksumFlag]: 1,
      },
    }).length;
  }
  const back = join(tmp, "back");
  await Deno.mkdir(back);
  await run("bash", ["-c", `zstd -d -c '${out}' | tar -xf - -C '${back}'`]);
  await run("diff", ["-r", dir, join(back, "ep")]);
  assert(size <= zstd, `${size} B packed against ${zstd} B from zstd itself`);
}

Deno.test("packEpisode() zstd compresses as zstd would where files meet: text between random files", async () => {
  // The tar: the episode's and a.bin's headers (1 KiB), a.bin ending 210 KiB into the second
  // MiB, b.txt's 60 KiB of random decimal digits (zstd -1 takes ~18 KiB off that segment for
  // them; no 8-byte repeat for the strided check to see), then c.bin. The second segment starts and ends in random bytes, is random at
  // its middle and at all 16 probes (b.txt lies between the 4th and the 5th): only the file
  // boundary keeps the text from being stored.
  await assertPacksLikeZstd({
    "a.bin": randomBytes(SEGMENT + 210 * 1024 - 1024),
    "b.txt": randomBytes(60 * 1024).map((b) => 0x30 + b % 10),
    "c.bin": randomBytes(2 * SEGMENT),
  });
});

Deno.test("packEpisode() zstd compresses as zstd would inside a file: a block repeated", async () => {
  // A disk-image-like file: one random 256 KiB block twelve times. Every sample looks random;
  // only the strided repeat check sees what zstd would find.
  const block = randomBytes(256 * 1024);
  const image = new Uint8Array(12 * block.length);
  for (let i = 0; i < 12; i++) image.set(block, i * block.length);
  await assertPacksLikeZstd({ "disk.img": image });
});

Deno.test("packEpisode() zstd compresses as zstd would inside a file: text between the probes' old places", async () => {
  // One random file with 300 KiB of base64 inside it, in the second MiB of the tar, away from the
  // segment's middle and its ends: only probes spread over the segment see it.
  const data = randomBytes(3 * SEGMENT);
  const text = new TextEncoder().encode(Buffer.from(randomBytes(240_000)).toString("base64"));
  data.set(text.subarray(0, 300 * 1024), SEGMENT + 80 * 1024);
  await assertPacksLikeZstd({ "mixed.bin": data });
});

Deno.test("packEpisode() zstd stores a segment a file's body fills to its very end", async () => {
  await using tmp = await tempDir();
  // The episode's and a.bin's headers (1 KiB), then a.bin's body up to exactly 3 MiB: segments 1
  // and 2 are its bytes alone, and the next header must not count against segment 2.
  const dir = join(tmp.path, "ep");
  await Deno.mkdir(dir);
  await Deno.writeFile(join(dir, "a.bin"), randomBytes(3 * SEGMENT - 1024));
  await Deno.writeTextFile(join(dir, "b.txt"), "after\n");
  const out = join(tmp.path, "out.tar.zst");
  await packEpisode(dir, "ep", walkEpisode(dir), out, { compression: "zstd", workers: false });
  const frames = framesOf(await Deno.readFile(out));
  const raw = frames.flatMap((f, i) => f.descriptor === 0xa0 ? [i] : []);
  assertEquals(raw, [1, 2]);
});
