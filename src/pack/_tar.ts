/**
 * The tar format, writer side: POSIX ustar headers, with a PAX extended header when a path or link
 * target does not fit, a size exceeds 8 GiB or a time falls outside 1970–2242. Synchronous and allocation-light, because a pack
 * of 10,000 small files spends its time here: the web-stream packers cost ~30 µs per entry.
 */

const BLOCK = 512;
const encoder = new TextEncoder();

/** What one tar entry says about itself. */
export interface TarEntryHeader {
  /** Path inside the archive; directories end in `/`. */
  name: string;
  type: "file" | "directory" | "symlink";
  /** Body bytes (files only). */
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
}

const TYPEFLAG = { file: 0x30, directory: 0x35, symlink: 0x32, pax: 0x78 } as const;
/** Largest value an 11-digit octal field (size, mtime) holds: 8 GiB − 1, or the year 2242. */
const MAX_OCTAL_11 = 0o77777777777;

const MAGIC = encoder.encode("ustar\0");
const VERSION = encoder.encode("00");
const NO_BYTES = new Uint8Array(0);
const PAX_NAME = encoder.encode("PaxHeader/");

/**
 * Writes `value` as `width - 1` zero-padded octal digits; the last byte stays NUL.
 * @throws {RangeError} when `value` is negative, not an integer or needs more digits
 */
export function writeOctal(block: Uint8Array, offset: number, width: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 8 ** (width - 1)) {
    throw new RangeError(`Cannot write "${value}" as a ${width - 1}-digit octal tar field`);
  }
  for (let i = offset + width - 2; i >= offset; i--) {
    block[i] = 0x30 + (value % 8);
    value = Math.floor(value / 8);
  }
}

function checksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] as number;
  writeOctal(block, 148, 7, sum);
  block[154] = 0;
  block[155] = 0x20;
}

function ustar(
  name: Uint8Array,
  prefix: Uint8Array,
  typeflag: number,
  size: number,
  mode: number,
  mtime: number,
  linkname: Uint8Array,
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  block.set(name, 0);
  writeOctal(block, 100, 8, mode & 0o7777);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block[156] = typeflag;
  block.set(linkname, 157);
  block.set(MAGIC, 257);
  block.set(VERSION, 263);
  // uname and gname stay empty: the archive names nobody.
  block.set(prefix, 345);
  checksum(block);
  return block;
}

/** Splits a path into ustar prefix (≤155 bytes) and name (≤100 bytes) at a `/`, or null. */
function splitUstar(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | null {
  if (path.length <= 100) return { prefix: NO_BYTES, name: path };
  if (path.length > 256) return null;
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== 0x2f) continue;
    if (i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0) {
      return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
    }
  }
  return null;
}

/** One PAX record: `<length> <key>=<value>\n`, the length counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

const ZEROS = new Uint8Array(BLOCK);

/** Zero bytes that pad a body of `size` bytes to a whole block (a shared view: do not write). */
export function padding(size: number): Uint8Array {
  return ZEROS.subarray(0, -size & (BLOCK - 1));
}

/**
 * At least as many bytes as {@linkcode entryHeader} and the body with its padding take for an
 * entry whose name and link target are `nameLength` and `linkLength` UTF-16 units long: a PAX
 * header carries at most the name, the link target (3 UTF-8 bytes per unit at most), a size and a
 * time.
 */
export function entryBound(nameLength: number, linkLength: number, size: number): number {
  const records = 3 * (nameLength + linkLength) + 128;
  return 2 * BLOCK + roundUp(records) + roundUp(size);
}

function roundUp(bytes: number): number {
  return bytes + (-bytes & (BLOCK - 1));
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE: Uint8Array = new Uint8Array(2 * BLOCK);

/** The header block(s) of one entry: a PAX header and its records when needed, then ustar. */
export function entryHeader(entry: TarEntryHeader): Uint8Array {
  const path = encoder.encode(entry.name);
  const link = encoder.encode(entry.linkname ?? "");
  const size = entry.type === "file" ? entry.size : 0;
  const split = splitUstar(path);
  const records: string[] = [];
  if (!split) records.push(paxRecord("path", entry.name));
  if (link.length > 100) records.push(paxRecord("linkpath", entry.linkname ?? ""));
  if (size > MAX_OCTAL_11) records.push(paxRecord("size", String(size)));
  // Before 1970 or after 2242 the octal field cannot say it: PAX carries the time, ustar says 0.
  const mtimeFits = entry.mtime >= 0 && entry.mtime <= MAX_OCTAL_11;
  if (!mtimeFits) records.push(paxRecord("mtime", String(entry.mtime)));
  const mtime = mtimeFits ? entry.mtime : 0;
  const main = ustar(
    split ? split.name : path.subarray(0, 100),
    split ? split.prefix : NO_BYTES,
    TYPEFLAG[entry.type],
    size > MAX_OCTAL_11 ? 0 : size,
    entry.mode,
    mtime,
    link.subarray(0, 100),
  );
  if (records.length === 0) return main;
  const paxBody = encoder.encode(records.join(""));
  const pax = ustar(
    PAX_NAME,
    NO_BYTES,
    TYPEFLAG.pax,
    paxBody.length,
    0o644,
    mtime,
    NO_BYTES,
  );
  const out = new Uint8Array(BLOCK + paxBody.length + padding(paxBody.length).length + BLOCK);
  out.set(pax, 0);
  out.set(paxBody, BLOCK);
  out.set(main, out.length - BLOCK);
  return out;
}
