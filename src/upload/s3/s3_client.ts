/**
 * Signed S3 requests over the project's one HTTPS client (`put()`, with the receiver's keep-alive
 * pool from `agent.ts`): the handful of S3 operations the receiver and the collector's storage
 * use, each returning the raw answer. No classification here (that is `classify_s3.ts`), no
 * retries (that is the queue's).
 */
import { createHash } from "node:crypto";
import { createReceiverAgent, type ReceiverAgent } from "../agent.ts";
import { put, type PutResponse } from "../put.ts";
import type { Throttle } from "../throttle.ts";
import { xmlEscape, xmlValue } from "./_xml.ts";
import { describeS3, type S3Settings } from "./settings.ts";
import { EMPTY_SHA256_HEX, signRequest } from "./sign.ts";

/** One request, before signing. */
export interface S3Request {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** The object key; null addresses the bucket itself. */
  key: string | null;
  /** Query parameters (`uploadId`, `partNumber`, `uploads: ""`). @default {none} */
  query?: Record<string, string>;
  /** Extra headers, lower-case names. @default {none} */
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body: the store rejects a body that does not match. @default {of ""} */
  payloadSha256Hex?: string;
  /** The body as bytes or a stream. @default {none} */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** The body from a file, from `bodyOffset`. */
  bodyPath?: string;
  /** @default {0} */
  bodyOffset?: number;
  /** Body bytes, sent as Content-Length. @default {0, or the length of a `Uint8Array` body} */
  size?: number;
  signal?: AbortSignal;
}

/** An answer, and when its request was signed (for the clock-skew check). */
export interface S3Answer extends PutResponse {
  sentAt: number;
}

/** Options for {@linkcode S3Client}. */
export interface S3ClientOptions {
  /** The connection pool. @default {a keep-alive pool of `maxSockets` made from the settings} */
  agent?: ReceiverAgent;
  /** Sockets of the pool made here. @default {4} */
  maxSockets?: number;
  /** The host's bandwidth cap, for bodies. @default {none} */
  throttle?: Throttle;
  /** The signing clock (a test skews it). @default {Date.now} */
  now?: () => number;
}

/** A parsed `ListMultipartUploads` entry. */
export interface MultipartUploadEntry {
  key: string;
  uploadId: string;
}

/**
 * Talks to one bucket.
 * @example
 * ```ts
 * const client = new S3Client(settings);
 * const head = await client.send({ method: "HEAD", key: "lab-01/e1.tar.gz" });
 * client.close();
 * ```
 */
export class S3Client {
  readonly settings: S3Settings;
  /** `s3://bucket/prefix at https://rgw:7480`, for log lines. */
  readonly describe: string;
  readonly #agent: ReceiverAgent;
  readonly #ownsAgent: boolean;
  readonly #throttle: Throttle | undefined;
  readonly #now: () => number;

  constructor(settings: S3Settings, options: S3ClientOptions = {}) {
    this.settings = settings;
    this.describe = describeS3(settings);
    this.#agent = options.agent ?? createReceiverAgent({
      tls: settings.tls,
      verifyTls: settings.verifyTls,
      maxSockets: options.maxSockets ?? 4,
    });
    this.#ownsAgent = options.agent === undefined;
    this.#throttle = options.throttle;
    this.#now = options.now ?? Date.now;
  }

  /** Host and path of a request: path-style `/bucket/key`, or `bucket.host` and `/key`. */
  #address(key: string | null, query: Record<string, string>): { host: string; path: string } {
    const url = new URL(this.settings.endpoint);
    const encodedKey = key === null ? "" : key.split("/").map(encodeURIComponent).join("/");
    const search = Object.entries(query)
      .map(([k, v]) => (v === "" ? encodeURIComponent(k) : `${k}=${encodeURIComponent(v)}`))
      .join("&");
    const tail = search ? `?${search}` : "";
    if (this.settings.pathStyle) {
      return {
        host: url.host,
        path: `/${this.settings.bucket}${key === null ? "" : `/${encodedKey}`}${tail}`,
      };
    }
    return { host: `${this.settings.bucket}.${url.host}`, path: `/${encodedKey}${tail}` };
  }

  /**
   * Signs and sends one request.
   * @throws {import("../put.ts").UploadError} when no answer came (network, TLS, timeout, abort)
   */
  async send(request: S3Request): Promise<S3Answer> {
    const size = request.size ??
      (request.body instanceof Uint8Array ? request.body.length : 0);
    const { host, path } = this.#address(request.key, request.query ?? {});
    const sentAt = this.#now();
    const signed = signRequest(
      {
        method: request.method,
        host,
        path,
        headers: {
          ...request.headers,
          "x-amz-content-sha256": request.payloadSha256Hex ?? EMPTY_SHA256_HEX,
          "content-length": String(size),
        },
      },
      this.settings.credentials,
      { region: this.settings.region, now: sentAt },
    );
    const url = new URL(this.settings.endpoint);
    const response = await put({
      method: request.method,
      url: `${url.protocol}//${this.settings.pathStyle ? url.host : host}${signed.path}`,
      headers: signed.headers,
      size,
      ...(request.bodyPath !== undefined && { bodyPath: request.bodyPath }),
      ...(request.bodyOffset !== undefined && { bodyOffset: request.bodyOffset }),
      ...(request.body !== undefined && { body: request.body }),
      timeoutMs: this.settings.requestTimeoutMs,
      tls: this.settings.tls,
      verifyTls: this.settings.verifyTls,
      agent: this.#agent,
      ...(this.#throttle && size > 0 && { throttle: this.#throttle }),
      ...(request.signal && { signal: request.signal }),
    });
    return { ...response, sentAt };
  }

  /** CreateMultipartUpload: the upload id, or the answer that refused it. */
  async createMultipartUpload(
    key: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ uploadId: string } | { refused: S3Answer }> {
    const answer = await this.send({
      method: "POST",
      key,
      query: { uploads: "" },
      headers,
      ...(signal && { signal }),
    });
    const uploadId = answer.status === 200 ? xmlValue(answer.body, "UploadId") : null;
    return uploadId ? { uploadId } : { refused: answer };
  }

  /** CompleteMultipartUpload with the parts' ETags, in order. */
  completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string }[],
    options: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<S3Answer> {
    const xml = "<CompleteMultipartUpload>" +
      parts.map((p) =>
        `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`
      ).join("") +
      "</CompleteMultipartUpload>";
    const body = new TextEncoder().encode(xml);
    return this.send({
      method: "POST",
      key,
      query: { uploadId },
      headers: { "content-type": "application/xml", ...options.headers },
      body,
      payloadSha256Hex: sha256Hex(body),
      ...(options.signal && { signal: options.signal }),
    });
  }

  /** AbortMultipartUpload: 204 when aborted, 404 `NoSuchUpload` when already gone. */
  abortMultipartUpload(key: string, uploadId: string): Promise<S3Answer> {
    return this.send({ method: "DELETE", key, query: { uploadId } });
  }

  /** ListMultipartUploads under `prefix` (the first 1000; the first 4 KiB of the answer). */
  async listMultipartUploads(prefix: string): Promise<MultipartUploadEntry[] | S3Answer> {
    const answer = await this.send({
      method: "GET",
      key: null,
      query: { uploads: "", prefix },
    });
    if (answer.status !== 200) return answer;
    const uploads = answer.body.match(/<Upload>[\s\S]*?<\/Upload>/g) ?? [];
    return uploads.map((u) => ({
      key: xmlValue(u, "Key") ?? "",
      uploadId: xmlValue(u, "UploadId") ?? "",
    }));
  }

  /** Closes the pool (only one made here). */
  close(): void {
    if (this.#ownsAgent) this.#agent.close();
  }
}

/** Hex SHA-256 of bytes in memory (small XML bodies). */
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
