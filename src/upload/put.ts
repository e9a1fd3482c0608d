/**
 * One PUT of a file over HTTPS with mutual TLS, framed with an exact `Content-Length`. The S3
 * receiver sends its other requests through it too (HEAD, POST, DELETE, a part of a file, a body
 * streamed from the collector's request).
 *
 * `node:https` rather than `fetch`: Deno's fetch turns a streamed body into chunked framing and has
 * no per-client switch to skip certificate verification; node:https does both, and mTLS.
 *
 * The body is read here in {@linkcode BODY_CHUNK_BYTES} pieces and written with backpressure,
 * not piped from `createReadStream`: in Deno 2.9.6 a piped file stream hangs on a reused
 * keep-alive socket when it fits in one read (tests/upload/put_test.ts reproduces it).
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { TlsMaterial } from "../config/config.ts";
import { createReceiverAgent, type ReceiverAgent } from "./agent.ts";
import { classifyFailure, type FailureKind } from "./classify.ts";
import type { Throttle } from "./throttle.ts";

/** How much of a response body is kept (quarantine reasons hold the first 4 KiB). */
export const RESPONSE_BODY_LIMIT = 4096;

/** Response bytes read past the kept part so the connection can be reused; beyond, it is closed. */
export const RESPONSE_DRAIN_LIMIT = 1024 * 1024;

/** Size of one read of the body file. */
export const BODY_CHUNK_BYTES = 1024 * 1024;

/** The longest timer setTimeout honours; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One upload attempt. */
export interface PutRequest {
  url: string;
  headers: Record<string, string>;
  /** @default {"PUT"} */
  method?: string;
  /** File whose bytes are the body; without it, `body` is (or there is none). */
  bodyPath?: string;
  /** Where the body starts in `bodyPath` (a part of a multipart upload). @default {0} */
  bodyOffset?: number;
  /** The body as bytes or a stream, instead of `bodyPath`. @default {no body} */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Its exact size, sent as Content-Length. */
  size: number;
  /** Bound on the whole attempt, connect to last response byte. */
  timeoutMs: number;
  tls: TlsMaterial;
  /** False skips certificate verification for this request only. */
  verifyTls: boolean;
  signal?: AbortSignal;
  /**
   * The receiver's keep-alive pool (its TLS settings win over `tls`/`verifyTls`).
   * @default {a one-request connection, closed when the attempt ends}
   */
  agent?: ReceiverAgent;
  /** The host-wide bandwidth cap, shared with concurrent uploads. @default {none} */
  throttle?: Throttle;
}

/** The collector's answer. */
export interface PutResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** First {@linkcode RESPONSE_BODY_LIMIT} bytes, as text. */
  body: string;
}

/** The attempt failed before a response: credentials refused in TLS, TLS, network, timeout, abort. */
export class UploadError extends Error {
  /** What failed; "credentials" means the collector refused our client certificate. */
  readonly kind: FailureKind;
  constructor(message: string, kind: FailureKind, options?: ErrorOptions) {
    super(message, options);
    this.name = "UploadError";
    this.kind = kind;
  }
}

function toUploadError(error: Error, sentCert: boolean): UploadError {
  if (error instanceof UploadError) return error;
  const { kind, cause } = classifyFailure(
    { code: (error as { code?: string }).code, message: error.message },
    sentCert,
  );
  return new UploadError(cause, kind, { cause: error });
}

/**
 * PUTs `bodyPath` (or `body`) to `url`. An already-aborted signal rejects at once, without
 * connecting.
 * @throws {UploadError} when no HTTP response arrives (credentials, TLS, network, timeout, abort).
 */
export function put(request: PutRequest): Promise<PutResponse> {
  if (request.signal?.aborted) {
    return Promise.reject(new UploadError("aborted before sending", "aborted"));
  }
  const url = new URL(request.url);
  const isHttps = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const pool = request.agent ??
    createReceiverAgent({
      tls: request.tls,
      verifyTls: request.verifyTls,
      keepAlive: false,
      maxSockets: 1,
    });
  const ownsPool = request.agent === undefined;
  return new Promise<PutResponse>((resolve, reject) => {
    let settled = false;
    let bodySent = false;
    let wakeWriter: (() => void) | null = null;
    const finish = (error: Error | null, response?: PutResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      wakeWriter?.();
      // A connection with an unfinished request or response cannot carry another one: close it.
      if (error || !bodySent) {
        req.destroy();
        req.socket?.destroy();
      }
      if (ownsPool) pool.close();
      if (error) reject(toUploadError(error, pool.sendsCert));
      else resolve(response as PutResponse);
    };
    const options: https.RequestOptions = {
      method: request.method ?? "PUT",
      hostname,
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname + url.search,
      headers: { ...request.headers, "content-length": String(request.size) },
      agent: isHttps ? pool.https : pool.http,
      ...(isHttps && isIP(hostname) === 0 && { servername: hostname }),
    };
    const req = (isHttps ? https : http).request(options, (res) => {
      const chunks: Uint8Array[] = [];
      let kept = 0;
      let seen = 0;
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
      };
      res.on("data", (chunk: Uint8Array) => {
        seen += chunk.length;
        if (kept < RESPONSE_BODY_LIMIT) {
          const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - kept);
          chunks.push(part.slice());
          kept += part.length;
        }
        if (seen > RESPONSE_DRAIN_LIMIT) {
          bodySent = false; // not reusable: finish() closes the connection
          done();
        }
      });
      res.on("end", done);
      res.on("error", (e: Error) => finish(e));
    });
    req.on("error", (e: Error) => finish(e));
    const timeoutMs = Math.min(Math.max(0, request.timeoutMs), MAX_TIMER_MS);
    const timer = setTimeout(
      () =>
        finish(
          new UploadError(`timed out after ${request.timeoutMs / 1000} s`, "timeout"),
        ),
      timeoutMs,
    );
    const onAbort = () => finish(new UploadError("aborted", "aborted"));
    request.signal?.addEventListener("abort", onAbort);
    writeBody(request, req, () => settled, (wake) => (wakeWriter = wake)).then(
      () => {
        if (!settled) {
          bodySent = true;
          req.end();
        }
      },
      (error: Error) => finish(error),
    );
  });
}

/** Streams the body into `req` in big pieces, honouring backpressure and the throttle. */
async function writeBody(
  request: PutRequest,
  req: http.ClientRequest,
  stopped: () => boolean,
  onWait: (wake: (() => void) | null) => void,
): Promise<void> {
  const slice = request.throttle?.sliceBytes ?? BODY_CHUNK_BYTES;
  for await (const chunk of bodyChunks(request)) {
    for (let off = 0; off < chunk.length && !stopped(); off += slice) {
      const part = chunk.subarray(off, Math.min(chunk.length, off + slice));
      if (request.throttle) await request.throttle.take(part.length, request.signal);
      if (stopped()) return;
      if (!req.write(part)) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            req.off("drain", wake);
            onWait(null);
            resolve();
          };
          req.on("drain", wake);
          onWait(wake);
        });
      }
    }
    if (stopped()) return;
  }
}

/** The body's bytes, exactly `request.size` of them. @throws when the source has more or fewer */
async function* bodyChunks(request: PutRequest): AsyncGenerator<Uint8Array> {
  if (request.bodyPath !== undefined) {
    yield* fileChunks(request.bodyPath, request.bodyOffset ?? 0, request.size);
    return;
  }
  const body = request.body ?? new Uint8Array(0);
  const source = body instanceof Uint8Array ? [body] : body;
  let sent = 0;
  for await (const chunk of source) {
    sent += chunk.length;
    if (sent > request.size) throw new Error(`body is longer than its size ${request.size}`);
    yield chunk;
  }
  if (sent < request.size) throw new Error(`body ended ${request.size - sent} bytes short`);
}

/** `size` bytes of a file from `offset`, in {@linkcode BODY_CHUNK_BYTES} reads. */
async function* fileChunks(path: string, offset: number, size: number): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
  let remaining = size;
  while (remaining > 0) {
    const buffer = new Uint8Array(Math.min(BODY_CHUNK_BYTES, remaining));
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled === 0) throw new Error(`"${path}" ended ${remaining} bytes short of its size`);
    remaining -= filled;
    yield buffer.subarray(0, filled);
  }
}
