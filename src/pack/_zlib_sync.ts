/**
 * Synchronous gzip and zstd compressors that write into buffers the caller owns and reuses.
 *
 * Why not the `node:zlib` streams: a Transform allocates a new output Buffer for every chunk it
 * emits (64 KiB by default), and V8 frees that external memory only under pressure, after ~64 MiB
 * has piled up (`--trace-gc`: every collection an "external memory pressure" scavenge); the stream
 * also costs one async round trip per chunk. Instead this drives the stream's native handle exactly
 * as `node:zlib`'s own synchronous path (`processChunkSync`) does: `handle.writeSync(flush, in,
 * inOff, inLen, out, outOff, outLen)`, after which the stream's `_writeState` holds
 * `[availOutAfter, availInAfter]`. The input is consumed into the compressor's own window when the
 * call returns, so the caller may refill it at once. Those are internals of Deno 2.9.6's
 * `node:zlib` (the same as Node's): {@linkcode SyncZlib} checks that they are there and says so if
 * a Deno upgrade removes them; the pack tests round-trip every path through gzip/zstd/GNU tar.
 *
 * Compressors are pooled per kind and level and reset between uses: a backlog of small episodes
 * compresses each in one call on a warm compressor instead of creating one stream per episode.
 */
import { constants as zlib, createGzip, createZstdCompress } from "node:zlib";

/** The native handle behind a `node:zlib` stream (internal to node:zlib). */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  params?(level: number, strategy: number): void;
  reset(): void;
}

/** What this module reads of a `node:zlib` stream object. */
interface StreamInternals {
  _handle?: NativeHandle | null;
  _writeState?: Uint32Array;
  destroyed: boolean;
  errored: Error | null;
  close(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** gzip (one stream, level switchable) or zstd (a frame per {@linkcode SyncZlib.frame} call). */
export type ZlibKind = "gzip" | "zstd";

/** Flush modes, per kind: keep going, make everything so far decodable, end the stream/frame. */
export const FLUSH: Readonly<Record<ZlibKind, { none: number; sync: number; end: number }>> = {
  gzip: { none: zlib.Z_NO_FLUSH, sync: zlib.Z_SYNC_FLUSH, end: zlib.Z_FINISH },
  zstd: { none: zlib.ZSTD_e_continue, sync: zlib.ZSTD_e_flush, end: zlib.ZSTD_e_end },
};

/** A compressor driven synchronously; one per pack at a time (see {@linkcode takeZlib}). */
export class SyncZlib {
  readonly #stream: StreamInternals;
  readonly #handle: NativeHandle;
  readonly #state: Uint32Array;
  /** Input bytes not consumed by the last {@linkcode step}. */
  availIn = 0;
  /** Output space left by the last {@linkcode step}. */
  availOut = 0;
  #level: number;

  constructor(readonly kind: ZlibKind, readonly level: number) {
    const stream = (kind === "gzip" ? createGzip({ level }) : createZstdCompress({
      params: { [zlib.ZSTD_c_compressionLevel]: level, [zlib.ZSTD_c_checksumFlag]: 1 },
    })) as unknown as StreamInternals;
    // Errors are read from `errored` after each call; the listener only keeps them unhandled-free.
    stream.on("error", () => {});
    const handle = stream._handle, state = stream._writeState;
    if (!handle || typeof handle.writeSync !== "function" || !(state instanceof Uint32Array)) {
      throw new Error(
        `Cannot drive node:zlib ${kind} synchronously: this Deno (${Deno.version.deno}) lacks the stream internals the packer uses`,
      );
    }
    this.#stream = stream;
    this.#handle = handle;
    this.#state = state;
    this.#level = level;
  }

  /**
   * One compressor call: consumes what it can of `input[inOffset, inOffset + inLength)` into
   * `out[outOffset…]`; returns the output bytes written. {@linkcode availIn} and
   * {@linkcode availOut} say what is left; call again while `availOut === 0`.
   */
  step(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    out: Uint8Array,
    outOffset: number,
  ): number {
    const space = out.length - outOffset;
    this.#handle.writeSync(flush, input, inOffset, inLength, out, outOffset, space);
    if (this.#stream.destroyed) {
      throw this.#stream.errored ??
        new Error(`Cannot compress with ${this.kind}: the stream closed`);
    }
    this.availOut = this.#state[0]!;
    this.availIn = this.#state[1]!;
    return space - this.availOut;
  }

  /**
   * Compresses all of `input` as one complete zstd frame into `out` (which must hold
   * `frameBound(input.length)` bytes); returns the frame's length. The same call on any thread
   * gives the same bytes, which keeps packing deterministic wherever a frame is made.
   */
  frame(input: Uint8Array, out: Uint8Array): number {
    return compressFrame(this, input, out, FLUSH.zstd.end);
  }

  /** gzip only: switches level for what follows; everything before is flushed first. */
  setLevel(level: number): void {
    if (level === this.#level) return;
    if (!this.#handle.params) throw new Error(`Cannot change the level of ${this.kind}`);
    this.#handle.params(level, zlib.Z_DEFAULT_STRATEGY);
    this.#level = level;
  }

  /** Starts a new stream with the level the compressor was made with. */
  reset(): void {
    this.#handle.reset();
    if (this.#level !== this.level) this.setLevel(this.level);
  }

  close(): void {
    this.#stream.close();
  }
}

/** Something with the shape of {@linkcode SyncZlib.step}: here or in a Worker. */
export interface Stepper {
  availIn: number;
  availOut: number;
  step(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    out: Uint8Array,
    outOffset: number,
  ): number;
}

/**
 * One whole zstd frame of `input` into `out`. Self-contained (no imports, no outer names): the
 * zstd Worker runs this very function's source, so a frame is the same bytes on either thread.
 */
export function compressFrame(z: Stepper, input: Uint8Array, out: Uint8Array, end: number): number {
  let used = 0, offset = 0, left = input.length;
  for (;;) {
    used += z.step(end, input, offset, left, out, used);
    offset += left - z.availIn;
    left = z.availIn;
    if (z.availOut !== 0 && left === 0) return used;
    if (used === out.length) {
      throw new RangeError("Cannot compress a zstd frame: its buffer is full");
    }
  }
}

/** Bytes a zstd frame of `size` input bytes can need (ZSTD_COMPRESSBOUND, plus header slack). */
export function frameBound(size: number): number {
  return size + (size >> 8) + 1024;
}

const IDLE_PER_KEY = 4;
const idle = new Map<string, SyncZlib[]>();

/** A reset compressor of `kind` at `level`, from the pool or new; give it back with `giveZlib`. */
export function takeZlib(kind: ZlibKind, level: number): SyncZlib {
  return idle.get(`${kind}:${level}`)?.pop() ?? new SyncZlib(kind, level);
}

/**
 * Returns a compressor to the pool after a complete stream or frame (it is reset here); one that
 * failed mid-stream must be closed instead, since its state is unknown.
 */
export function giveZlib(z: SyncZlib): void {
  const key = `${z.kind}:${z.level}`;
  const list = idle.get(key) ?? [];
  if (list.length >= IDLE_PER_KEY) return z.close();
  z.reset();
  list.push(z);
  idle.set(key, list);
}
