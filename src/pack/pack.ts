/**
 * Episode directory → deterministic tarball, written to disk with its SHA-256 computed on the way.
 *
 * Same directory, same bytes: entries depth first with siblings sorted, uid/gid 0, no user or
 * group names, PAX headers for long names and out-of-range times, and compression decisions that
 * depend on the bytes alone. gzip is adaptive: one gzip stream, but a file whose first 64 KiB do
 * not compress (entropy first, see compressible.ts) is stored (zlib level 0) rather than deflated.
 * zstd is one frame per 1 MiB of tar, made in a Worker where the bytes compress.
 *
 * Memory stays flat and nothing is garbage per chunk: the packer fills reused 1 MiB buffers, the
 * compressors run synchronously into reused output buffers (_zlib_sync.ts), and one write is in
 * flight while the next chunk is read, compressed and hashed (_tarball_file.ts). Every file and
 * directory is opened without following symlinks and checked to be the one the walk saw.
 */
import { closeSync, readSync } from "node:fs";
import {
  EpisodeChangedError,
  openSame,
  pathAt,
  type Tree,
  type TreeEntry,
} from "../episodes/walk.ts";
import { type Compression, COMPRESSION_FORMAT, DEFAULT_COMPRESSION } from "../protocol/protocol.ts";
import { compressible } from "./compressible.ts";
import { TarballFile } from "./_tarball_file.ts";
import { giveBuffers, sizeFor, takeBuffer } from "../fs/buffers.ts";
import { END_OF_ARCHIVE, entryBound, entryHeader, padding, type TarEntryHeader } from "./_tar.ts";
import { FLUSH, giveZlib, type SyncZlib, takeZlib } from "./_zlib_sync.ts";
import { ZstdFrames } from "./_zstd_frames.ts";

export { EpisodeChangedError };

/** Options for {@linkcode packEpisode}. */
export interface PackOptions {
  /** @default {DEFAULT_COMPRESSION} ("gzip") */
  compression?: Compression;
  /**
   * gzip 1–9 (applied to the files that compress), zstd 1–19; none takes no level.
   * @default {COMPRESSION_FORMAT[compression].levels.default}
   */
  level?: number;
  /**
   * fsync the tarball before resolving. `false` leaves it to the caller, which may sync a batch
   * of tarballs at once (group commit) before it renames them into place.
   * @default {true}
   */
  sync?: boolean;
  /** zstd: compressible segments may be framed in a Worker thread. @default {true} */
  workers?: boolean;
  /** Stops packing between chunks and entries; the partial file is removed. */
  signal?: AbortSignal;
  /** Told about each entry that is skipped (sockets, FIFOs, devices). */
  onSkip?: (relPath: string) => void;
  /** Told the file bytes read so far (of `tree.totalBytes`), after each read. */
  onProgress?: (doneBytes: number) => void;
  /**
   * The packer's buffer size, for tests that compare it with the default's bytes.
   * @default {capacityFor(episodeId, tree)}
   */
  capacity?: number;
}

/** The packed tarball's size and digest. */
export interface PackResult {
  size: number;
  sha256: Uint8Array;
}

/** The read size for large files, and the size of every gzip/none buffer. */
const CHUNK = 1024 * 1024;
/** How much of a file decides whether gzip deflates or stores it. */
const PROBE = 64 * 1024;
/** Files smaller than this keep the current gzip mode: probing them costs more than it saves. */
const TINY = 4 * 1024;

/** Takes the tar bytes the packer gathers, buffer by buffer. */
interface Encoder {
  /** The buffer the packer fills next; it may be a different one after each flush. */
  readonly buffer: Uint8Array;
  /** Takes `buffer[0, used)`; afterwards the packer fills `buffer` from 0 again. */
  flush(used: number): Promise<void>;
  /** gzip only: stores (level 0) or deflates what follows; called right after a flush. */
  store?(stored: boolean): Promise<void>;
  /** zstd only: the buffer being filled holds tar headers or padding, not one file's bytes alone. */
  boundary?(): void;
  /** After the last flush: ends the stream and waits for the last write. */
  end(): Promise<void>;
  /** Frees compressors; `ok` is false after a failure (their state is then unknown). */
  close(ok: boolean): void;
}

/** Uncompressed: the packer fills one of two buffers while the other is written. */
class PlainEncoder implements Encoder {
  readonly #buffers: Uint8Array[];
  #index = 0;
  constructor(readonly file: TarballFile, capacity: number) {
    this.#buffers = [takeBuffer(capacity), takeBuffer(capacity)];
  }
  get buffer(): Uint8Array {
    return this.#buffers[this.#index]!;
  }
  async flush(used: number): Promise<void> {
    if (used === 0) return;
    await this.file.write(this.buffer.subarray(0, used));
    this.#index ^= 1;
  }
  end(): Promise<void> {
    return this.file.drain();
  }
  close(): void {
    giveBuffers(...this.#buffers);
  }
}

/** One gzip stream, deflated into one of two output buffers while the other is written. */
class GzipEncoder implements Encoder {
  readonly buffer: Uint8Array;
  readonly #outputs: Uint8Array[];
  #index = 0;
  #used = 0;
  readonly #z: SyncZlib;
  constructor(readonly file: TarballFile, readonly level: number, capacity: number) {
    this.buffer = takeBuffer(capacity);
    // Room for all of it stored: zlib's stored blocks follow the output space, so a stream that
    // never runs out of it has the same bytes whatever the buffer's size.
    const output = capacity < CHUNK ? sizeFor(capacity + (capacity >> 3) + 1024, CHUNK) : CHUNK;
    this.#outputs = [takeBuffer(output), takeBuffer(output)];
    this.#z = takeZlib("gzip", level);
  }

  /** Feeds `input[0, length)` with `flush` until all of it is in and the output is drained. */
  async #feed(flush: number, input: Uint8Array, length: number): Promise<void> {
    let offset = 0;
    for (;;) {
      const out = this.#outputs[this.#index]!;
      this.#used += this.#z.step(flush, input, offset, length, out, this.#used);
      offset += length - this.#z.availIn;
      length = this.#z.availIn;
      if (this.#z.availOut === 0) {
        await this.file.write(out);
        this.#index ^= 1;
        this.#used = 0;
      } else if (length === 0) return;
    }
  }

  flush(used: number): Promise<void> {
    return used === 0 ? Promise.resolve() : this.#feed(FLUSH.gzip.none, this.buffer, used);
  }

  async store(stored: boolean): Promise<void> {
    // zlib's params() wants what came before flushed to a block boundary first.
    await this.#feed(FLUSH.gzip.sync, this.buffer, 0);
    this.#z.setLevel(stored ? 0 : this.level);
  }

  async end(): Promise<void> {
    await this.#feed(FLUSH.gzip.end, this.buffer, 0);
    await this.file.write(this.#outputs[this.#index]!.subarray(0, this.#used));
    await this.file.drain();
  }

  close(ok: boolean): void {
    if (ok) giveZlib(this.#z);
    else this.#z.close();
    giveBuffers(this.buffer, ...this.#outputs);
  }
}

/** Gathers archive bytes into the encoder's buffer, flushing each full one. */
class Packer {
  readonly probe = takeBuffer(PROBE);
  #used = 0;
  #stored = false;
  #read = 0;
  constructor(readonly encoder: Encoder, readonly options: PackOptions) {}

  /**
   * Adds archive bytes: headers, padding, the end marker, and gzip's probed first bytes of a
   * file. Marks a boundary for zstd, which never has a probe: there it is never a file's own.
   */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      // A buffer a file's body filled to the end goes first, unmarked: only what follows is ours.
      if (this.#used === this.encoder.buffer.length) await this.flush();
      this.encoder.boundary?.();
      const buffer = this.encoder.buffer;
      const n = Math.min(buffer.length - this.#used, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + n), this.#used);
      this.#used += n;
      offset += n;
      if (this.#used === buffer.length) await this.flush();
    }
  }

  /**
   * Reads the `count` bytes left of `fd` straight into the buffer and checks the file ends there:
   * each read asks for one byte more than is left, so a short read proves the end in one call.
   */
  async copy(fd: number, count: number, entry: TreeEntry): Promise<void> {
    let remaining = count, ended = false;
    while (remaining > 0) {
      this.options.signal?.throwIfAborted();
      let buffer = this.encoder.buffer;
      if (this.#used === buffer.length) {
        await this.flush();
        buffer = this.encoder.buffer;
      }
      const want = Math.min(buffer.length - this.#used, remaining + 1);
      const n = readSync(fd, buffer, this.#used, want, null);
      if (n === 0) throw new EpisodeChangedError(entry.relPath, `shrank below ${entry.size} bytes`);
      if (n > remaining) {
        throw new EpisodeChangedError(entry.relPath, `grew beyond ${entry.size} bytes`);
      }
      this.#used += n;
      remaining -= n;
      ended = n < want;
      this.counted(n);
    }
    if (!ended && readSync(fd, this.probe, 0, 1, null) !== 0) {
      throw new EpisodeChangedError(entry.relPath, `grew beyond ${entry.size} bytes`);
    }
  }

  counted(n: number): void {
    this.#read += n;
    this.options.onProgress?.(this.#read);
  }

  async flush(): Promise<void> {
    const used = this.#used;
    this.#used = 0;
    await this.encoder.flush(used);
  }

  /** Switches gzip to storing or deflating; a no-op when already so. */
  async store(stored: boolean): Promise<void> {
    if (!this.encoder.store || stored === this.#stored) return;
    await this.flush();
    await this.encoder.store(stored);
    this.#stored = stored;
  }
}

function headerFor(episodeId: string, entry: TreeEntry): TarEntryHeader {
  const name = entry.relPath ? `${episodeId}/${entry.relPath}` : episodeId;
  const common = { mtime: entry.mtimeS, mode: entry.mode, size: 0 };
  if (entry.kind === "directory") return { ...common, name: `${name}/`, type: "directory" };
  if (entry.kind === "symlink") {
    return { ...common, name, type: "symlink", linkname: entry.linkTarget ?? "" };
  }
  return { ...common, name, type: "file", size: entry.size };
}

/** Reads until `buffer` holds `count` bytes or the file ends; returns the bytes read. */
function readFully(fd: number, buffer: Uint8Array, count: number): number {
  let got = 0;
  while (got < count) {
    const n = readSync(fd, buffer, got, count - got, null);
    if (n === 0) break;
    got += n;
  }
  return got;
}

async function writeFile(
  packer: Packer,
  fd: number,
  entry: TreeEntry,
  header: Uint8Array,
  level: number | null,
): Promise<void> {
  let probed = 0;
  if (level !== null && entry.size >= TINY) {
    const want = Math.min(entry.size, PROBE);
    probed = readFully(fd, packer.probe, want);
    if (probed < want) {
      throw new EpisodeChangedError(entry.relPath, `shrank below ${entry.size} bytes`);
    }
    packer.counted(probed);
    await packer.store(!compressible(packer.probe.subarray(0, probed), { level }));
  }
  await packer.write(header);
  if (probed > 0) await packer.write(packer.probe.subarray(0, probed));
  await packer.copy(fd, entry.size - probed, entry);
  await packer.write(padding(entry.size));
}

/**
 * Writes every entry of `tree`, opening each through its parent's descriptor. `adaptiveLevel`:
 * the gzip level files that compress get (others are stored); null for zstd and none.
 */
async function writeArchive(
  packer: Packer,
  episodeDir: string,
  episodeId: string,
  tree: Tree,
  adaptiveLevel: number | null,
): Promise<void> {
  const open: { relPath: string; fd: number; path: string }[] = [];
  try {
    for (const entry of tree.entries) {
      packer.options.signal?.throwIfAborted();
      if (entry.kind === "other") {
        packer.options.onSkip?.(entry.relPath);
        continue;
      }
      const slash = entry.relPath.lastIndexOf("/");
      const parentRel = entry.relPath === "" ? null : entry.relPath.slice(0, Math.max(slash, 0));
      while (open.length > 0 && open.at(-1)?.relPath !== parentRel) closeSync(open.pop()!.fd);
      const parent = open.at(-1);
      if (parentRel !== null && !parent) {
        throw new TypeError(
          `Cannot pack "${entry.relPath}": its directory is not listed before it`,
        );
      }
      const path = parent ? pathAt(parent, entry.relPath.slice(slash + 1)) : episodeDir;
      const header = entryHeader(headerFor(episodeId, entry));
      if (entry.kind === "directory") {
        open.push({ relPath: entry.relPath, fd: openSame(path, entry), path });
        await packer.write(header);
      } else if (entry.kind === "file") {
        const fd = openSame(path, entry);
        try {
          await writeFile(packer, fd, entry, header, adaptiveLevel);
        } finally {
          closeSync(fd);
        }
      } else {
        await packer.write(header);
      }
    }
    await packer.write(END_OF_ARCHIVE);
    await packer.flush();
  } finally {
    for (const { fd } of open) closeSync(fd);
  }
}

/** The level to use, checked against the compression's range in the registry. */
function levelFor(compression: Compression, level: number | undefined): number | null {
  const range = COMPRESSION_FORMAT[compression].levels;
  if (range === null) {
    if (level === undefined) return null;
    throw new RangeError(`Cannot pack with ${compression} level "${level}": it takes no level`);
  }
  const value = level ?? range.default;
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new RangeError(
      `Cannot pack with ${compression} level "${value}": it must be ${range.min}–${range.max}`,
    );
  }
  return value;
}

/**
 * The size of the buffer the packer fills: {@linkcode CHUNK}, or for an episode whose whole tar
 * is smaller, a buffer that holds all of it (never full, so flushed where a 1 MiB one would be:
 * the same bytes, without 1 MiB buffers per small episode).
 */
export function capacityFor(episodeId: string, tree: Tree): number {
  let bound = END_OF_ARCHIVE.length;
  for (const entry of tree.entries) {
    const name = episodeId.length + 2 + entry.relPath.length;
    bound += entryBound(name, entry.linkTarget?.length ?? 0, entry.size);
    if (bound >= CHUNK) return CHUNK;
  }
  return sizeFor(bound + 1, CHUNK);
}

/**
 * Packs `tree` (listed from `episodeDir`) as `<episodeId>/…` into a new file at `outPath`,
 * fsynced unless `sync: false`. On any failure `outPath` is removed.
 * @throws {EpisodeChangedError} when a file changed, or an entry is not the one the walk saw
 * @throws {DOMException} the signal's reason when `signal` aborts
 * @throws {Error} `Cannot write tarball "<outPath>"` with the OS error (e.g. ENOSPC) as cause
 * @example
 * ```ts
 * import { walkEpisode } from "../episodes/walk.ts";
 * import { packEpisode } from "./pack.ts";
 * const dir = "/var/lib/cis490/episodes/ep-1";
 * const { size, sha256 } = await packEpisode(dir, "ep-1", walkEpisode(dir), "/tmp/ep-1.tar.gz");
 * ```
 */
export async function packEpisode(
  episodeDir: string,
  episodeId: string,
  tree: Tree,
  outPath: string,
  options: PackOptions = {},
): Promise<PackResult> {
  const compression = options.compression ?? DEFAULT_COMPRESSION;
  const level = levelFor(compression, options.level);
  options.signal?.throwIfAborted();

  const file = TarballFile.create(outPath);
  const capacity = options.capacity ?? capacityFor(episodeId, tree);
  let encoder: Encoder | undefined;
  try {
    encoder = compression === "gzip"
      ? new GzipEncoder(file, level!, capacity)
      : compression === "zstd"
      ? new ZstdFrames(file, level!, {
        workers: options.workers ?? true,
        totalBytes: tree.totalBytes,
        capacity,
      })
      : new PlainEncoder(file, capacity);
    const adaptive = compression === "gzip" ? level : null;
    const packer = new Packer(encoder, options);
    try {
      await writeArchive(packer, episodeDir, episodeId, tree, adaptive);
    } finally {
      giveBuffers(packer.probe); // copied into the encoder's buffer, never written from
    }
    await encoder.end();
    const result = await file.finish(options.sync ?? true);
    encoder.close(true);
    return result;
  } catch (error) {
    // The write in flight ends before the encoder's buffers can go back for reuse.
    await file.discard();
    encoder?.close(false);
    throw error;
  }
}
