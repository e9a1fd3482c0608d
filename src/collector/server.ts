/**
 * The reference collector: HTTPS with required client certificates (node:https, since Deno's own
 * server has no mTLS), the gate, and atomic storage on its disk or in a bucket
 * (`episode_store.ts`).
 */
import { Buffer } from "node:buffer";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { describeError, type Logger } from "../log/log.ts";
import { contentDigest, HEADER, PROBLEM } from "../protocol/protocol.ts";
import { type CollectorConfig, ConfigError } from "./config.ts";
import { admit, tokenMatches } from "./gate.ts";
import { createEpisodeStore, type EpisodeStore } from "./episode_store.ts";

/** A running collector. */
export interface RunningCollector {
  /** Base URL, e.g. `https://127.0.0.1:8443`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The CN and DNS subject alternative names of the client certificate, and its subject line. */
export function clientIdentity(socket: TLSSocket): { names: string[]; subject: string } {
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.subject) return { names: [], subject: "" };
  const names: string[] = [];
  const cn = cert.subject.CN;
  if (typeof cn === "string") names.push(cn);
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m?.[1]) names.push(m[1].trim());
  }
  const subject = Object.entries(cert.subject).map(([k, v]) => `${k}=${v}`).join(", ");
  return { names, subject };
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    ...headers,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Reads and discards a body, so the client sees our answer rather than a reset mid-upload. */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.on("end", resolve);
    req.on("error", () => resolve());
    req.on("close", resolve);
    req.resume();
  });
}

/** `Retry-After` of a body-mismatch answer, for senders that read it as transient. */
export const MISMATCH_RETRY_AFTER_S = 60;

/** `Retry-After` of a 503 when the store is down and did not say when to come back. */
export const STORE_RETRY_AFTER_S = 30;

/** Body bytes read and discarded after refusing early, so the answer is not lost to a reset. */
export const LINGER_BYTES = 1024 * 1024;

/**
 * Answers before reading the body, then closes the connection after discarding at most
 * {@linkcode LINGER_BYTES} (nginx's lingering close): an oversized or unauthorized body is never
 * received whole.
 */
function refuseEarly(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
  res.shouldKeepAlive = false;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    ...headers,
    "content-length": Buffer.byteLength(body),
    connection: "close",
  });
  res.end(body);
  let discarded = 0;
  const close = () => req.socket.destroy();
  req.on("data", (chunk: Uint8Array) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) close();
  });
  req.on("end", close);
  req.on("error", close);
  res.on("finish", () => setTimeout(close, 2000).unref?.());
}

/**
 * Why the client certificate is not accepted (status 495, or 496 when none was sent), or null.
 * The handshake completes without one so the client hears why, instead of a bare reset.
 */
export function certificateRefusal(
  socket: TLSSocket,
  now: number,
): { status: number; message: string } | null {
  if (socket.authorized) return null;
  const cert = socket.getPeerCertificate?.();
  if (!cert || !cert.subject) {
    return { status: 496, message: "a TLS client certificate is required and none was sent" };
  }
  const notAfter = Date.parse(cert.valid_to ?? "");
  const notBefore = Date.parse(cert.valid_from ?? "");
  const why = notAfter < now
    ? `it expired on ${new Date(notAfter).toISOString()}`
    : notBefore > now
    ? `it is not valid before ${new Date(notBefore).toISOString()}`
    : `it is not issued by a CA this collector trusts (${socket.authorizationError ?? "unknown"})`;
  const subject = Object.entries(cert.subject).map(([k, v]) => `${k}=${v}`).join(", ");
  return { status: 495, message: `TLS client certificate "${subject}" not accepted: ${why}` };
}

function headersOf(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** Why the collector cannot listen where its config says, as a one-line config error. */
function listenError(error: Error, config: CollectorConfig): Error {
  const code = (error as { code?: string }).code;
  const where = `${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}`;
  const why = code === "EADDRINUSE"
    ? "address in use"
    : code === "EACCES"
    ? "permission denied to listen on"
    : code === "EADDRNOTAVAIL"
    ? "no such local address"
    : null;
  return why ? new ConfigError(config.file, "listen", `${why}: ${where}`) : error;
}

/**
 * Starts the collector; resolves once it listens.
 * @throws {ConfigError} when it cannot listen at `config.host:config.port` (in use, no permission,
 * not a local address)
 */
export async function startCollector(
  config: CollectorConfig,
  logger: Logger,
  options: {
    now?: () => number;
    /** Where episodes go. @default {createEpisodeStore(config)} */
    store?: EpisodeStore;
  } = {},
): Promise<RunningCollector> {
  const now = options.now ?? Date.now;
  const store = options.store ?? createEpisodeStore(config, { now });
  if (config.bearerToken) logger.redact(config.bearerToken);
  for (const secret of store.secrets) logger.redact(secret);
  await store.open();

  /** Episodes being received now, by "host/episode": one upload at a time per episode. */
  const receiving = new Set<string>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const refusal = certificateRefusal(req.socket as TLSSocket, now());
    if (refusal) {
      refuseEarly(req, res, refusal.status, refusal.message + "\n");
      logger.warn(`${req.method} ${path} ${refusal.status}`, { reason: refusal.message });
      return;
    }
    const identity = clientIdentity(req.socket as TLSSocket);
    const log = (status: number, extra: Record<string, string | number> = {}) =>
      logger.info(`${req.method} ${path} ${status}`, { client: identity.subject, ...extra });
    const headers = headersOf(req);
    if (req.method === "GET" && path === "/v1/health") {
      await drain(req);
      const ok = tokenMatches(headers.authorization, config.bearerToken);
      send(
        res,
        ok ? 200 : 401,
        ok ? `ok ${identity.subject}\n` : "missing or wrong bearer token\n",
      );
      return log(ok ? 200 : 401);
    }
    const verdict = admit(
      { method: req.method ?? "", path, headers, clientNames: identity.names },
      config,
    );
    if (!verdict.ok) {
      refuseEarly(req, res, verdict.status, verdict.message + "\n");
      return log(verdict.status, { reason: verdict.message.slice(0, 120) });
    }
    const upload = verdict.upload;
    // A 409 says what the collector holds (RFC 9530 Repr-Digest): the sender compares it with
    // its own digest, so an episode re-created under an old id is never taken for a duplicate.
    // Without a digest (an object some other writer put in the bucket) the 409 says nothing
    // more, and the sender keeps the episode as an unconfirmed duplicate.
    const alreadyStored = (digest: string | null): Record<string, string> =>
      digest === null ? {} : { [HEADER.reprDigest]: contentDigest(digest) };
    // The store cannot answer (a bucket down, refusing our key): never the episode's fault.
    const unavailable = (detail: string, retryAfterS: number | null) => {
      res.setHeader("retry-after", String(retryAfterS ?? STORE_RETRY_AFTER_S));
      refuseEarly(req, res, 503, "the collector's store is not available now; try again later\n");
      logger.warn("the store did not take an upload", {
        episode: `${upload.hostId}/${upload.episodeId}`,
        detail,
      });
      return log(503);
    };
    let stored;
    try {
      stored = await store.find(upload);
    } catch (error) {
      return unavailable((error as Error).message, null);
    }
    if (stored) {
      const headers = alreadyStored(stored.digest);
      refuseEarly(req, res, 409, `already stored: ${upload.hostId}/${upload.episodeId}\n`, headers);
      return log(409);
    }
    const key = `${upload.hostId}/${upload.episodeId}`;
    if (receiving.has(key)) {
      // Not 409: the other upload may still fail, and a 409 would make this sender drop it.
      res.setHeader("retry-after", "5");
      refuseEarly(req, res, 503, `another upload of ${key} is in progress\n`);
      return log(503);
    }
    receiving.add(key);
    let result;
    try {
      result = await store.store(upload, req, { clientSubject: identity.subject, now: now() });
    } finally {
      receiving.delete(key);
    }
    switch (result.kind) {
      case "stored":
        send(
          res,
          201,
          JSON.stringify({
            stored: `${upload.hostId}/${upload.episodeId}`,
            sha256: upload.sha256,
            size: upload.size,
          }) + "\n",
          { "content-type": "application/json" },
        );
        return log(201, { bytes: upload.size });
      case "duplicate":
        send(
          res,
          409,
          `already stored: ${upload.hostId}/${upload.episodeId}\n`,
          alreadyStored(result.digest),
        );
        return log(409);
      case "mismatch":
        // Not the episode's fault, nor ours: the sender's tarball does not match what it says.
        // The header tells a sender that knows it to repack; a 5xx makes one that does not retry
        // (never quarantine), and Retry-After keeps it from retrying in a tight loop.
        send(res, 500, `upload not stored: ${result.detail}\n`, {
          [HEADER.problem]: PROBLEM.bodyMismatch,
          "retry-after": String(MISMATCH_RETRY_AFTER_S),
        });
        return log(500, { reason: result.detail });
      case "unavailable":
        // The store may have refused before reading the whole body: close after the answer.
        return unavailable(result.detail, result.retryAfterS);
    }
  };

  const server = https.createServer({
    key: config.tls.key,
    cert: config.tls.cert,
    ca: config.tls.clientCa,
    requestCert: true,
    // Checked per request (certificateRefusal), so a refused client hears 495/496, not a reset.
    rejectUnauthorized: false,
  }, (req, res) => {
    handle(req, res).catch((error) => {
      logger.error("request failed", { path: req.url, error: describeError(error) });
      if (!res.headersSent && !res.writableEnded) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.on("tlsClientError", (error: Error) => {
    logger.warn("TLS handshake refused", { error: describeError(error) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: Error) => {
      store.close();
      reject(listenError(error, config));
    });
    server.listen(config.port, config.host, () => resolve());
  });
  logger.info("storing episodes", { store: store.describe });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    url: `https://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections?.();
      }),
  };
}
