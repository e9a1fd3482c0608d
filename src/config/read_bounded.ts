/**
 * The one way a file the configuration names is read (the config itself, `ca_bundle`, the client
 * certificate and key, the token file, the system trust store): only a regular file, never more
 * than its limit. A FIFO would block the open until a writer came (SIGTERM ignored meanwhile) and
 * `/dev/zero` grew the heap to 5 GB in 9 s; both are refused before a byte is read.
 */

/** Why a file was not read: `message` is the sentence an error line quotes. */
export class ReadProblem extends Error {
  /**
   * `reason`: the short cause ("file not found", "not a regular file", "larger than 4096 bytes",
   * "not UTF-8 text", "permission denied"), for lines that phrase it themselves.
   */
  constructor(readonly path: string, readonly reason: string, options?: ErrorOptions) {
    super(
      /^(not |larger )/.test(reason)
        ? `"${path}" is ${reason}`
        : `cannot read "${path}": ${reason}`,
      options,
    );
    this.name = "ReadProblem";
  }
}

/** Options for {@linkcode readBounded}. */
export interface ReadBoundedOptions {
  /** The most bytes the file may hold; one more is never read. */
  limit: number;
}

function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    return "not readable under this binary's permissions";
  }
  if (error instanceof Deno.errors.IsADirectory) return "not a regular file";
  if (error instanceof Deno.errors.NotADirectory) return "file not found";
  return `cannot read: ${error instanceof Error ? error.name : String(error)}`;
}

/**
 * Reads a regular file (symlinks followed) of at most `limit` bytes.
 * @throws {ReadProblem} when it is missing, unreadable, not a regular file or too large
 * @example
 * ```ts
 * const bytes = await readBounded("/etc/cis490/lab-host.toml", { limit: 1024 * 1024 });
 * ```
 */
export async function readBounded(path: string, options: ReadBoundedOptions): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    // stat before open: opening a FIFO for reading blocks until a writer appears.
    info = await Deno.stat(path);
  } catch (error) {
    throw new ReadProblem(path, reasonOf(error), { cause: error });
  }
  if (!info.isFile) throw new ReadProblem(path, "not a regular file");
  if (info.size > options.limit) throw new ReadProblem(path, tooLarge(options.limit));
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(path, { read: true });
  } catch (error) {
    throw new ReadProblem(path, reasonOf(error), { cause: error });
  }
  try {
    // Swapped between the stat and the open: check what was really opened.
    if (!(await handle.stat()).isFile) throw new ReadProblem(path, "not a regular file");
    // Sized from the stat, grown in bounded steps if the file grew since (or, like /proc files,
    // reports size 0), never past limit + 1.
    let buffer = new Uint8Array(Math.min(options.limit, info.size) + 1);
    let filled = 0;
    while (true) {
      if (filled === buffer.length) {
        if (filled > options.limit) throw new ReadProblem(path, tooLarge(options.limit));
        const grown = new Uint8Array(Math.min(options.limit + 1, buffer.length * 2));
        grown.set(buffer);
        buffer = grown;
      }
      const n = await handle.read(buffer.subarray(filled));
      if (n === null) return buffer.subarray(0, filled);
      filled += n;
    }
  } catch (error) {
    if (error instanceof ReadProblem) throw error;
    throw new ReadProblem(path, reasonOf(error), { cause: error });
  } finally {
    handle.close();
  }
}

function tooLarge(limit: number): string {
  return `larger than ${limit} bytes`;
}

/**
 * {@linkcode readBounded}, decoded as UTF-8.
 * @throws {ReadProblem} as readBounded does, and when the bytes are not UTF-8
 */
export async function readBoundedText(path: string, options: ReadBoundedOptions): Promise<string> {
  const bytes = await readBounded(path, options);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ReadProblem(path, "not UTF-8 text");
  }
}
