/** The reference collector's configuration (a TOML file of its own). */
import { isAbsolute, resolve } from "node:path";
import { ConfigError, readTomlFile, TableReader } from "../config/_reader.ts";
import { parseCertificates } from "../config/tls_files.ts";
import { isValidCommit } from "../protocol/protocol.ts";

/** Text sent with a 400 when the commit stamp is missing: tells the lab host what to do. */
export const DEFAULT_REMEDIATION =
  "Episodes must carry the 40-hex commit of the code that produced them (meta.json code_version.commit, " +
  "sent as X-CIS490-Code-Commit). This episode was produced by code that does not stamp it; it cannot be " +
  "accepted. Update the lab host and restart its services (cd /opt/cis490 && git pull && sudo ./install.sh); " +
  "new episodes will be stamped. Quarantine this one.";

/** The collector's configuration. */
export interface CollectorConfig {
  file: string;
  /** Host to bind, e.g. "127.0.0.1" or "::". */
  host: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  storeDir: string;
  tls: { cert: string; key: string; clientCa: string };
  bearerToken?: string;
  /** Let any valid client certificate upload as any host. */
  anyHost: boolean;
  /** When set, only these commits are accepted (412 otherwise). */
  allowedCommits?: Set<string>;
  maxBodyBytes: number;
  remediation: string;
}

function parseListen(r: TableReader, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) r.fail("listen", `"${value}" must be host:port, e.g. "0.0.0.0:8443"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * Loads the collector's config and checks its PEM files.
 * @throws {ConfigError}
 */
export async function loadCollectorConfig(
  file: string,
  options: { cwd?: string } = {},
): Promise<{ config: CollectorConfig; warnings: string[] }> {
  const cwd = options.cwd ?? Deno.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const r: TableReader = new TableReader(file, await readTomlFile(file));
  const { host, port } = parseListen(r, r.string("listen") ?? "0.0.0.0:8443");
  const storeDir = abs(r.requiredString("store_dir"));
  const readPem = async (key: string, certs: boolean) => {
    const path = abs(r.requiredString(key));
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      r.fail(key, `cannot read "${path}": ${(error as Error).name}`);
    }
    if (certs) {
      try {
        parseCertificates(text);
      } catch (error) {
        r.fail(key, `"${path}": ${(error as Error).message}`);
      }
    } else if (!text.includes("PRIVATE KEY-----")) {
      r.fail(key, `"${path}": no PEM private key found`);
    }
    return text;
  };
  const tls = {
    cert: await readPem("tls.cert", true),
    key: await readPem("tls.key", false),
    clientCa: await readPem("tls.client_ca", true),
  };
  let bearerToken = r.string("auth.bearer_token", { emptyIsAbsent: true });
  const tokenFile = r.string("auth.bearer_token_file", { emptyIsAbsent: true });
  if (bearerToken !== undefined && tokenFile !== undefined) {
    r.fail("auth.bearer_token_file", "set either bearer_token or bearer_token_file, not both");
  }
  if (tokenFile !== undefined) {
    try {
      bearerToken = (await Deno.readTextFile(abs(tokenFile))).trim();
    } catch (error) {
      r.fail("auth.bearer_token_file", `cannot read "${tokenFile}": ${(error as Error).name}`);
    }
    if (!bearerToken) r.fail("auth.bearer_token_file", `"${tokenFile}" is empty`);
  }
  const commits = r.strings("gate.allowed_commits");
  commits?.forEach((c, i) => {
    if (!isValidCommit(c)) r.fail("gate.allowed_commits", `item ${i} "${c}" is not 40 hex digits`);
  });
  const config: CollectorConfig = {
    file,
    host,
    port,
    storeDir,
    tls,
    anyHost: r.boolean("auth.any_host", false),
    maxBodyBytes: r.integer("gate.max_body_bytes", 16 * 1024 ** 3, 1),
    remediation: r.string("gate.remediation") ?? DEFAULT_REMEDIATION,
    ...(bearerToken !== undefined && { bearerToken }),
    ...(commits !== undefined && { allowedCommits: new Set(commits.map((c) => c.toLowerCase())) }),
  };
  return { config, warnings: r.unknownKeyWarnings() };
}

export { ConfigError };
