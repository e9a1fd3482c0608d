/**
 * Episode directory → deterministic tarball, streamed to disk with its SHA-256 computed on the way.
 *
 * Same directory, same bytes: entries depth first with siblings sorted, uid/gid 0, no user or
 * group names, PAX headers for long names. Memory stays flat: files are read in bounded chunks and
 * nothing holds the whole archive.
 */
import { createHash } from "node:crypto";
import { createTarPacker, type TarHeader } from "modern-tar";
import { join } from "node:path";
import type { Tree, TreeEntry } from "../episodes/walk.ts";
import type { Compression } from "../protocol/protocol.ts";

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
/** Read size for large files, and the least chunk CompressionStream is fed (it flushes per chunk). */
const CHUNK = 256 * 1024;
const MIN_COMPRESS_CHUNK = 64 * 1024;

/** Regroups a byte stream into chunks of at least `min` bytes (the last may be smaller). */
export function rechunk(min: number): TransformStream<Uint8Array, Uint8Array> {
  let parts: Uint8Array[] = [];
  let length = 0;
  const flush = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (length === 0) return;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    parts = [];
    length = 0;
    controller.enqueue(out);
  };
  return new TransformStream({
    transform(chunk, controller) {
      if (length === 0 && chunk.length >= min) return controller.enqueue(chunk);
      parts.push(chunk);
      length += chunk.length;
      if (length >= min) flush(controller);
    },
    flush,
  });
}

function headerFor(episodeId: string, entry: TreeEntry): TarHeader {
  const name = entry.relPath ? `${episodeId}/${entry.relPath}` : episodeId;
  const common = { mtime: new Date(entry.mtimeS * 1000), mode: entry.mode, uid: 0, gid: 0 };
  if (entry.kind === "directory") {
    return { ...common, name: `${name}/`, type: "directory", size: 0 };
  }
  if (entry.kind === "symlink") {
    return { ...common, name, type: "symlink", size: 0, linkname: entry.linkTarget ?? "" };
  }
  return { ...common, name, type: "file", size: entry.size };
}

async function writeBody(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  path: string,
  entry: TreeEntry,
): Promise<void> {
  if (entry.size <= SMALL_FILE) {
    const bytes = Deno.readFileSync(path);
    if (bytes.length !== entry.size) {
      throw new EpisodeChangedError(entry.relPath, `size ${entry.size} became ${bytes.length}`);
    }
    if (bytes.length > 0) await writer.write(bytes);
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
    await writer.write(n === buffer.length ? buffer : buffer.subarray(0, n));
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
  const { readable, controller } = createTarPacker();
  let stream: ReadableStream<Uint8Array> = readable.pipeThrough(rechunk(MIN_COMPRESS_CHUNK));
  if ((options.compression ?? "gzip") === "gzip") {
    // CompressionStream is typed as taking any BufferSource; it is fed Uint8Array only.
    const gzip = new CompressionStream("gzip") as unknown as TransformStream<
      Uint8Array,
      Uint8Array
    >;
    stream = stream.pipeThrough(gzip);
  }

  const produce = async () => {
    for (const entry of tree.entries) {
      if (entry.kind === "other") {
        options.onSkip?.(entry.relPath);
        continue;
      }
      const writer = controller.add(headerFor(episodeId, entry)).getWriter();
      if (entry.kind === "file") await writeBody(writer, join(episodeDir, entry.relPath), entry);
      await writer.close();
    }
    controller.finalize();
  };

  const out = await Deno.open(outPath, { write: true, createNew: true, mode: 0o600 });
  const hash = createHash("sha256");
  let size = 0;
  const consume = async () => {
    for await (const chunk of stream) {
      hash.update(chunk);
      size += chunk.length;
      for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
    }
    await out.sync();
  };

  const producing = produce().catch((error) => {
    controller.error(error);
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
