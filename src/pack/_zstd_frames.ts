/**
 * zstd output as one frame per {@linkcode SEGMENT} of tar bytes, made on the main thread or, for
 * segments that compress, in the shared Worker (see _zstd_workers.ts), and written in order.
 *
 * Where a frame is made never changes its bytes (the same function and parameters on both
 * threads), and the frame boundaries depend on the tar stream alone: the output is deterministic.
 * A segment that lies within one file's bytes and looks incompressible (random data, media, data
 * already compressed) becomes a frame of raw blocks written here ({@linkcode rawFrame}): zstd
 * would store it as raw blocks too, after trying (see {@linkcode segmentKind} for what "looks"
 * means and what it can miss).
 */
import { giveBuffers, takeBuffer } from "../fs/buffers.ts";
import { byteEntropy, compressible } from "./compressible.ts";
import type { TarballFile } from "./_tarball_file.ts";
import { frameBound, giveZlib, type SyncZlib, takeZlib } from "./_zlib_sync.ts";
import { type FrameResult, frameWorker, useFrameWorker } from "./_zstd_workers.ts";

/**
 * Tar bytes per zstd frame. Measured on 64 MiB of CSV at level 3: 1 MiB frames gave 43.9 % in
 * 0.81 s of CPU, 2 MiB 44.3 % in 1.01 s, 8 MiB 44.6 % in 1.13 s, one frame 44.6 % in 0.91 s (zstd
 * sizes its tables to a frame whose size it knows), and they halve the buffers of 2 MiB frames.
 */
export const SEGMENT = 1024 * 1024;
/**
 * Output buffers for frames made on the main thread, allocated as needed: two suffice when every
 * frame is made here (one written, one filled); with the Worker busy, the main thread goes on
 * framing into the others instead of waiting for the Worker's frame at the head of the queue.
 */
const MAIN_OUTPUTS = 4;
/** Jobs (and buffer pairs) the Worker may hold at once for one pack. */
const WORKER_SLOTS = 3;
/** Bytes of the middle of a segment that decide whether it goes to the Worker or is stored. */
const SAMPLE = 64 * 1024;
/**
 * Probes spread over a segment, first and last bytes included, that must all look random before
 * it is stored: 16 of 4 KiB, 64 KiB apart in a full segment. A 4 KiB sample of random bytes
 * measures 7.955 ± 0.01 bits per byte (the estimate runs low on few bytes); text, base64 and
 * records with constant fields measure 6.6 or less.
 */
const PROBES = 16;
const PROBE_BYTES = 4 * 1024;
const PROBE_RANDOM_BITS = 7.9;
/** Stride of the 8-byte keys that look for repeats across a segment before it is stored. */
const REPEAT_STRIDE = 512;
const REPEAT_BITS = 12;
const repeatSlots = new Int32Array(1 << REPEAT_BITS);
/** zstd's largest block (RFC 8878 §3.1.1.2.4): a raw block holds at most this much. */
const BLOCK_MAX = 128 * 1024;
/**
 * The Worker is started only while at least this much of the episode is still to be packed:
 * starting one costs ~60–100 ms of CPU and 12–18 MB, about what framing 8 MiB of text at level 3
 * costs on the main thread. Smaller episodes, and the tail of any, never start one.
 */
export const WORKER_MIN_BYTES = 16 * 1024 * 1024;

/** A frame made or being made, to be written in order. */
interface Pending {
  frame: Promise<Uint8Array>;
  /** Called once the frame is on disk: its buffers may be reused. */
  release: () => void;
  settled: boolean;
}

/** Buffers of one Worker job: away (null) while the Worker holds them. */
interface WorkerSlot {
  input: ArrayBuffer | null;
  output: ArrayBuffer | null;
  free: boolean;
}

/** Options for {@linkcode ZstdFrames}. */
export interface ZstdFramesOptions {
  /** Whether compressible segments may go to a Worker. @default {true} */
  workers?: boolean;
  /** File bytes the episode holds (see {@linkcode WORKER_MIN_BYTES}). @default {0} */
  totalBytes?: number;
  /**
   * The segment buffer's size: less than {@linkcode SEGMENT} only for an archive that fits in it
   * whole, which is then one frame as it would be in a 1 MiB buffer. @default {SEGMENT}
   */
  capacity?: number;
}

/**
 * Whether 8 bytes at some multiple of {@linkcode REPEAT_STRIDE} recur at another: a block written
 * twice (a disk image's duplicate sectors, a file repeated) at a distance the stride divides, which
 * zstd would find and the samples cannot see. Random bytes have none (2,048 keys per MiB).
 */
export function stridedRepeat(segment: Uint8Array): boolean {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  repeatSlots.fill(-1);
  for (let at = 0; at + 8 <= segment.length; at += REPEAT_STRIDE) {
    const lo = view.getUint32(at, true), hi = view.getUint32(at + 4, true);
    const slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - REPEAT_BITS);
    const earlier = repeatSlots[slot]!;
    if (
      earlier >= 0 && view.getUint32(earlier, true) === lo &&
      view.getUint32(earlier + 4, true) === hi
    ) {
      return true;
    }
    repeatSlots[slot] = at;
  }
  return false;
}

/** Whether every one of {@linkcode PROBES} probes spread over `segment` looks random. */
function probesRandom(segment: Uint8Array): boolean {
  const step = (segment.length - PROBE_BYTES) / (PROBES - 1);
  for (let i = 0; i < PROBES; i++) {
    const at = Math.round(i * step);
    if (byteEntropy(segment.subarray(at, at + PROBE_BYTES)) < PROBE_RANDOM_BITS) return false;
  }
  return true;
}

/**
 * What a segment's bytes look like: "text" when its middle {@linkcode SAMPLE} compresses; "raw"
 * (stored as raw blocks) only when it lies within one file's bytes (`withinFile`: no tar header or
 * padding in it), its middle does not compress, every one of {@linkcode PROBES} probes spread over
 * it looks random, and no 8-byte key recurs ({@linkcode stridedRepeat}); else "mixed", left to
 * zstd. A segment that holds a file boundary is never stored: small text files between random
 * ones keep their compression, and so do identical files. What neither the probes nor the stride
 * can see inside one file (text shorter than the 60 KiB between two probes, repeats at a distance
 * that is not a multiple of 512 bytes) is stored.
 */
export function segmentKind(
  segment: Uint8Array,
  level: number,
  withinFile: boolean,
): "text" | "raw" | "mixed" {
  const n = segment.length;
  if (n < SAMPLE) return "mixed";
  const middle = (n >> 1) - SAMPLE / 2;
  if (compressible(segment.subarray(middle, middle + SAMPLE), { level })) return "text";
  if (!withinFile) return "mixed";
  return probesRandom(segment) && !stridedRepeat(segment) ? "raw" : "mixed";
}

/**
 * Writes `input` into `out` as one zstd frame of raw blocks and returns the frame's length:
 * magic, a single-segment header with the 4-byte content size, then a 3-byte header before
 * every {@linkcode BLOCK_MAX} bytes (RFC 8878 §3.1.1). No content checksum: the tarball's
 * SHA-256 covers the bytes. `out` needs `frameBound(input.length)` bytes.
 */
export function rawFrame(input: Uint8Array, out: Uint8Array): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = 0xa0; // Frame_Content_Size_flag 2 (4 bytes), Single_Segment_flag
  view.setUint32(5, input.length, true);
  let at = 9, offset = 0;
  do {
    const size = Math.min(BLOCK_MAX, input.length - offset);
    const last = offset + size === input.length ? 1 : 0;
    const header = (size << 3) | last; // Block_Type 0: Raw_Block
    out[at] = header & 0xff;
    out[at + 1] = (header >> 8) & 0xff;
    out[at + 2] = header >> 16;
    out.set(input.subarray(offset, offset + size), at + 3);
    at += 3 + size;
    offset += size;
  } while (offset < input.length);
  return at;
}

/** The zstd encoder the packer fills segment by segment. */
export class ZstdFrames {
  /** The segment the packer fills next (a different buffer after each flush, possibly). */
  buffer: Uint8Array;
  readonly #file: TarballFile;
  readonly #level: number;
  readonly #z: SyncZlib;
  readonly #main: { output: Uint8Array; free: boolean }[] = [];
  readonly #slots: WorkerSlot[] = [];
  readonly #pending: Pending[] = [];
  readonly #workers: boolean;
  /** File bytes not yet framed (tar headers counted too: an estimate that only errs low). */
  #left: number;
  #releaseWorker: (() => void) | null = null;
  /** Whether the segment being filled holds tar headers or padding. */
  #boundary = false;
  /** {@linkcode SEGMENT}, or less for an archive smaller than that: its one segment. */
  readonly #capacity: number;

  constructor(file: TarballFile, level: number, options: ZstdFramesOptions = {}) {
    this.#file = file;
    this.#level = level;
    this.#z = takeZlib("zstd", level);
    this.#workers = options.workers ?? true;
    this.#left = options.totalBytes ?? 0;
    this.#capacity = Math.min(options.capacity ?? SEGMENT, SEGMENT);
    this.buffer = takeBuffer(this.#capacity);
  }

  /** A free main-thread output buffer, a new one while fewer than the maximum exist, or null. */
  #freeMain(): { output: Uint8Array; free: boolean } | null {
    const free = this.#main.find((m) => m.free);
    if (free || this.#main.length >= MAIN_OUTPUTS) return free ?? null;
    const made = { output: takeBuffer(frameBound(this.#capacity)), free: true };
    this.#main.push(made);
    return made;
  }

  /** Frames `buffer[0, used)`; afterwards the packer fills {@linkcode buffer} from 0. */
  async flush(used: number): Promise<void> {
    if (used === 0) return;
    this.#left -= used;
    const segment = this.buffer.subarray(0, used);
    const kind = segmentKind(segment, this.#level, !this.#boundary);
    this.#boundary = false;
    // A partial segment is the archive's last: never worth a Worker.
    const worker = kind === "text" && used === SEGMENT ? this.#workerFor() : null;
    const slot = worker ? this.#slots.find((s) => s.free) : undefined;
    if (worker && slot?.input && slot.output) {
      slot.free = false;
      const input = this.buffer.buffer as ArrayBuffer;
      this.buffer = new Uint8Array(slot.input);
      const job = worker.frame(this.#level, input, used, slot.output);
      slot.input = slot.output = null;
      this.#push(
        job.then((r: FrameResult) => {
          slot.input = r.input;
          slot.output = r.output;
          return new Uint8Array(r.output, 0, r.size);
        }),
        () => slot.free = true,
      );
    } else {
      let main = this.#freeMain();
      while (!main) {
        await this.#writeHead();
        main = this.#freeMain();
      }
      const m = main;
      m.free = false;
      const size = kind === "raw" ? rawFrame(segment, m.output) : this.#z.frame(segment, m.output);
      this.#push(Promise.resolve(m.output.subarray(0, size)), () => m.free = true, true);
    }
    while (this.#pending[0]?.settled) await this.#writeHead();
  }

  /** The packer put tar headers or padding into the segment being filled. */
  boundary(): void {
    this.#boundary = true;
  }

  /** Writes every frame still pending. */
  async end(): Promise<void> {
    while (this.#pending.length > 0) await this.#writeHead();
    await this.#file.drain();
  }

  /** Gives the compressor back (or closes it after a failure) and lets the Worker go. */
  close(ok: boolean): void {
    this.#releaseWorker?.();
    this.#releaseWorker = null;
    // Frames are complete units: the compressor is reusable unless a frame failed inside it.
    if (ok) giveZlib(this.#z);
    else this.#z.close();
    giveBuffers(this.buffer, ...this.#main.map((m) => m.output));
  }

  /** The Worker for a full segment of text, once started or while enough is left. */
  #workerFor() {
    if (!this.#workers) return null;
    if (!this.#releaseWorker && this.#left < WORKER_MIN_BYTES) return null;
    if (!this.#releaseWorker) {
      this.#releaseWorker = useFrameWorker();
      for (let i = 0; i < WORKER_SLOTS; i++) {
        const bound = frameBound(SEGMENT);
        this.#slots.push({
          input: new ArrayBuffer(SEGMENT),
          output: new ArrayBuffer(bound),
          free: true,
        });
      }
    }
    return frameWorker();
  }

  /** Queues a frame for writing in order; `settled`: it is made already (main thread). */
  #push(frame: Promise<Uint8Array>, release: () => void, settled = false): void {
    const pending: Pending = { frame, release, settled };
    frame.then(() => pending.settled = true, () => pending.settled = true);
    this.#pending.push(pending);
  }

  async #writeHead(): Promise<void> {
    const head = this.#pending.shift();
    if (!head) return await this.#file.drain();
    await this.#file.write(await head.frame, head.release);
  }
}
