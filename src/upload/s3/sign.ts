/**
 * Signature V4 for one S3 request, by `aws4` (one small package, no dependencies; see
 * docs/object-store.md for why it and not `@smithy/signature-v4`). The clock is a parameter, so a
 * test can sign with a skewed one and see the store's `RequestTimeTooSkewed`.
 */
// @ts-types="./_aws4.d.ts"
import aws4 from "aws4";
import type { S3Credentials } from "./credentials.ts";

/** A request before signing. */
export interface UnsignedRequest {
  method: string;
  /** `host[:port]` as sent in the Host header. */
  host: string;
  /** Path and query, as sent (`/bucket/key?uploadId=…`). */
  path: string;
  /** Lower-case names; must include `x-amz-content-sha256` and `content-length`. */
  headers: Record<string, string>;
}

/** Options for {@linkcode signRequest}. */
export interface SignOptions {
  region: string;
  /** The signing time, ms since the epoch. @default {Date.now()} */
  now?: number;
}

/**
 * Signs `request`: returns its headers with `host`, `x-amz-date` and `authorization` added, and
 * the path as signed (aws4 normalises the query's encoding; send exactly this path).
 * @example
 * ```ts
 * const signed = signRequest(
 *   { method: "HEAD", host: "127.0.0.1:7480", path: "/episodes/lab-01/e1.tar.gz",
 *     headers: { "x-amz-content-sha256": EMPTY_SHA256_HEX, "content-length": "0" } },
 *   { accessKeyId: "AK", secretAccessKey: "SK" },
 *   { region: "us-east-1" },
 * );
 * ```
 */
export function signRequest(
  request: UnsignedRequest,
  credentials: S3Credentials,
  options: SignOptions,
): { path: string; headers: Record<string, string> } {
  const amzDate = new Date(options.now ?? Date.now()).toISOString().replace(/[-:]|\.\d{3}/g, "");
  const signed = aws4.sign(
    {
      method: request.method,
      host: request.host,
      path: request.path,
      service: "s3",
      region: options.region,
      headers: { ...request.headers, host: request.host, "x-amz-date": amzDate },
    },
    { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) {
    if (v !== undefined) headers[k.toLowerCase()] = String(v);
  }
  return { path: signed.path ?? request.path, headers };
}

/** SHA-256 of the empty body, in hex: the payload hash of every request without a body. */
export const EMPTY_SHA256_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
