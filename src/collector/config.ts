/** The reference collector's configuration (a TOML file of its own). */
import { isAbsolute, resolve } from "node:path";
import { ConfigError, readTomlFile, TableReader } from "../config/_reader.ts";
import { parseCertificates } from "../config/tls_files.ts";
import { isValidCommit } from "../protocol/protocol.ts";
import { loadTrustStore, TrustStoreError } from "../config/trust_store.ts";
import {
  readS3Credentials,
  S3_CREDENTIAL_FILES,
  S3CredentialsError,
} from "../upload/s3/credentials.ts";
import {
  MAX_SINGLE_PUT_BYTES,
  MIN_PART_BYTES,
  S3_DEFAULTS,
  type S3Settings,
  s3SettingsProblems,
} from "../upload/s3/settings.ts";

/** Text sent with a 400 when the commit stamp is missing: tells the lab host what to do. */
export const DEFAULT_REMEDIATION =
  "Episodes must carry the 40-hex commit of the code that produced them (meta.json code_version.commit, " +
  "sent as X-CIS490-Code-Commit). This episode was produced by code that does not stamp it; it cannot be " +
  "accepted. Update the lab host and restart its services (cd /opt/cis490 && git pull && sudo ./install.sh); " +
  "new episodes will be stamped. Quarantine this one.";

/**
 * The collector's storage backend. `disk`: `<store_dir>/<host_id>/<episode_id>.<ext>` with a
 * sidecar, one collector per directory. `s3`: the same layout as object keys in a bucket, which
 * several collectors behind one address may share (docs/object-store.md).
 */
export type CollectorStorage =
  | { backend: "disk"; storeDir: string }
  | { backend: "s3"; settings: S3Settings };

/** The storage backends `storage.backend` names. */
export const STORAGE_BACKENDS = ["disk", "s3"] as const;

/** The collector's configuration. */
export interface CollectorConfig {
  file: string;
  /** Host to bind, e.g. "127.0.0.1" or "::". */
  host: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Where accepted episodes go: `store_dir` on this disk, or a bucket (`[storage]`). */
  storage: CollectorStorage;
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
  const backend = r.oneOf("storage.backend", STORAGE_BACKENDS, "disk");
  const storage: CollectorStorage = backend === "disk"
    ? { backend, storeDir: abs(r.requiredString("store_dir")) }
    : { backend, settings: await readBucket(r, abs) };
  if (backend === "s3" && r.string("store_dir") !== undefined) {
    r.fail("store_dir", 'has no meaning with storage.backend = "s3" (the bucket holds episodes)');
  }
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
    storage,
    tls,
    anyHost: r.boolean("auth.any_host", false),
    // A bucket takes at most 5 GiB in one PUT (the collector streams each body in one): a larger
    // episode is refused up front (413) rather than after its bytes crossed the network.
    maxBodyBytes: Math.min(
      r.integer("gate.max_body_bytes", 16 * 1024 ** 3, 1),
      backend === "s3" ? MAX_SINGLE_PUT_BYTES : Infinity,
    ),
    remediation: r.string("gate.remediation") ?? DEFAULT_REMEDIATION,
    ...(bearerToken !== undefined && { bearerToken }),
    ...(commits !== undefined && { allowedCommits: new Set(commits.map((c) => c.toLowerCase())) }),
  };
  return { config, warnings: r.unknownKeyWarnings() };
}

/**
 * The `[storage]` keys of an `s3` backend, named as the shipper's `[receiver]` keys: `url`
 * (the store's endpoint), `bucket`, `key_prefix`, `region`, `path_style`, `access_key_id_file`
 * and `secret_access_key_file` (relative names in `$CREDENTIALS_DIRECTORY`), `ca_bundle`
 * (default: the system trust store), `verify_tls`, `request_timeout_s`.
 */
async function readBucket(r: TableReader, abs: (p: string) => string): Promise<S3Settings> {
  const key = (name: string) => `storage.${name}`;
  const endpoint = r.requiredString(key("url")).replace(/\/+$/, "");
  let credentials;
  try {
    credentials = (await readS3Credentials({
      accessKeyId: r.string(key("access_key_id_file")) ?? S3_CREDENTIAL_FILES.accessKeyId,
      secretAccessKey: r.string(key("secret_access_key_file")) ??
        S3_CREDENTIAL_FILES.secretAccessKey,
    })).credentials;
  } catch (error) {
    if (!(error instanceof S3CredentialsError)) throw error;
    const first = error.problems[0]!;
    r.fail(
      key(first.file === "accessKeyId" ? "access_key_id_file" : "secret_access_key_file"),
      first.message.replace(/^Cannot/, "cannot"),
    );
  }
  const tls: S3Settings["tls"] = {};
  const caBundle = r.string(key("ca_bundle"), { emptyIsAbsent: true });
  if (caBundle !== undefined) {
    try {
      tls.ca = await Deno.readTextFile(abs(caBundle));
      parseCertificates(tls.ca);
    } catch (error) {
      r.fail(key("ca_bundle"), `"${abs(caBundle)}": ${(error as Error).message}`);
    }
  } else if (endpoint.startsWith("https:")) {
    try {
      tls.ca = (await loadTrustStore((name) => Deno.env.get(name))).pem;
    } catch (error) {
      if (!(error instanceof TrustStoreError)) throw error;
      r.fail(key("ca_bundle"), `none set, and ${error.message}`);
    }
  }
  const settings: S3Settings = {
    endpoint,
    bucket: r.requiredString(key("bucket")),
    prefix: r.string(key("key_prefix")) ?? S3_DEFAULTS.prefix,
    region: r.string(key("region")) ?? S3_DEFAULTS.region,
    pathStyle: r.boolean(key("path_style"), S3_DEFAULTS.pathStyle),
    credentials,
    tls,
    verifyTls: r.boolean(key("verify_tls"), true),
    // The collector never uses multipart (it streams each body in one PUT); kept valid.
    partBytes: MIN_PART_BYTES,
    multipartThresholdBytes: MAX_SINGLE_PUT_BYTES,
    requestTimeoutMs: r.number(key("request_timeout_s"), {
      min: 0,
      minExclusive: true,
      max: 86_400,
    }, 600) * 1000,
  };
  const problem = s3SettingsProblems(settings)[0];
  if (problem) {
    const [what] = problem.split(":");
    const name = { endpoint: "url", bucket: "bucket", prefix: "key_prefix", region: "region" }[
      what as "endpoint"
    ] ?? "url";
    r.fail(key(name), problem.slice(problem.indexOf(":") + 2));
  }
  return settings;
}

export { ConfigError };
