/**
 * One keep-alive connection pool per receiver: TLS material, verification and a socket limit
 * fixed once, shared by every upload to that receiver.
 */
import http from "node:http";
import https from "node:https";
import type { TlsMaterial } from "../config/config.ts";

/** Options for {@linkcode createReceiverAgent}. */
export interface ReceiverAgentOptions {
  tls: TlsMaterial;
  /** False skips certificate verification for this receiver only. */
  verifyTls: boolean;
  /** Connections open at once (uploads beyond it queue for a socket). @default {4} */
  maxSockets?: number;
  /** Keep idle connections for reuse. @default {true} */
  keepAlive?: boolean;
}

/** The TLS settings of every connection of one pool, as `node:tls` takes them. */
export interface PoolTlsOptions {
  /** PEM text; an empty list trusts nothing. */
  ca?: string | string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

/** What a pool has seen, for tests and logs. */
export interface PoolStats {
  /**
   * Requests that met a kept-alive connection the server had closed (close or reset before any
   * response byte) and were sent again on a fresh connection.
   */
  staleRetries: number;
}

/** A receiver's connection pool; pass it as `PutRequest.agent`. */
export interface ReceiverAgent {
  /** The pool for `https:` URLs. */
  readonly https: https.Agent;
  /** The pool for `http:` URLs. */
  readonly http: http.Agent;
  /** Whether a client certificate is presented. */
  readonly sendsCert: boolean;
  /** The TLS settings of its connections (for a handshake probe outside the pool). */
  readonly tlsOptions: PoolTlsOptions;
  /** Counters, updated by `put()`. */
  readonly stats: PoolStats;
  /** A one-request pool with the same TLS settings: a connection that is certainly fresh. */
  fresh(): ReceiverAgent;
  /** Sockets open now, in use or idle. */
  openSockets(): number;
  /** Closes every socket, idle or not; later uploads fail. */
  close(): void;
}

function count(sockets: NodeJS.ReadOnlyDict<unknown[]> | undefined): number {
  let n = 0;
  for (const list of Object.values(sockets ?? {})) n += list?.length ?? 0;
  return n;
}

/** Creates the connection pool for one receiver. */
export function createReceiverAgent(options: ReceiverAgentOptions): ReceiverAgent {
  const keepAlive = options.keepAlive ?? true;
  const maxSockets = options.maxSockets ?? 4;
  const common = { keepAlive, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" as const };
  const { tls } = options;
  const tlsOptions: PoolTlsOptions = {
    rejectUnauthorized: options.verifyTls,
    // Always a `ca`: without one, node:https reaches for Deno's root store, which needs
    // --allow-sys (not in the binary: "Requires sys access to \"ca\"" on every connection). The
    // config loader fills it from ca_bundle or the system trust store; none (verify_tls = false
    // without a system store) trusts nothing, which then verifies nothing anyway.
    ca: tls.ca ?? [],
    ...(tls.cert !== undefined && { cert: tls.cert }),
    ...(tls.key !== undefined && { key: tls.key }),
  };
  const httpsAgent = new https.Agent({ ...common, ...tlsOptions });
  const httpAgent = new http.Agent(common);
  return {
    https: httpsAgent,
    http: httpAgent,
    sendsCert: tls.cert !== undefined,
    tlsOptions,
    stats: { staleRetries: 0 },
    fresh: () => createReceiverAgent({ ...options, keepAlive: false, maxSockets: 1 }),
    openSockets: () =>
      count(httpsAgent.sockets) + count(httpsAgent.freeSockets) + count(httpAgent.sockets) +
      count(httpAgent.freeSockets),
    close() {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  };
}
