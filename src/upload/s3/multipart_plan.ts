/**
 * The pure half of a multipart upload: how a tarball is cut into parts, what progress is saved
 * between attempts (the queue keeps it in the episode's outbox state), and whether saved progress
 * still belongs to the episode being sent.
 */
import { createHash } from "node:crypto";
import { MAX_PARTS } from "./settings.ts";

/** Saved progress of one multipart upload: enough to resume it, or to abort it. */
export interface MultipartResume {
  v: 1;
  /** The object key the upload completes into. */
  key: string;
  /** Base64 SHA-256 of the whole tarball. */
  sha256: string;
  size: number;
  /** The part size the upload was started with (a changed setting applies to the next one). */
  partBytes: number;
  uploadId: string;
  /** Parts the store has acknowledged, with its ETag and the part's hex SHA-256. */
  parts: ResumePart[];
}

/** One finished part. */
export interface ResumePart {
  n: number;
  etag: string;
  sha256: string;
}

/** How a tarball is cut. */
export interface PartPlan {
  partBytes: number;
  count: number;
}

const MIB = 1024 * 1024;

/**
 * Cuts `size` bytes into parts of `partBytes`, raised (to whole MiB) when S3's 10 000-part limit
 * would otherwise be passed.
 */
export function planParts(size: number, partBytes: number): PartPlan {
  const needed = Math.ceil(size / MAX_PARTS);
  const bytes = needed > partBytes ? Math.ceil(needed / MIB) * MIB : partBytes;
  return { partBytes: bytes, count: Math.max(1, Math.ceil(size / bytes)) };
}

/** Byte range of part `n` (1-based). */
export function partRange(plan: PartPlan, size: number, n: number): {
  offset: number;
  length: number;
} {
  const offset = (n - 1) * plan.partBytes;
  return { offset, length: Math.min(plan.partBytes, size - offset) };
}

/** Reads saved progress back; null for anything that is not a well-formed resume value. */
export function parseResume(value: unknown): MultipartResume | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (
    r.v !== 1 || typeof r.key !== "string" || typeof r.sha256 !== "string" || !isCount(r.size) ||
    !isCount(r.partBytes) || r.partBytes === 0 || typeof r.uploadId !== "string" ||
    r.uploadId === "" || !Array.isArray(r.parts)
  ) return null;
  const parts: ResumePart[] = [];
  for (const p of r.parts as unknown[]) {
    const part = p as Record<string, unknown> | null;
    if (
      typeof part !== "object" || part === null || !isCount(part.n) || part.n < 1 ||
      typeof part.etag !== "string" || typeof part.sha256 !== "string"
    ) return null;
    parts.push({ n: part.n, etag: part.etag, sha256: part.sha256 });
  }
  return {
    v: 1,
    key: r.key,
    sha256: r.sha256,
    size: r.size,
    partBytes: r.partBytes,
    uploadId: r.uploadId,
    parts,
  };
}

/** Whether saved progress is for this object and these bytes (a repack makes it stale). */
export function resumeFits(
  resume: MultipartResume,
  expected: { key: string; sha256: string; size: number },
): boolean {
  return resume.key === expected.key && resume.sha256 === expected.sha256 &&
    resume.size === expected.size;
}

/**
 * The ETag S3 gives an object completed from these parts: MD5 of the parts' MD5s, `-<count>`.
 * Null when a part's ETag is not a plain MD5 (then nothing can be told from it).
 */
export function multipartEtag(etags: readonly string[]): string | null {
  const hash = createHash("md5");
  for (const etag of etags) {
    const hex = etag.replace(/^"|"$/g, "");
    if (!/^[0-9a-f]{32}$/i.test(hex)) return null;
    hash.update(Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16)));
  }
  return `"${hash.digest("hex")}-${etags.length}"`;
}
