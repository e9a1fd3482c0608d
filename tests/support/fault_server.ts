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

/** Client certificates a collector must refuse, for the PKI's first host id. */
export interface RogueClients {
  /** Signed by the PKI's other CA, which the collector does not trust. */
  otherCa: { cert: string; key: string };
  /** Signed by the right CA, valid only in January 2020. */
  expired: { cert: string; key: string; notAfter: string };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** Makes {@linkcode RogueClients} for `hostId` in a subdirectory of the PKI's directory. */
export async function makeRogueClients(pki: Pki, hostId: string): Promise<RogueClients> {
  const dir = `${pki.dir}/rogue-${hostId}`;
  await Deno.mkdir(`${dir}/db`, { recursive: true });
  await Deno.writeTextFile(`${dir}/db/index.txt`, "");
  await Deno.writeTextFile(`${dir}/db/serial`, "01\n");
  await Deno.writeTextFile(
    `${dir}/ca.cnf`,
    "[ca]\ndefault_ca = d\n[d]\ndatabase = db/index.txt\nnew_certs_dir = db\nserial = db/serial\n" +
      "default_md = sha256\npolicy = p\nunique_subject = no\nx509_extensions = x\n" +
      "[p]\ncommonName = supplied\n" +
      `[x]\nsubjectAltName = DNS:${hostId}\nextendedKeyUsage = clientAuth\n`,
  );
  const key = (name: string) => [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${hostId}`,
  ];
  await openssl(key("other"), dir);
  await openssl(key("expired"), dir);
  // openssl 3.0's x509 cannot set dates in the past; its ca command can.
  const sign = (name: string, caCert: string, caKey: string, dates: string[]) =>
    openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      caCert,
      "-keyfile",
      caKey,
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.pem`,
      "-notext",
      ...dates,
    ], dir);
  await sign("other", pki.otherCa, `${pki.dir}/other-ca.key`, ["-days", "30"]);
  await sign("expired", pki.ca, pki.caKey, [
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200201000000Z",
  ]);
  for (const name of ["other", "expired"]) await Deno.chmod(`${dir}/${name}.key`, 0o600);
  return {
    otherCa: { cert: `${dir}/other.pem`, key: `${dir}/other.key` },
    expired: {
      cert: `${dir}/expired.pem`,
      key: `${dir}/expired.key`,
      notAfter: "2020-02-01T00:00:00.000Z",
    },
  };
}
