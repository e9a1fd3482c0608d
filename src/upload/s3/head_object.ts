/**
 * HEAD of an episode's key: whether the store holds it, and under which SHA-256 (its metadata).
 * The second half of exactly-once: after a 412, before completing a multipart upload, and in the
 * collector's storage.
 */
import type { Answer } from "../receiver.ts";
import { META } from "./object_key.ts";
import type { S3Answer, S3Client } from "./s3_client.ts";

/** What a HEAD found. `answer`: the HEAD itself failed (credentials, clock, store down). */
export type HeadResult =
  | { exists: false }
  | {
    exists: true;
    /** Base64 SHA-256 from the object's metadata; null when it has none (not ours). */
    digest: string | null;
    etag: string | null;
  }
  | { answer: Answer };

const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * HEADs `key`. 404 is "absent"; any other non-200 is classified by `classify`.
 * @throws {import("../put.ts").UploadError} when no answer came
 */
export async function headObject(
  client: S3Client,
  key: string,
  options: { classify: (answer: S3Answer) => Answer; signal?: AbortSignal | undefined },
): Promise<HeadResult> {
  const head = await client.send({
    method: "HEAD",
    key,
    ...(options.signal && { signal: options.signal }),
  });
  if (head.status === 404) return { exists: false };
  if (head.status !== 200) return { answer: options.classify(head) };
  const digest = head.headers[META.sha256]?.trim() ?? "";
  return {
    exists: true,
    digest: SHA256_BASE64.test(digest) ? digest : null,
    etag: head.headers.etag ?? null,
  };
}

/** The answer for a key the store already holds: a duplicate, with its digest. */
export function duplicateOf(status: number, head: HeadResult): Answer | null {
  if ("answer" in head) return head.answer;
  if (!head.exists) return null;
  return { class: "duplicate", status, digest: head.digest };
}
