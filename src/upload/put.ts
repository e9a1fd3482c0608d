/**
 * One PUT of a file over HTTPS with mutual TLS, framed with an exact `Content-Length`.
 *
 * `node:https` rather than `fetch`: Deno's fetch turns a streamed body into chunked framing and has
 * no per-client switch to skip certificate verification; node:https does both, and mTLS.
 */
import http from "node:http";
import https from "node:https";
import { createReadStream } from "node:fs";
import { isIP } from "node:net";
import type { TlsMaterial } from "../config/config.ts";

/** How much of a response body is kept (quarantine reasons hold the first 4 KiB). */
export const RESPONSE_BODY_LIMIT = 4096;

/** One upload attempt. */
export interface PutRequest {
  url: string;
  headers: Record<string, string>;
  /** File whose bytes are the body. */
  bodyPath: string;
  /** Its exact size, sent as Content-Length. */
  size: number;
  /** Bound on the whole attempt, connect to last response byte. */
  timeoutMs: number;
  tls: TlsMaterial;
  /** False skips certificate verification for this request only. */
  verifyTls: boolean;
  signal?: AbortSignal;
}

/** The collector's answer. */
export interface PutResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** First {@linkcode RESPONSE_BODY_LIMIT} bytes, as text. */
  body: string;
}

/** The attempt failed before a response: network, TLS, timeout or abort. */
export class UploadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UploadError";
  }
}

/**
 * PUTs `bodyPath` to `url`.
 * @throws {UploadError} when no HTTP response arrives (network, TLS, timeout, abort).
 */
export function put(request: PutRequest): Promise<PutResponse> {
  const url = new URL(request.url);
  const isHttps = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  return new Promise<PutResponse>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, response?: PutResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      body.destroy();
      if (error) {
        req.destroy();
        reject(
          error instanceof UploadError ? error : new UploadError(error.message, { cause: error }),
        );
      } else resolve(response as PutResponse);
    };
    const options: https.RequestOptions = {
      method: "PUT",
      hostname,
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname,
      headers: { ...request.headers, "content-length": String(request.size) },
      agent: false,
      ...(isHttps && {
        rejectUnauthorized: request.verifyTls,
        ...(request.tls.ca !== undefined && { ca: request.tls.ca }),
        ...(request.tls.cert !== undefined && { cert: request.tls.cert }),
        ...(request.tls.key !== undefined && { key: request.tls.key }),
        // SNI carries names only; for an IP literal the certificate's IP SAN is checked.
        ...(isIP(hostname) === 0 && { servername: hostname }),
      }),
    };
    const req = (isHttps ? https : http).request(options, (res) => {
      const chunks: Uint8Array[] = [];
      let kept = 0;
      const done = () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          headers[k] = Array.isArray(v) ? v.join(", ") : v;
        }
        const bytes = new Uint8Array(kept);
        let off = 0;
        for (const c of chunks) {
          bytes.set(c, off);
          off += c.length;
        }
        finish(null, {
          status: res.statusCode ?? 0,
          headers,
          body: new TextDecoder().decode(bytes),
        });
        res.destroy();
      };
      res.on("data", (chunk: Uint8Array) => {
        if (kept < RESPONSE_BODY_LIMIT) {
          const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - kept);
          chunks.push(part);
          kept += part.length;
        }
        if (kept >= RESPONSE_BODY_LIMIT) done();
      });
      res.on("end", done);
      res.on("error", (e: Error) => finish(e));
    });
    req.on("error", (e: Error) => finish(e));
    const timer = setTimeout(
      () => finish(new UploadError(`timed out after ${request.timeoutMs / 1000} s`)),
      request.timeoutMs,
    );
    const onAbort = () => finish(new UploadError("aborted"));
    request.signal?.addEventListener("abort", onAbort);
    const body = createReadStream(request.bodyPath);
    body.on("error", (e: Error) => finish(e));
    body.pipe(req);
  });
}
