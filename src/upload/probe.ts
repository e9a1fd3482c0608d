/**
 * `check`'s round trip to the collector: requests that cannot store anything, over the same
 * connection settings as uploads (agent.ts). First `GET {url}/v1/health` (the reference collector
 * checks TLS, the client certificate and the token there); where there is no health route, the
 * real upload request for a probe episode with `Expect: 100-continue`, closed before any body
 * byte. What the answers mean is judge_probe.ts's job, with the classifier uploads use.
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { Config } from "../config/config.ts";
import { episodeRequest, USER_AGENT } from "../protocol/request.ts";
import { createReceiverAgent } from "./agent.ts";
import { AnswerBody, answerHeaders } from "./put.ts";
import { isTlsRecord } from "./classify.ts";

/** What one probe request saw. */
export type Observation =
  | {
    kind: "answer";
    status: number;
    body: string;
    /** Lower-case names. */
    headers: Record<string, string | undefined>;
  }
  /** `100 Continue`, and no final answer within the grace that followed: ready for the body. */
  | { kind: "continue" }
  | {
    kind: "failure";
    code?: string;
    message: string;
    /** An http:// request got a TLS record back: the port speaks HTTPS. */
    tlsReply: boolean;
  }
  | { kind: "aborted" };

/** The probe's requests and what each saw. */
export interface ProbeResult {
  health: Observation;
  /** The Expect: 100-continue upload request, when the health route was not there. */
  put?: { path: string; seen: Observation };
  /** Whether a client certificate was presented. */
  sentCert: boolean;
}

/** Options for {@linkcode probeCollector}. */
export interface ProbeOptions {
  /** Ends the probe at once (SIGINT, SIGTERM). */
  signal?: AbortSignal;
  /** Bound on each request. @default {config.requestTimeoutS} */
  timeoutMs?: number;
  /** Episode id of the probe upload. @default {"cis490-ship-check-" + 8 random hex digits} */
  episodeId?: string;
  /** Ask the health route first; false goes straight to the upload request. @default {true} */
  health?: boolean;
}

/**
 * After `100 Continue`, how long a refusal may take to follow. Servers that answer
 * `100 Continue` before judging the request (Node's default, the reference collector's today)
 * write their refusal right behind it; waiting a few round trips catches it.
 */
function continueGraceMs(roundTripMs: number): number {
  return Math.max(250, 4 * roundTripMs);
}

/** A commit of zeros and the digest of an empty body: even a body byte sent could not match. */
const PROBE_COMMIT = "0".repeat(40);
const EMPTY_SHA256 = "47DEQpj8HBSbp+ZNpWmSFXRlJ6+5FdDy9+m7qD0T8Rc=";

interface Exchange {
  url: URL;
  method: "GET" | "PUT";
  headers: Record<string, string>;
  expectContinue: boolean;
}

/** One request on its own connection; never throws. */
function exchange(config: Config, ex: Exchange, options: ProbeOptions): Promise<Observation> {
  const pool = createReceiverAgent({
    tls: config.tls,
    verifyTls: config.receiver.verifyTls,
    keepAlive: false,
    maxSockets: 1,
  });
  const isHttps = ex.url.protocol === "https:";
  const hostname = ex.url.hostname.replace(/^\[|\]$/g, "");
  const timeoutMs = options.timeoutMs ?? config.requestTimeoutS * 1000;
  return new Promise<Observation>((resolve) => {
    let settled = false;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const finish = (seen: Observation) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      options.signal?.removeEventListener("abort", onAbort);
      req.destroy();
      pool.close();
      resolve(seen);
    };
    const onAbort = () => finish({ kind: "aborted" });
    if (options.signal?.aborted) {
      queueMicrotask(onAbort);
    }
    const sentAt = Date.now();
    const req = (isHttps ? https : http).request({
      method: ex.method,
      hostname,
      port: ex.url.port || (isHttps ? 443 : 80),
      path: ex.url.pathname,
      headers: ex.headers,
      agent: isHttps ? pool.https : pool.http,
      ...(isHttps && isIP(hostname) === 0 && { servername: hostname }),
    }, (res) => {
      const body = new AnswerBody();
      const done = () =>
        finish({
          kind: "answer",
          status: res.statusCode ?? 0,
          body: body.text(),
          headers: answerHeaders(res),
        });
      res.on("data", (chunk: Uint8Array) => {
        if (body.add(chunk)) done();
      });
      res.on("end", done);
      res.on("error", done);
    });
    req.on("continue", () => {
      // Nothing is ever sent: closing after the grace leaves the server a request without body.
      grace = setTimeout(() => finish({ kind: "continue" }), continueGraceMs(Date.now() - sentAt));
    });
    req.on("error", (error: Error & { code?: unknown; rawPacket?: unknown }) => {
      const raw = error.rawPacket instanceof Uint8Array ? error.rawPacket : null;
      finish({
        kind: "failure",
        ...(typeof error.code === "string" && { code: error.code }),
        message: error.message,
        // A TLS record (alert 0x15 or handshake 0x16, version 3.x) where HTTP was expected.
        tlsReply: !isHttps && isTlsRecord(raw),
      });
    });
    const timer = setTimeout(
      () =>
        finish({
          kind: "failure",
          code: "ETIMEDOUT",
          message: `no answer within ${timeoutMs / 1000} s`,
          tlsReply: false,
        }),
      timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort);
    if (ex.expectContinue) req.flushHeaders();
    else req.end();
  });
}

/**
 * Probes the collector the config names without storing anything: the health route, then (when
 * there is none) the upload request of a probe episode closed before its body.
 * @example
 * ```ts
 * const result = await probeCollector(config, { signal: AbortSignal.timeout(10_000) });
 * ```
 */
export async function probeCollector(
  config: Config,
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const auth: Record<string, string> = config.receiver.bearerToken !== undefined
    ? { authorization: `Bearer ${config.receiver.bearerToken}` }
    : {};
  const sentCert = config.tls.cert !== undefined;
  const health: Observation = options.health === false
    ? { kind: "answer", status: 404, body: "", headers: {} }
    : await exchange(config, {
      url: new URL(config.receiver.url + "/v1/health"),
      method: "GET",
      headers: { "user-agent": USER_AGENT, ...auth },
      expectContinue: false,
    }, options);
  if (health.kind !== "answer" || (health.status !== 404 && health.status !== 405)) {
    return { health, sentCert };
  }
  const episodeId = options.episodeId ??
    `cis490-ship-check-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16)}`;
  const request = episodeRequest({
    receiverUrl: config.receiver.url,
    hostId: config.hostId,
    episodeId,
    compression: config.compression,
    sha256: EMPTY_SHA256,
    commit: PROBE_COMMIT,
    ...(config.receiver.bearerToken !== undefined && {
      bearerToken: config.receiver.bearerToken,
    }),
  });
  const url = new URL(request.url);
  const seen = await exchange(config, {
    url,
    method: "PUT",
    headers: { ...request.headers, "content-length": "1", expect: "100-continue" },
    expectContinue: true,
  }, options);
  return { health, put: { path: url.pathname, seen }, sentCert };
}
