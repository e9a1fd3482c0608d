/**
 * Episode directory → deterministic tarball, streamed to disk with its SHA-256 computed on the way.
 *
 * Same directory, same bytes: entries depth first with siblings sorted, uid/gid 0, no user or
 * group names, PAX headers for long names and out-of-range times, and compression decisions that
 * depend on the bytes alone. gzip is adaptive: one gzip stream, but a file whose first 64 KiB do
 * not shrink is stored (zlib level 0) rather than deflated. Memory stays flat: one reused 1 MiB
 * buffer, and nothing holds the whole archive. Every file and directory is opened without
 * following symlinks and checked to be the one the walk saw (see walk.ts).
 */
import { createHash } from "node:crypto";
import { closeSync, readSync } from "node:fs";
import {
  constants as zlib,
  createGzip,
  createZstdCompress,
  deflateRawSync,
  type Gzip,
  type ZstdCompress,
} from "node:zlib";
import {
  EpisodeChangedError,
  openSame,
  pathAt,
  type Tree,
  type TreeEntry,
} from "../episodes/walk.ts";
import type { Compression } from "../protocol/protocol.ts";
import { writeAll } from "../fs/atomic.ts";
import { END_OF_ARCHIVE, entryHeader, padding, type TarEntryHeader } from "./_tar.ts";

export { EpisodeChangedError };

/** Levels each compression accepts, and the default (chosen by measurement, see docs/packing.md). */
export const LEVELS: Readonly<
  Record<Compression, { min: number; max: number; default: number }>
> = {
  gzip: { min: 1, max: 9, default: 3 },
  zstd: { min: 1, max: 19, default: 3 },
  none: { min: 0, max: 0, default: 0 },
};

/** Options for {@linkcode packEpisode}. */
export interface PackOptions {
  /** @default {"gzip"} */
  compression?: Compression;
  /** gzip 1–9 (applied to the files that compress), zstd 1–19. @default {LEVELS[compression].default} */
  level?: number;
  /** Stops packing between chunks and entries; the partial file is removed. */
  signal?: AbortSignal;
  /** Told about each entry that is skipped (sockets, FIFOs, devices). */
  onSkip?: (relPath: string) => void;
  /** Told the file bytes read so far, after each read. */
  onProgress?: (bytesRead: number) => void;
}

/** The packed tarball's size and digest. */
export interface PackResult {
  size: number;
  sha256: Uint8Array;
}

/** The one buffer archive bytes are gathered in, and the read size for large files. */
const CHUNK = 1024 * 1024;
/** How much of a file decides whether gzip deflates or stores it. */
const PROBE = 64 * 1024;
/** Files smaller than this keep the current gzip mode: probing them costs more than it saves. */
const TINY = 4 * 1024;

/** Where the packer's bytes go; `write` resolves once `chunk` is no longer referenced. */
interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  /** Switches gzip between storing and deflating, at a block boundary. */
  store?(stored: boolean): Promise<void>;
  end(): Promise<void>;
}

/**
 * Gathers archive bytes into one reused {@linkcode CHUNK} buffer and hands each full one to the
 * sink. Reuse is safe because the buffer is refilled only after `sink.write` resolved, and every
 * sink resolves only when it is done with the bytes: a file write has completed, or zlib has called
 * the write callback, which Node's Writable fires after `_transform` consumed all of the input.
 */
class Packer {
  readonly #buffer = new Uint8Array(CHUNK);
  readonly probe = new Uint8Array(PROBE);
  #used = 0;
  #stored = false;
  #read = 0;
  constructor(
    readonly sink: Sink,
    readonly options: PackOptions,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const n = Math.min(CHUNK - this.#used, bytes.length - offset);
      this.#buffer.set(bytes.subarray(offset, offset + n), this.#used);
      this.#used += n;
      offset += n;
      if (this.#used === CHUNK) await this.flush();
    }
  }

  /** Reads `count` bytes of `fd` straight into the buffer. */
  async copy(fd: number, count: number, entry: TreeEntry): Promise<void> {
    let remaining = count;
    while (remaining > 0) {
      this.options.signal?.throwIfAborted();
      if (this.#used === CHUNK) await this.flush();
      const n = readSync(
        fd,
        this.#buffer,
        this.#used,
        Math.min(CHUNK - this.#used, remaining),
        null,
      );
      if (n === 0) throw new EpisodeChangedError(entry.relPath, `shrank below ${entry.size} bytes`);
      this.#used += n;
      remaining -= n;
      this.counted(n);
    }
  }

  counted(n: number): void {
    this.#read += n;
    this.options.onProgress?.(this.#read);
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const full = this.#buffer.subarray(0, this.#used);
    await this.sink.write(full);
    this.#used = 0;
  }

  /** Switches gzip to storing or deflating; a no-op when already so. */
  async store(stored: boolean): Promise<void> {
    if (!this.sink.store || stored === this.#stored) return;
    await this.flush();
    await this.sink.store(stored);
    this.#stored = stored;
  }
}

/** zlib's `params()`: flushes, then changes level and strategy for what follows. */
interface Params {
  params(level: number, strategy: number, callback: () => void): void;
}

/** Whether adaptive gzip deflates a file starting with `sample`: level 1 saves at least 1/32. */
export function worthDeflating(sample: Uint8Array): boolean {
  return deflateRawSync(sample, { level: 1 }).length < sample.length - (sample.length >> 5);
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
  adaptive: boolean,
): Promise<void> {
  let probed = 0;
  if (adaptive && entry.size >= TINY) {
    const want = Math.min(entry.size, PROBE);
    probed = readFully(fd, packer.probe, want);
    if (probed < want) {
      throw new EpisodeChangedError(entry.relPath, `shrank below ${entry.size} bytes`);
    }
    packer.counted(probed);
    await packer.store(!worthDeflating(packer.probe.subarray(0, probed)));
  }
  await packer.write(header);
  if (probed > 0) await packer.write(packer.probe.subarray(0, probed));
  await packer.copy(fd, entry.size - probed, entry);
  if (readSync(fd, packer.probe, 0, 1, null) !== 0) {
    throw new EpisodeChangedError(entry.relPath, `grew beyond ${entry.size} bytes`);
  }
  await packer.write(padding(entry.size));
}

/** Writes every entry of `tree`, opening each through its parent's descriptor. */
async function writeArchive(
  packer: Packer,
  episodeDir: string,
  episodeId: string,
  tree: Tree,
  adaptive: boolean,
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
          await writeFile(packer, fd, entry, header, adaptive);
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

/** The level to use, checked against the compression's range. */
function levelFor(compression: Compression, level: number | undefined): number {
  const range = LEVELS[compression];
  const value = level ?? range.default;
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new RangeError(
      `Cannot pack with ${compression} level "${value}": it must be ${range.min}–${range.max}`,
    );
  }
  return value;
}

function compressor(compression: "gzip" | "zstd", level: number): Gzip | ZstdCompress {
  const chunkSize = 64 * 1024;
  if (compression === "gzip") return createGzip({ level, chunkSize });
  return createZstdCompress({
    chunkSize,
    params: { [zlib.ZSTD_c_compressionLevel]: level, [zlib.ZSTD_c_checksumFlag]: 1 },
  });
}

/**
 * Packs `tree` (listed from `episodeDir`) as `<episodeId>/…` into a new file at `outPath`, fsynced.
 * On any failure `outPath` is removed.
 * @throws {EpisodeChangedError} when a file changed, or an entry is not the one the walk saw
 * @throws {DOMException} the signal's reason when `signal` aborts
 * @throws {Error} `Cannot write tarball "<outPath>"` with the OS error (e.g. ENOSPC) as cause
 */
export async function packEpisode(
  episodeDir: string,
  episodeId: string,
  tree: Tree,
  outPath: string,
  options: PackOptions = {},
): Promise<PackResult> {
  const compression = options.compression ?? "gzip";
  const level = levelFor(compression, options.level);
  options.signal?.throwIfAborted();

  const out = await Deno.open(outPath, { write: true, createNew: true, mode: 0o600 });
  const hash = createHash("sha256");
  let size = 0;
  const save = async (chunk: Uint8Array) => {
    hash.update(chunk);
    size += chunk.length;
    try {
      await writeAll(out, chunk);
    } catch (error) {
      throw new Error(`Cannot write tarball "${outPath}"`, { cause: error });
    }
  };

  let work: Promise<unknown>;
  if (compression === "none") {
    const packer = new Packer({ write: save, end: async () => {} }, options);
    work = writeArchive(packer, episodeDir, episodeId, tree, false);
  } else {
    const stream = compressor(compression, level);
    stream.on("error", () => {}); // Reported through the consumer's iteration instead.
    const failed = Promise.withResolvers<never>();
    failed.promise.catch(() => {});
    const settle = (start: (done: (error?: Error | null) => void) => void) =>
      Promise.race([
        new Promise<void>((resolve, reject) => {
          start((error) => error ? reject(error) : resolve());
        }),
        failed.promise,
      ]);
    const sink: Sink = {
      write: (chunk) => settle((done) => stream.write(chunk, done)),
      end: () => settle((done) => stream.end(done)),
    };
    if (compression === "gzip") {
      // Deno's node:zlib has params() at run time; its type declarations omit it.
      const gzip = stream as unknown as Params;
      sink.store = (stored) =>
        settle((done) => gzip.params(stored ? 0 : level, zlib.Z_DEFAULT_STRATEGY, () => done()));
    }
    const consume = async () => {
      try {
        for await (const chunk of stream) await save(chunk as Uint8Array);
      } catch (error) {
        failed.reject(error);
        throw error;
      }
    };
    const produce = async () => {
      try {
        const adaptive = compression === "gzip";
        await writeArchive(new Packer(sink, options), episodeDir, episodeId, tree, adaptive);
        await sink.end();
      } catch (error) {
        stream.destroy(error as Error);
        throw error;
      }
    };
    work = Promise.allSettled([produce(), consume()]).then(([produced, consumed]) => {
      if (produced.status === "rejected") throw produced.reason;
      if (consumed.status === "rejected") throw consumed.reason;
    });
  }

  try {
    await work;
    await out.sync().catch((error) => {
      throw new Error(`Cannot write tarball "${outPath}"`, { cause: error });
    });
  } catch (error) {
    out.close();
    await Deno.remove(outPath).catch(() => {});
    throw error;
  }
  out.close();
  return { size, sha256: new Uint8Array(hash.digest()) };
}
