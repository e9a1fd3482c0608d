/**
 * One PUT of a file over HTTPS with mutual TLS, framed with an exact `Content-Length`. The S3
 * receiver sends its other requests through it too (HEAD, POST, DELETE, a part of a file, a body
 * streamed from the collector's request).
 *
 * `node:https` rather than `fetch`: Deno's fetch turns a streamed body into chunked framing and has
 * no per-client switch to skip certificate verification; node:https does both, and mTLS.
 *
 * The body is read here into two {@linkcode BODY_CHUNK_BYTES} buffers (from the pool packing
 * gives its buffers back to; one of its own size class for a body smaller than that), each refilled only after the socket called back for its last write,
 * and written with backpressure; not piped from
 * `createReadStream`: in Deno 2.9.6 a piped file stream hangs on a reused keep-alive socket when it
 * fits in one read (tests/upload/put_test.ts reproduces it), and a fresh buffer per read is garbage
 * V8 only collects under external-memory pressure (peak RSS grew by ~60 MB per 512 MiB upload).
 *
 * Two connection failures are not what they first look like:
 * - A kept-alive connection the server closed while it sat in the pool (a reload, an idle timeout)
 *   fails the next request before any response byte. That request is sent again, at once and
 *   once, on a fresh connection: PUT is idempotent and the collector dedupes.
 * - A server that refuses our client certificate sends a TLS alert as our body starts to flow; the
 *   write that follows often meets the reset first (EPIPE, ECONNRESET) and the alert is never read.
 *   A reset on a fresh connection is therefore checked by a handshake that sends nothing
 *   ({@linkcode handshakeVerdict}): what the server says to it decides, not which error came first.
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import tls from "node:tls";
import type { TlsMaterial } from "../config/config.ts";
import { giveBuffers, sizeFor, takeBufferAtLeast } from "../fs/buffers.ts";
import { createReceiverAgent, type ReceiverAgent } from "./agent.ts";
import { classifyFailure, type FailureKind, isTlsRecord } from "./classify.ts";
import type { Throttle } from "./throttle.ts";

/** How much of a response body is kept (quarantine reasons hold the first 4 KiB). */
export const RESPONSE_BODY_LIMIT = 4096;

/** Response bytes read past the kept part so the connection can be reused; beyond, it is closed. */
export const RESPONSE_DRAIN_LIMIT = 1024 * 1024;

/** An answer's headers, a repeated one joined into one line. */
export function answerHeaders(res: http.IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    headers[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return headers;
}

/** The first {@linkcode RESPONSE_BODY_LIMIT} bytes of an answer's body, copied as they arrive. */
export class AnswerBody {
  readonly #chunks: Uint8Array[] = [];
  #kept = 0;

  /** Keeps what fits of `chunk`; true once the limit is reached. */
  add(chunk: Uint8Array): boolean {
    if (this.#kept < RESPONSE_BODY_LIMIT) {
      const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - this.#kept);
      this.#chunks.push(part.slice());
      this.#kept += part.length;
    }
    return this.#kept >= RESPONSE_BODY_LIMIT;
  }

  /** What was kept, as text. */
  text(): string {
    const bytes = new Uint8Array(this.#kept);
    let off = 0;
    for (const c of this.#chunks) {
      bytes.set(c, off);
      off += c.length;
    }
    return new TextDecoder().decode(bytes);
  }
}

/** Size of one read of the body file (two buffers of it per upload). */
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
  /**
   * The body as bytes or a stream, instead of `bodyPath`. A stream cannot be sent twice: a
   * request with one is not retried on a fresh connection. @default {no body}
   */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Its exact size, sent as Content-Length. */
  size: number;
  /** Bound on each try of the attempt, connect to last response byte. */
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
  /**
   * Body bytes the connection has taken so far, after each write (from 0 again if the request
   * is sent again on a fresh connection). @default {none}
   */
  onProgress?: (sentBytes: number) => void;
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

/** The body file could not be read: a local failure, not the collector's nor the network's. */
export class BodyReadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyReadError";
  }
}

/** What one try on one connection saw, beyond its result. */
interface Trace {
  /** The request went out on a kept-alive connection an earlier request had used. */
  reused: boolean;
  /** Response headers arrived. */
  answered: boolean;
}

type Try = { ok: true; response: PutResponse } | { ok: false; error: Error; trace: Trace };

/**
 * PUTs `bodyPath` to `url`. An already-aborted signal rejects at once, without connecting.
 * @throws {UploadError} when no HTTP response arrives (credentials, TLS, network, timeout, abort)
 * @throws {BodyReadError} when the body file cannot be read whole
 * @example
 * ```ts
 * const response = await put({ url, headers, bodyPath, size, timeoutMs: 60_000, tls, verifyTls: true, agent });
 * ```
 */
export async function put(request: PutRequest): Promise<PutResponse> {
  if (request.signal?.aborted) throw new UploadError("aborted before sending", "aborted");
  const pool = request.agent ??
    createReceiverAgent({
      tls: request.tls,
      verifyTls: request.verifyTls,
      keepAlive: false,
      maxSockets: 1,
    });
  try {
    let result = await tryOnce(request, pool);
    const resendable = request.body === undefined || request.body instanceof Uint8Array;
    if (!result.ok && resendable && isStale(result.error, result.trace)) {
      pool.stats.staleRetries++;
      const fresh = pool.fresh();
      try {
        result = await tryOnce(request, fresh);
      } finally {
        fresh.close();
      }
    }
    if (result.ok) return result.response;
    throw await explain(result.error, result.trace, request, pool);
  } finally {
    if (request.agent === undefined) pool.close();
  }
}

/** A kept-alive connection the server had closed: it ended before any answer, not by our doing. */
function isStale(error: Error, trace: Trace): boolean {
  return trace.reused && !trace.answered && !(error instanceof UploadError) &&
    !(error instanceof BodyReadError);
}

const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** The error `put()` rejects with for a failed try: classified, and a reset checked first. */
async function explain(
  error: Error,
  trace: Trace,
  request: PutRequest,
  pool: ReceiverAgent,
): Promise<Error> {
  if (error instanceof UploadError || error instanceof BodyReadError) return error;
  const code = (error as { code?: string }).code;
  const url = new URL(request.url);
  const tlsReply = url.protocol === "http:" &&
    isTlsRecord((error as { rawPacket?: unknown }).rawPacket);
  const failure = classifyFailure({ code, message: error.message, tlsReply }, pool.sendsCert);
  if (
    failure.kind === "network" && RESET_CODES.has(code ?? "") && url.protocol === "https:" &&
    !trace.reused && !trace.answered
  ) {
    // Twice: Deno's TLS client now and then reports a refused handshake as a bare close (seen
    // once in 50 runs under load), so one quiet probe alone could miss the alert too.
    for (let probe = 0; probe < 2 && !request.signal?.aborted; probe++) {
      for (const said of await handshakeVerdict(url, pool, request)) {
        const verdict = classifyFailure(
          { code: (said as { code?: string }).code, message: said.message },
          pool.sendsCert,
        );
        if (verdict.kind === "credentials") {
          return new UploadError(verdict.cause, "credentials", { cause: said });
        }
      }
    }
  }
  return new UploadError(failure.cause, failure.kind, { cause: error });
}

/**
 * Opens a connection with the pool's TLS settings, completes the handshake, sends nothing but
 * `close_notify`, and returns the errors the server ended it with (the alert that refuses our
 * certificate, maybe after a reset), none when it closed quietly. With no request data in flight
 * no write can meet a reset, so the alert, when there is one, is read.
 */
function handshakeVerdict(
  url: URL,
  pool: ReceiverAgent,
  request: PutRequest,
): Promise<Error[]> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const said: Error[] = [];
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      ...(isIP(host) === 0 && { servername: host }),
      ...pool.tlsOptions,
    });
    const done = () => {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", done);
      socket.destroy();
      resolve(said);
    };
    const timer = setTimeout(done, Math.min(Math.max(0, request.timeoutMs), MAX_TIMER_MS));
    request.signal?.addEventListener("abort", done);
    socket.on("secureConnect", () => socket.end());
    socket.on("error", (error: Error) => said.push(error));
    socket.on("close", done);
    socket.resume();
  });
}

/** One try on one connection of `pool`; resolves with the response or with why there was none. */
function tryOnce(request: PutRequest, pool: ReceiverAgent): Promise<Try> {
  const url = new URL(request.url);
  const isHttps = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const trace: Trace = { reused: false, answered: false };
  return new Promise<Try>((resolve) => {
    let settled = false;
    let bodySent = false;
    let wake = () => {};
    const stopped = new Promise<void>((r) => (wake = r));
    const finish = (error: Error | null, response?: PutResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      wake();
      // A connection with an unfinished request or response cannot carry another one: close it.
      if (error || !bodySent) {
        req.destroy();
        req.socket?.destroy();
      }
      resolve(
        error ? { ok: false, error, trace } : { ok: true, response: response as PutResponse },
      );
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
      trace.answered = true;
      const body = new AnswerBody();
      let seen = 0;
      const done = () =>
        finish(null, {
          status: res.statusCode ?? 0,
          headers: answerHeaders(res),
          body: body.text(),
        });
      res.on("data", (chunk: Uint8Array) => {
        seen += chunk.length;
        body.add(chunk);
        if (seen > RESPONSE_DRAIN_LIMIT) {
          bodySent = false; // not reusable: finish() closes the connection
          done();
        }
      });
      res.on("end", done);
      res.on("error", (e: Error) => finish(e));
    });
    // Deno 2.9.6's ClientRequest sends a request whose reused socket closed again by itself, but
    // without the body bytes already flushed: the server then waits for a body that never comes,
    // until our timeout (reproduced against a reloading nginx). put() retries itself, whole. It
    // also keeps the pool's buffers off the wire once given back: Deno's own retry would resend
    // the written chunks from their buffers, which another pack may be filling by then.
    (req as { _retrying?: boolean })._retrying = true;
    req.on("socket", () => (trace.reused = req.reusedSocket === true));
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
    writeBody(request, req, stopped, () => settled).then(
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

/** Fills `buffer` from `file`; returns how many bytes it read (fewer at the end of the file). */
async function readFull(file: Deno.FsFile, buffer: Uint8Array, path: string): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    let n: number | null;
    try {
      n = await file.read(buffer.subarray(filled));
    } catch (error) {
      throw new BodyReadError(`Cannot read "${path}": ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/**
 * Streams the body into `req` through two reused buffers (a file) or as given (bytes, a stream),
 * honouring backpressure and the throttle. `stopped` resolves when the try ended (answer, error,
 * abort), so no wait outlives it.
 */
async function writeBody(
  request: PutRequest,
  req: http.ClientRequest,
  stopped: Promise<void>,
  isStopped: () => boolean,
): Promise<void> {
  if (request.bodyPath === undefined) {
    return await writeGiven(request, req, stopped, isStopped);
  }
  const path = request.bodyPath;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
    if (request.bodyOffset) file.seekSync(request.bodyOffset, Deno.SeekMode.Start);
  } catch (error) {
    throw new BodyReadError(`Cannot read "${path}": ${(error as Error).message}`, { cause: error });
  }
  using _file = file;
  const chunk = Math.max(1, Math.min(BODY_CHUNK_BYTES, request.size));
  // A body smaller than a chunk is read into one buffer of its own size class.
  const size = sizeFor(chunk, BODY_CHUNK_BYTES);
  const whole = [takeBufferAtLeast(size)];
  if (request.size > chunk) whole.push(takeBufferAtLeast(size));
  const buffers = whole.map((b) => b.subarray(0, chunk));
  // When the socket has taken each buffer's last write: only then may it be refilled.
  const released: Promise<void>[] = buffers.map(() => Promise.resolve());
  const slice = request.throttle?.sliceBytes ?? chunk;
  let remaining = request.size;
  let sent = 0;
  for (let turn = 0; remaining > 0 && !isStopped(); turn++) {
    const index = turn % buffers.length;
    await Promise.race([released[index], stopped]);
    if (isStopped()) return;
    const buffer = (buffers[index] as Uint8Array).subarray(0, Math.min(chunk, remaining));
    const filled = await readFull(file, buffer, path);
    if (filled < buffer.length) {
      throw new BodyReadError(`"${path}" ended ${remaining - filled} bytes short of its size`);
    }
    remaining -= filled;
    for (let off = 0; off < filled && !isStopped(); off += slice) {
      const part = buffer.subarray(off, Math.min(filled, off + slice));
      if (request.throttle) await request.throttle.take(part.length, request.signal);
      if (isStopped()) return;
      let fits = true;
      released[index] = new Promise<void>((resolve) => {
        fits = req.write(part, () => {
          sent += part.length;
          request.onProgress?.(sent);
          resolve();
        });
      });
      if (!fits) {
        await Promise.race([new Promise<void>((resolve) => req.once("drain", resolve)), stopped]);
      }
    }
  }
  // Back to the pool once the socket is done with both; after a failure they are left to the
  // garbage collector (a write the socket never called back for may still hold one).
  if (remaining === 0) void Promise.all(released).then(() => giveBuffers(...whole));
}

/** Writes a body given as bytes or a stream: exactly `request.size` bytes, or it throws. */
async function writeGiven(
  request: PutRequest,
  req: http.ClientRequest,
  stopped: Promise<void>,
  isStopped: () => boolean,
): Promise<void> {
  const body = request.body ?? new Uint8Array(0);
  const source = body instanceof Uint8Array ? [body] : body;
  const slice = request.throttle?.sliceBytes ?? BODY_CHUNK_BYTES;
  let sent = 0;
  for await (const chunk of source) {
    if (sent + chunk.length > request.size) {
      throw new Error(`body is longer than its size ${request.size}`);
    }
    for (let off = 0; off < chunk.length && !isStopped(); off += slice) {
      const part = chunk.subarray(off, Math.min(chunk.length, off + slice));
      if (request.throttle) await request.throttle.take(part.length, request.signal);
      if (isStopped()) return;
      if (!req.write(part)) {
        await Promise.race([new Promise<void>((resolve) => req.once("drain", resolve)), stopped]);
      }
      sent += part.length;
      request.onProgress?.(sent);
    }
    if (isStopped()) return;
  }
  if (sent < request.size) throw new Error(`body ended ${request.size - sent} bytes short`);
}
