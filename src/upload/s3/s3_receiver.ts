/**
 * The shipper's S3 receiver: an episode becomes the object `<prefix>/<host_id>/<episode_id>.<ext>`
 * in a bucket, stored exactly once with its bytes checked by the store itself.
 *
 * - One PUT below the multipart threshold: `If-None-Match: *` makes it conditional (a 412 when the
 *   key exists), `x-amz-content-sha256` is the packer's digest (the store refuses other bytes),
 *   metadata carries host, episode, commit, SHA-256 and shipper version. A 412 is answered by a
 *   HEAD: the stored object's SHA-256 metadata decides duplicate (same) or quarantine (other).
 * - At or above it, a resumable multipart upload (`multipart.ts`).
 * - Every answer is sorted into the outcome table's classes by `classify_s3.ts`.
 */
import { VERSION } from "../../version.ts";
import { COMPRESSION_FORMAT } from "../../protocol/protocol.ts";
import type { ReceiverAgent } from "../agent.ts";
import { UploadError } from "../put.ts";
import type { Answer, Parcel, Receiver, SendOptions } from "../receiver.ts";
import type { Throttle } from "../throttle.ts";
import { classifyS3Answer, classifyS3Failure } from "./classify_s3.ts";
import { duplicateOf, headObject } from "./head_object.ts";
import { abortQuietly, sendMultipart } from "./multipart.ts";
import { parseResume } from "./multipart_plan.ts";
import { base64ToHex, objectKey, objectMetadata } from "./object_key.ts";
import { type S3Answer, S3Client } from "./s3_client.ts";
import type { S3Settings } from "./settings.ts";

/** Options for {@linkcode S3Receiver}. */
export interface S3ReceiverOptions {
  /** The connection pool. @default {one made from the settings, `maxSockets` wide} */
  agent?: ReceiverAgent;
  /** Sockets of a pool made here: the upload concurrency. @default {4} */
  maxSockets?: number;
  /** The host-wide bandwidth cap. @default {none} */
  throttle?: Throttle;
  /** The signing clock. @default {Date.now} */
  now?: () => number;
  /** Written into each object's metadata. @default {VERSION} */
  shipperVersion?: string;
}

/**
 * Sends episodes to an S3 bucket.
 * @example
 * ```ts
 * const receiver = new S3Receiver(settings, { maxSockets: config.uploadConcurrency });
 * const answer = await receiver.send(parcel, { resume, saveResume });
 * receiver.close();
 * ```
 */
export class S3Receiver implements Receiver {
  readonly describe: string;
  readonly noun = "object store";
  readonly #client: S3Client;
  readonly #settings: S3Settings;
  readonly #version: string;

  constructor(settings: S3Settings, options: S3ReceiverOptions = {}) {
    this.#settings = settings;
    this.#client = new S3Client(settings, {
      ...(options.agent && { agent: options.agent }),
      ...(options.maxSockets !== undefined && { maxSockets: options.maxSockets }),
      ...(options.throttle && { throttle: options.throttle }),
      ...(options.now && { now: options.now }),
    });
    this.describe = this.#client.describe;
    this.#version = options.shipperVersion ?? VERSION;
  }

  /** Sends one parcel; never throws for what the store or the network did. */
  async send(parcel: Parcel, options: SendOptions = {}): Promise<Answer> {
    if (options.signal?.aborted) return { class: "aborted" };
    const key = objectKey(this.#settings.prefix, parcel);
    try {
      if (parcel.size >= this.#settings.multipartThresholdBytes) {
        return await sendMultipart(
          {
            client: this.#client,
            key,
            headers: this.#headers(parcel),
            partBytes: this.#settings.partBytes,
            classify: this.#classify,
          },
          parcel,
          options,
        );
      }
      return await this.#sendSingle(parcel, key, options);
    } catch (error) {
      if (error instanceof UploadError) {
        return options.signal?.aborted ? { class: "aborted" } : classifyS3Failure(error);
      }
      throw error;
    }
  }

  /** Aborts an unfinished multipart upload left for `parcel`. Best effort; never throws. */
  async discard(_parcel: Parcel, resume: unknown): Promise<void> {
    const saved = parseResume(resume);
    if (saved) await abortQuietly(this.#client, saved);
  }

  close(): void {
    this.#client.close();
  }

  #classify = (answer: S3Answer): Answer =>
    classifyS3Answer(answer, {
      sentAt: answer.sentAt,
      bucket: this.#settings.bucket,
      endpoint: this.#settings.endpoint,
    });

  #headers(parcel: Parcel): Record<string, string> {
    return {
      "content-type": COMPRESSION_FORMAT[parcel.compression].contentType,
      ...objectMetadata(parcel, { shipperVersion: this.#version }),
    };
  }

  async #sendSingle(parcel: Parcel, key: string, options: SendOptions): Promise<Answer> {
    const answer = await this.#client.send({
      method: "PUT",
      key,
      headers: { ...this.#headers(parcel), "if-none-match": "*" },
      bodyPath: parcel.path,
      size: parcel.size,
      payloadSha256Hex: base64ToHex(parcel.sha256),
      ...(options.signal && { signal: options.signal }),
    });
    const classified = this.#classify(answer);
    if (classified.class === "stored") options.onProgress?.(parcel.size);
    if (classified.class !== "duplicate") return classified;
    const found = await headObject(this.#client, key, {
      classify: this.#classify,
      signal: options.signal,
    });
    return duplicateOf(answer.status, found) ?? {
      // 412, then no object: it was deleted in between. Nothing is known; try again.
      class: "transient",
      status: answer.status,
      said: `HTTP 412 for "${key}", then the HEAD found no object`,
      retryAfterMs: null,
    };
  }
}
