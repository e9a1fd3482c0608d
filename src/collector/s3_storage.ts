/**
 * The reference collector's storage in an S3-compatible bucket: the role of `storage.ts`
 * (`storeUpload`/`isStored`) with the object store holding the episodes, so several collectors
 * behind one address share one store and each episode is still stored once.
 *
 * The body is streamed from the shipper's request straight into a conditional PUT
 * (`If-None-Match: *`) at `<prefix>/<host_id>/<episode_id>.<ext>`, with the admitted length as
 * Content-Length and the admitted digest as `x-amz-content-sha256`: the store verifies the bytes
 * (a mismatch stores nothing) and refuses a second copy atomically, whichever collector got there
 * first. Nothing touches the collector's disk.
 */
import type { Admitted } from "./gate.ts";
import { type Compression, COMPRESSION_FORMAT, COMPRESSIONS } from "../protocol/protocol.ts";
import { UploadError } from "../upload/put.ts";
import { classifyS3Answer, classifyS3Failure, s3ErrorCode } from "../upload/s3/classify_s3.ts";
import { headObject } from "../upload/s3/head_object.ts";
import { base64ToHex, objectKey, objectMetadata } from "../upload/s3/object_key.ts";
import { type S3Answer, S3Client } from "../upload/s3/s3_client.ts";
import type { S3Settings } from "../upload/s3/settings.ts";
import type { Answer } from "../upload/receiver.ts";

/** Result of {@linkcode S3Storage.storeUpload}: `storage.ts`'s kinds, and the store's trouble. */
export type S3StoreResult =
  | { kind: "stored"; path: string }
  /** `sha256`: base64 digest of the stored object (for the 409's `Repr-Digest`); null if unknown. */
  | { kind: "duplicate"; sha256: string | null }
  /** The store computed another digest than the admitted one: nothing stored (shipper repacks). */
  | { kind: "mismatch"; detail: string }
  /**
   * The store did not take it (down, throttling, our key or clock): nothing stored; answer 503
   * with `retryAfterS` so the shipper tries again. `detail` is for the collector's log.
   */
  | { kind: "unavailable"; detail: string; retryAfterS: number | null };

/** Options for {@linkcode S3Storage}. */
export interface S3StorageOptions {
  /** The signing clock. @default {Date.now} */
  now?: () => number;
  /** Concurrent requests to the store. @default {16} */
  maxSockets?: number;
}

/**
 * Stores accepted uploads in a bucket.
 * @example
 * ```ts
 * const storage = new S3Storage(settings);
 * if (!(await storage.isStored(upload))) await storage.storeUpload(upload, req, meta);
 * ```
 */
export class S3Storage {
  /** `s3://bucket/prefix at https://rgw:7480`, for the start-up log line. */
  readonly describe: string;
  readonly #client: S3Client;
  readonly #settings: S3Settings;

  constructor(settings: S3Settings, options: S3StorageOptions = {}) {
    this.#settings = settings;
    this.#client = new S3Client(settings, {
      maxSockets: options.maxSockets ?? 16,
      ...(options.now && { now: options.now }),
    });
    this.describe = this.#client.describe;
  }

  /** Where an episode is stored: `s3://bucket/<key>`. */
  storedPath(upload: Pick<Admitted, "hostId" | "episodeId" | "compression">): string {
    return `s3://${this.#settings.bucket}/${objectKey(this.#settings.prefix, upload)}`;
  }

  /**
   * The stored copy of this episode under any compression's extension, its own first: where it
   * is and its SHA-256 from the object's metadata (null: none recorded); null when there is
   * none. A cheap early 409; the conditional PUT is what guarantees one copy.
   * @throws {Error} when the store cannot say (the caller answers 503)
   */
  async findStored(
    upload: Pick<Admitted, "hostId" | "episodeId"> & { compression?: Compression },
  ): Promise<{ path: string; sha256: string | null } | null> {
    const order = upload.compression
      ? [upload.compression, ...COMPRESSIONS.filter((c) => c !== upload.compression)]
      : COMPRESSIONS;
    for (const compression of order) {
      const key = objectKey(this.#settings.prefix, { ...upload, compression });
      const found = await headObject(this.#client, key, { classify: this.#classify });
      if ("answer" in found) throw new Error(`HEAD "${key}": ${answerDetail(found.answer)}`);
      if (found.exists) {
        return { path: `s3://${this.#settings.bucket}/${key}`, sha256: found.digest };
      }
    }
    return null;
  }

  /**
   * Whether the bucket already holds this episode, under any compression's extension.
   * @throws {Error} when the store cannot say (the caller answers 503)
   */
  async isStored(upload: Pick<Admitted, "hostId" | "episodeId">): Promise<boolean> {
    return (await this.findStored(upload)) !== null;
  }

  /**
   * Streams `body` into the bucket with a conditional PUT; the store checks length and digest.
   * @throws when the body ends early (client gone); nothing is stored then.
   */
  async storeUpload(
    upload: Admitted,
    body: AsyncIterable<Uint8Array>,
    meta: { clientSubject: string; now: number },
  ): Promise<S3StoreResult> {
    const key = objectKey(this.#settings.prefix, upload);
    let received = 0;
    let clientBroke = false;
    async function* counted(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of body) {
          received += chunk.length;
          if (received > upload.size) clientBroke = true;
          yield chunk;
        }
      } catch (error) {
        clientBroke = true;
        throw error;
      }
      if (received < upload.size) clientBroke = true;
    }
    let answer: S3Answer;
    try {
      answer = await this.#client.send({
        method: "PUT",
        key,
        headers: {
          "content-type": COMPRESSION_FORMAT[upload.compression].contentType,
          "if-none-match": "*",
          ...objectMetadata(upload, { clientSubject: meta.clientSubject }),
          "x-amz-meta-received-at": new Date(meta.now).toISOString(),
        },
        body: counted(),
        size: upload.size,
        payloadSha256Hex: base64ToHex(upload.sha256),
      });
    } catch (error) {
      if (!(error instanceof UploadError)) throw error;
      if (clientBroke) {
        // The shipper's body broke off (or ran long): nothing was stored; the caller logs it.
        throw new Error(
          `the client's body broke off after ${received} of ${upload.size} bytes`,
          { cause: error },
        );
      }
      return unavailable(classifyS3Failure(error));
    }
    const code = s3ErrorCode(answer.body);
    if (answer.status >= 200 && answer.status < 300 && code === null) {
      return { kind: "stored", path: `s3://${this.#settings.bucket}/${key}` };
    }
    if (answer.status === 412) {
      const found = await headObject(this.#client, key, { classify: this.#classify })
        .catch((error: Error) => ({ error }));
      if ("exists" in found && found.exists) return { kind: "duplicate", sha256: found.digest };
      // Taken, then gone, or the HEAD failed: say so, and let the shipper try again.
      const why = "error" in found
        ? found.error.message
        : "answer" in found
        ? answerDetail(found.answer)
        : "the object vanished after the store refused a second copy";
      return { kind: "unavailable", detail: `HTTP 412 for "${key}", then ${why}`, retryAfterS: 5 };
    }
    const classified = this.#classify(answer);
    if (classified.class === "repack") {
      return {
        kind: "mismatch",
        detail: `the store refused the body: ${classified.said} (it does not match Content-Digest)`,
      };
    }
    return unavailable(classified);
  }

  /** Closes pooled connections. */
  close(): void {
    this.#client.close();
  }

  #classify = (answer: S3Answer): Answer =>
    classifyS3Answer(answer, {
      sentAt: answer.sentAt,
      bucket: this.#settings.bucket,
      endpoint: this.#settings.endpoint,
    });
}

function answerDetail(answer: Answer): string {
  if (answer.class === "aborted") return "aborted";
  if (answer.class === "stored" || answer.class === "duplicate") return `HTTP ${answer.status}`;
  return "cause" in answer ? `${answer.said} (${answer.cause})` : answer.said;
}

function unavailable(answer: Answer): S3StoreResult {
  const retryAfterMs = answer.class === "transient" ? answer.retryAfterMs : null;
  return {
    kind: "unavailable",
    detail: answerDetail(answer),
    retryAfterS: retryAfterMs === null ? null : Math.ceil(retryAfterMs / 1000),
  };
}
