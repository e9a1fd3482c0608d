/**
 * A scripted HTTPS server for upload tests: real TLS (client certificates requested), each test
 * decides per request what it answers, or resets, or hangs. Every request is recorded.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import type { Pki } from "../../devkit/pki.ts";

/** What the server saw of one request. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Body bytes received (complete or not). */
  bodyBytes: number;
  /** Base64 SHA-256 of the body received. */
  sha256: string;
  /** CN of the client certificate, if any. */
  clientCn: string | null;
}

/** What to do with a request. */
export type Script =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { reset: "mid-body" }
  | { hang: true }
  /** Never read the body nor answer: the client's writes back up. */
  | { stall: true };

/** A 400 whose body echoes every request header, as some misconfigured collectors do. */
export function echoHeaders(request: SeenRequest): Script {
  const lines = Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`);
  return {
    status: 400,
    body: `<html><body><pre>bad request\n${lines.join("\n")}</pre></body></html>`,
  };
}

/** A running fault server. */
export interface FaultServer {
  url: string;
  requests: SeenRequest[];
  /** TLS connections accepted (handshake complete). */
  connections: number;
  /** Decides each answer; may change between passes. */
  script: (request: SeenRequest, index: number) => Script;
  close(): Promise<void>;
}

/** Starts a fault server with the PKI's server certificate. */
export async function startFaultServer(
  pki: Pki,
  script: FaultServer["script"] = () => ({ status: 201 }),
  options: { requireClientCert?: boolean } = {},
): Promise<FaultServer> {
  const [key, cert, ca] = await Promise.all(
    [pki.serverKey, pki.serverCert, pki.ca].map((p) => Deno.readTextFile(p)),
  );
  const state: FaultServer = {
    url: "",
    requests: [],
    connections: 0,
    script,
    close: () => Promise.resolve(),
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const peer = (req.socket as import("node:tls").TLSSocket).getPeerCertificate?.();
    const seen: SeenRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: { ...req.headers },
      bodyBytes: 0,
      sha256: "",
      clientCn: typeof peer?.subject?.CN === "string" ? peer.subject.CN : null,
    };
    const index = state.requests.push(seen) - 1;
    const plan = state.script(seen, index);
    const hash = createHash("sha256");
    if ("stall" in plan) {
      req.pause();
      return;
    }
    req.on("data", (chunk: Uint8Array) => {
      seen.bodyBytes += chunk.length;
      hash.update(chunk);
      if ("reset" in plan && seen.bodyBytes > 0) req.socket.destroy();
    });
    req.on("end", () => {
      seen.sha256 = hash.digest("base64");
      if ("status" in plan) {
        res.writeHead(plan.status, { "content-type": "text/plain", ...plan.headers });
        res.end(plan.body ?? "");
      }
      // hang: never answer.
    });
  };
  const server = https.createServer({
    key,
    cert,
    ca,
    requestCert: true,
    rejectUnauthorized: options.requireClientCert ?? true,
  }, handler);
  server.on("secureConnection", () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  state.url = `https://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}
