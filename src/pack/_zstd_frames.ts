/**
 * zstd output as one frame per {@linkcode SEGMENT} of tar bytes, made on the main thread or, for
 * segments that compress, in the shared Worker (see _zstd_workers.ts), and written in order.
 *
 * Where a frame is made never changes its bytes (the same function and parameters on both
 * threads), and the frame boundaries depend on the tar stream alone: the output is deterministic.
 * Random data stays on the main thread: zstd stores it as raw blocks about as fast as the bytes
 * could be sent to a Worker, and the Worker's memory is not paid for nothing.
 */
import { giveBuffers, takeBuffer } from "./_buffers.ts";
import { compressible } from "./compressible.ts";
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
/** Bytes of the middle of a segment that decide whether it goes to the Worker. */
const SAMPLE = 64 * 1024;
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
}

/** The zstd encoder the packer fills segment by segment. */
export class ZstdFrames {
  /** The segment the packer fills next (a different buffer after each flush, possibly). */
  buffer: Uint8Array = takeBuffer(SEGMENT);
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

  constructor(file: TarballFile, level: number, options: ZstdFramesOptions = {}) {
    this.#file = file;
    this.#level = level;
    this.#z = takeZlib("zstd", level);
    this.#workers = options.workers ?? true;
    this.#left = options.totalBytes ?? 0;
  }

  /** A free main-thread output buffer, a new one while fewer than the maximum exist, or null. */
  #freeMain(): { output: Uint8Array; free: boolean } | null {
    const free = this.#main.find((m) => m.free);
    if (free || this.#main.length >= MAIN_OUTPUTS) return free ?? null;
    const made = { output: takeBuffer(frameBound(SEGMENT)), free: true };
    this.#main.push(made);
    return made;
  }

  /** Frames `buffer[0, used)`; afterwards the packer fills {@linkcode buffer} from 0. */
  async flush(used: number): Promise<void> {
    if (used === 0) return;
    this.#left -= used;
    // A partial segment is the archive's last: never worth a Worker.
    const worker = used === SEGMENT ? this.#workerFor(this.buffer) : null;
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
      const size = this.#z.frame(this.buffer.subarray(0, used), m.output);
      this.#push(Promise.resolve(m.output.subarray(0, size)), () => m.free = true, true);
    }
    while (this.#pending[0]?.settled) await this.#writeHead();
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

  /** The Worker for a full segment that compresses, once started or while enough is left. */
  #workerFor(segment: Uint8Array) {
    if (!this.#workers) return null;
    if (!this.#releaseWorker && this.#left < WORKER_MIN_BYTES) return null;
    const middle = Math.max(0, (segment.length >> 1) - SAMPLE / 2);
    if (!compressible(segment.subarray(middle, middle + SAMPLE), { level: this.#level })) {
      return null;
    }
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
