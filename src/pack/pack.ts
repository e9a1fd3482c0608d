/**
 * Episode directory → deterministic tarball, streamed to disk with its SHA-256 computed on the way.
 *
 * Same directory, same bytes: entries depth first with siblings sorted, uid/gid 0, no user or
 * group names, PAX headers for long names. Memory stays flat: files are read in bounded chunks and
 * nothing holds the whole archive.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Tree, TreeEntry } from "../episodes/walk.ts";
import type { Compression } from "../protocol/protocol.ts";
import { writeAll } from "../fs/atomic.ts";
import { END_OF_ARCHIVE, entryHeader, padding, type TarEntryHeader } from "./_tar.ts";

/** A file's size changed while it was being packed; the pack is abandoned and retried later. */
export class EpisodeChangedError extends Error {
  constructor(relPath: string, detail: string) {
    super(`"${relPath}" changed while being packed: ${detail}`);
    this.name = "EpisodeChangedError";
  }
}

/** Options for {@linkcode packEpisode}. */
export interface PackOptions {
  /** @default {"gzip"} */
  compression?: Compression;
  /** Told about each entry that is skipped (sockets, FIFOs, devices). */
  onSkip?: (relPath: string) => void;
}

/** The packed tarball's size and digest. */
export interface PackResult {
  size: number;
  sha256: Uint8Array;
}

/** Files up to this size are read in one synchronous call: far cheaper than async ops in Deno. */
const SMALL_FILE = 1024 * 1024;
/** Read size for large files, and the size of the chunks handed on (CompressionStream flushes
 * per chunk: below 64 KiB it compresses worse and slower). */
const CHUNK = 256 * 1024;

/**
 * Collects archive bytes into {@linkcode CHUNK}-sized buffers and hands each full one to `emit`,
 * so the stream machinery runs once per 256 KiB rather than once per tar block.
 */
class ChunkWriter {
  #buffer = new Uint8Array(CHUNK);
  #used = 0;
  constructor(readonly emit: (chunk: Uint8Array) => Promise<void>) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= CHUNK && this.#used === 0) return await this.emit(bytes);
    let offset = 0;
    while (offset < bytes.length) {
      const n = Math.min(CHUNK - this.#used, bytes.length - offset);
      this.#buffer.set(bytes.subarray(offset, offset + n), this.#used);
      this.#used += n;
      offset += n;
      if (this.#used === CHUNK) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const full = this.#buffer.subarray(0, this.#used);
    // The consumer may still hold the emitted bytes: start a fresh buffer, never reuse.
    this.#buffer = new Uint8Array(CHUNK);
    this.#used = 0;
    await this.emit(full);
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

async function writeBody(out: ChunkWriter, path: string, entry: TreeEntry): Promise<void> {
  if (entry.size <= SMALL_FILE) {
    const bytes = Deno.readFileSync(path);
    if (bytes.length !== entry.size) {
      throw new EpisodeChangedError(entry.relPath, `size ${entry.size} became ${bytes.length}`);
    }
    await out.write(bytes);
    return;
  }
  using file = await Deno.open(path, { read: true });
  let remaining = entry.size;
  while (remaining > 0) {
    const buffer = new Uint8Array(Math.min(CHUNK, remaining));
    const n = await file.read(buffer);
    if (n === null) {
      throw new EpisodeChangedError(entry.relPath, `shrank below ${entry.size} bytes`);
    }
    remaining -= n;
    await out.write(n === buffer.length ? buffer : buffer.subarray(0, n));
  }
  if ((await file.read(new Uint8Array(1))) !== null) {
    throw new EpisodeChangedError(entry.relPath, `grew beyond ${entry.size} bytes`);
  }
}

/**
 * Packs `tree` (listed from `episodeDir`) as `<episodeId>/…` into a new file at `outPath`, fsynced.
 * @throws {EpisodeChangedError} when a file changes size while being read; `outPath` is removed.
 */
export async function packEpisode(
  episodeDir: string,
  episodeId: string,
  tree: Tree,
  outPath: string,
  options: PackOptions = {},
): Promise<PackResult> {
  if (options.compression === "zstd") throw new TypeError("zstd packing is not built yet");
  // CompressionStream is typed as taking any BufferSource; it is fed Uint8Array only.
  const pipe = (options.compression ?? "gzip") === "gzip"
    ? new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>
    : new TransformStream<Uint8Array, Uint8Array>();
  const input = pipe.writable.getWriter();

  const produce = async () => {
    const out = new ChunkWriter(async (chunk) => {
      await input.ready;
      await input.write(chunk);
    });
    for (const entry of tree.entries) {
      if (entry.kind === "other") {
        options.onSkip?.(entry.relPath);
        continue;
      }
      await out.write(entryHeader(headerFor(episodeId, entry)));
      if (entry.kind === "file") {
        await writeBody(out, join(episodeDir, entry.relPath), entry);
        await out.write(padding(entry.size));
      }
    }
    await out.write(END_OF_ARCHIVE);
    await out.flush();
    await input.close();
  };

  const out = await Deno.open(outPath, { write: true, createNew: true, mode: 0o600 });
  const hash = createHash("sha256");
  let size = 0;
  const consume = async () => {
    for await (const chunk of pipe.readable) {
      hash.update(chunk);
      size += chunk.length;
      await writeAll(out, chunk);
    }
    await out.sync();
  };

  const producing = produce().catch(async (error) => {
    await input.abort(error).catch(() => {});
    throw error;
  });
  const [produced, consumed] = await Promise.allSettled([producing, consume()]);
  const failed = produced.status === "rejected"
    ? produced
    : consumed.status === "rejected"
    ? consumed
    : null;
  if (failed) {
    out.close();
    await Deno.remove(outPath).catch(() => {});
    throw failed.reason;
  }
  out.close();
  return { size, sha256: new Uint8Array(hash.digest()) };
}
