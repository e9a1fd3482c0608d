/**
 * A large episode by multipart upload, resumable across a kill -9, stored once.
 *
 * Order of events, and why:
 * 1. HEAD the key: an object already there is a duplicate (or our own completion, from before a
 *    crash: then its ETag is the one our saved parts make, and the answer is "stored").
 * 2. CreateMultipartUpload, then `saveResume` with the upload id *before* any part is sent, so a
 *    crash at any later point leaves an upload this episode can resume or abort.
 * 3. Each part: its SHA-256 is computed first and sent as `x-amz-content-sha256` (the store
 *    refuses a part whose bytes differ); its ETag is saved with `saveResume` before the next part.
 *    A saved part whose bytes still hash the same is not sent again.
 * 4. The whole tarball's SHA-256, hashed part by part on the way, must still be the packer's:
 *    otherwise the local file changed and nothing is completed (repack).
 * 5. HEAD again, then CompleteMultipartUpload with `If-None-Match: *`. Stores that honour it (AWS
 *    since 2024) make the complete atomic; Ceph Pacific ignores it, and the HEAD narrows the race
 *    to the two requests' gap.
 * An upload the store forgot (`NoSuchUpload`, `InvalidPart`) is started over once in the same call.
 */
import { createHash, type Hash } from "node:crypto";
import type { Answer, Parcel, SendOptions } from "../receiver.ts";
import { s3ErrorCode } from "./classify_s3.ts";
import { duplicateOf, headObject, type HeadResult } from "./head_object.ts";
import {
  multipartEtag,
  type MultipartResume,
  parseResume,
  partRange,
  planParts,
  resumeFits,
} from "./multipart_plan.ts";
import type { S3Answer, S3Client } from "./s3_client.ts";

/** What a multipart upload needs from the receiver. */
export interface MultipartContext {
  client: S3Client;
  key: string;
  /** Metadata and Content-Type, set at CreateMultipartUpload. */
  headers: Record<string, string>;
  /** Part size for a new upload (a resumed one keeps its own). */
  partBytes: number;
  classify: (answer: S3Answer) => Answer;
}

/** Codes that mean the store no longer has the upload (or its parts) as we saved them. */
const UPLOAD_GONE = new Set(["NoSuchUpload", "InvalidPart", "InvalidPartOrder"]);

/** Size of one read while hashing. */
const HASH_READ_BYTES = 1024 * 1024;

/**
 * Sends `parcel` by multipart upload, resuming `options.resume` when it fits.
 * @throws {import("../put.ts").UploadError} when a request got no answer (the caller classifies it)
 */
export async function sendMultipart(
  ctx: MultipartContext,
  parcel: Parcel,
  options: SendOptions = {},
): Promise<Answer> {
  const save = options.saveResume ?? (() => Promise.resolve());
  let resume = parseResume(options.resume);
  if (resume && !resumeFits(resume, { key: ctx.key, sha256: parcel.sha256, size: parcel.size })) {
    // Another tarball (repacked) or another key (prefix changed): that upload is stale.
    await abortQuietly(ctx.client, resume);
    resume = null;
  }
  const before = await head(ctx, options.signal);
  if ("answer" in before || before.exists) return existing(before, resume, parcel);
  const first = await uploadAndComplete(ctx, parcel, resume, options, save);
  if (!first.restart) return first.answer;
  if (first.stale) await abortQuietly(ctx.client, first.stale);
  await save(null);
  const second = await uploadAndComplete(ctx, parcel, null, options, save);
  if (!second.restart) return second.answer;
  return {
    class: "transient",
    status: 0,
    said: `the store lost the multipart upload of "${ctx.key}" twice in one attempt`,
    retryAfterMs: null,
  };
}

/** Aborts a multipart upload, ignoring every failure (it may be gone already). */
export async function abortQuietly(
  client: S3Client,
  resume: { key: string; uploadId: string },
): Promise<void> {
  try {
    await client.abortMultipartUpload(resume.key, resume.uploadId);
  } catch {
    // Best effort: a stale upload only costs space until the bucket's lifecycle rule ends it.
  }
}

function head(ctx: MultipartContext, signal: AbortSignal | undefined): Promise<HeadResult> {
  return headObject(ctx.client, ctx.key, { classify: ctx.classify, signal });
}

/** The answer for an object already stored: ours (completed before a crash) or a duplicate. */
function existing(found: HeadResult, resume: MultipartResume | null, parcel: Parcel): Answer {
  if ("exists" in found && found.exists && resume && found.digest === parcel.sha256) {
    const plan = planParts(parcel.size, resume.partBytes);
    const etags = resume.parts.map((p) => p.etag);
    if (resume.parts.length === plan.count && multipartEtag(etags) === found.etag) {
      return { class: "stored", status: 200 };
    }
  }
  return duplicateOf(200, found) ?? { class: "stored", status: 200 };
}

type Outcome =
  | { restart: false; answer: Answer }
  | { restart: true; stale: MultipartResume | null };

async function uploadAndComplete(
  ctx: MultipartContext,
  parcel: Parcel,
  saved: MultipartResume | null,
  options: SendOptions,
  save: (resume: unknown) => Promise<void>,
): Promise<Outcome> {
  const { signal } = options;
  const done = (answer: Answer): Outcome => ({ restart: false, answer });
  let resume = saved;
  if (!resume) {
    const created = await ctx.client.createMultipartUpload(ctx.key, ctx.headers, signal);
    if ("refused" in created) return done(ctx.classify(created.refused));
    resume = {
      v: 1,
      key: ctx.key,
      sha256: parcel.sha256,
      size: parcel.size,
      partBytes: ctx.partBytes,
      uploadId: created.uploadId,
      parts: [],
    };
    await save(resume);
  }
  const plan = planParts(parcel.size, resume.partBytes);
  const finished = new Map(resume.parts.map((p) => [p.n, p]));
  const whole = createHash("sha256");
  let progress = 0;
  for (let n = 1; n <= plan.count; n++) {
    if (signal?.aborted) return done({ class: "aborted" });
    const { offset, length } = partRange(plan, parcel.size, n);
    const partSha = await hashRange(parcel.path, offset, length, whole);
    if (partSha === null) {
      return done({
        class: "repack",
        status: 0,
        said: `the tarball is shorter than its recorded ${parcel.size} bytes`,
      });
    }
    const previous = finished.get(n);
    if (previous?.sha256 !== partSha) {
      const answer = await ctx.client.send({
        method: "PUT",
        key: ctx.key,
        query: { partNumber: String(n), uploadId: resume.uploadId },
        bodyPath: parcel.path,
        bodyOffset: offset,
        size: length,
        payloadSha256Hex: partSha,
        ...(signal && { signal }),
      });
      const code = s3ErrorCode(answer.body);
      if (code !== null && UPLOAD_GONE.has(code)) return { restart: true, stale: resume };
      if (answer.status !== 200 || code !== null) return done(ctx.classify(answer));
      const etag = answer.headers.etag;
      if (!etag) {
        return done({
          class: "transient",
          status: answer.status,
          said: `the store acknowledged part ${n} without an ETag`,
          retryAfterMs: null,
        });
      }
      finished.set(n, { n, etag, sha256: partSha });
      resume = { ...resume, parts: [...finished.values()].sort((a, b) => a.n - b.n) };
      await save(resume);
    }
    progress += length;
    options.onProgress?.(progress);
  }
  const digest = whole.digest("base64");
  if (digest !== parcel.sha256) {
    await abortQuietly(ctx.client, resume);
    await save(null);
    return done({
      class: "repack",
      status: 0,
      said: `the tarball's SHA-256 is now ${digest}, not the packer's ${parcel.sha256}: ` +
        "the file changed after packing",
    });
  }
  const again = await head(ctx, signal);
  if ("answer" in again || again.exists) return done(existing(again, resume, parcel));
  const parts = resume.parts.filter((p) => p.n <= plan.count).map((p) => ({
    partNumber: p.n,
    etag: p.etag,
  }));
  const complete = await ctx.client.completeMultipartUpload(ctx.key, resume.uploadId, parts, {
    headers: { "if-none-match": "*" },
    ...(signal && { signal }),
  });
  const code = s3ErrorCode(complete.body);
  if (complete.status === 200 && code === null) return done({ class: "stored", status: 200 });
  if (complete.status === 412) {
    return done(duplicateOf(412, await head(ctx, signal)) ?? ctx.classify(complete));
  }
  if (code !== null && UPLOAD_GONE.has(code)) return { restart: true, stale: resume };
  return done(ctx.classify(complete));
}

/** Hex SHA-256 of `length` bytes of `path` from `offset`, also fed into `whole`; null if short. */
async function hashRange(
  path: string,
  offset: number,
  length: number,
  whole: Hash,
): Promise<string | null> {
  const part = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const buffer = new Uint8Array(Math.min(HASH_READ_BYTES, Math.max(1, length)));
  let left = length;
  while (left > 0) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, left)));
    if (n === null) return null;
    const chunk = buffer.subarray(0, n);
    part.update(chunk);
    whole.update(chunk);
    left -= n;
  }
  return part.digest("hex");
}
