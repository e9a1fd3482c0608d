/**
 * `/etc/cis490/lab-host.toml` → typed {@linkcode Config}: a loop over the key table (keys.ts),
 * then the few rules that involve more than one key, then the files the config names. Every
 * problem is collected and reported at once, one line each. Compatible with the Python shipper: its config loads
 * unchanged.
 */
import { dirname } from "node:path";
import {
  ConfigError,
  type ConfigProblem,
  numberProblem,
  readTomlFile,
  TableReader,
} from "./_reader.ts";
import { readTlsMaterial, type TlsMaterial } from "./tls_files.ts";
import {
  CONFIG_KEYS,
  DEFAULTS,
  expandPath,
  type KeyContext,
  KeyProblem,
  KEYS,
  type KeyValues,
  levelRange,
} from "./keys.ts";
import { readBoundedText, ReadProblem } from "./read_bounded.ts";
import type { Compression } from "../protocol/protocol.ts";
import {
  readS3Credentials,
  type S3Credentials,
  S3CredentialsError,
} from "../upload/s3/credentials.ts";
import { endpointProblem } from "../upload/s3/settings.ts";

export { CONFIG_KEYS, ConfigError, DEFAULTS };
export type { TlsMaterial };

/** Where the config is read from when neither `--config` nor `$CIS490_CONFIG` says otherwise. */
export const DEFAULT_CONFIG_PATH = "/etc/cis490/lab-host.toml";

/** The object-store half of `[receiver]`, set when `receiver.bucket` is (docs/object-store.md). */
export interface S3ReceiverConfig {
  bucket: string;
  /** "" or `/`-joined segments, no leading or trailing `/`. */
  keyPrefix: string;
  region: string;
  pathStyle: boolean;
  /** The files, as configured (relative names are in `$CREDENTIALS_DIRECTORY`). */
  accessKeyIdFile: string;
  secretAccessKeyFile: string;
  /** Read at start; the secret is never logged, printed or written. */
  credentials: S3Credentials;
  partBytes: number;
  multipartThresholdBytes: number;
}

/** The `[receiver]` table. */
export interface ReceiverConfig {
  /** Base URL, trailing `/` stripped. */
  url: string;
  caBundle?: string;
  clientCert?: string;
  clientKey?: string;
  /** Never logged, never printed. */
  bearerToken?: string;
  /** The token's file, expanded, when the token came from `bearer_token_file`. */
  bearerTokenFile?: string;
  verifyTls: boolean;
  /** Set when the receiver is an S3 bucket at `url` rather than a collector. */
  s3?: S3ReceiverConfig;
}

/** The shipper's whole configuration. */
export interface Config {
  /** The file it came from, as given. */
  file: string;
  hostId: string;
  dataRoot: string;
  receiver: ReceiverConfig;
  /** Parsed PEM material for the receiver, read at start. */
  tls: TlsMaterial;
  scanIntervalS: number;
  requestTimeoutS: number;
  backoffSeconds: number[];
  keepLocalForDays: number;
  maxEpisodeBytes: number;
  compression: Compression;
  /** zlib level (1–9) for gzip, zstd level (1–19) for zstd; undefined: the format's default. */
  compressionLevel?: number;
  /** Episodes uploaded at once. */
  uploadConcurrency: number;
  /** Episodes packed while others upload. */
  packAhead: number;
  /** Upload bandwidth cap for the whole host, bytes per second; 0 means none. */
  maxBytesPerSecond: number;
  /** Grace period for an upload in flight after SIGTERM/SIGINT. */
  stopGraceS: number;
  /** node_exporter textfile collector path, written after each pass; undefined: none. */
  metricsTextfile?: string;
}

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Environment lookup. @default {Deno.env.get} */
  env?: (name: string) => string | undefined;
  /** Base for relative paths (the Python shipper resolved against the working directory). @default {Deno.cwd()} */
  cwd?: string;
  /** Clock, for certificate expiry warnings. @default {Date.now} */
  now?: () => number;
}

/** A loaded config and the warnings to print at start. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/** The key that holds the token: what hints and warnings must name. */
export function tokenKeyOf(receiver: { bearerTokenFile?: string | undefined }): string {
  return receiver.bearerTokenFile !== undefined
    ? "receiver.bearer_token_file"
    : "receiver.bearer_token";
}

/**
 * Every secret the config holds (the bearer token, the S3 secret access key): redacted from
 * log lines and scrubbed from every answer before it is recorded, logged or written.
 */
export function configuredSecrets(config: Pick<Config, "receiver">): string[] {
  const { bearerToken, s3 } = config.receiver;
  return [
    ...(bearerToken !== undefined ? [bearerToken] : []),
    ...(s3 ? [s3.credentials.secretAccessKey] : []),
  ];
}

/** A token file holds one token: 4 KiB is far more than any bearer token or systemd credential. */
export const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * Why `token` cannot travel in an `Authorization` header, or null. Node sends header strings as
 * Latin-1 and refuses control characters; the message says where, never what (it is a secret).
 */
export function tokenProblem(token: string): string | null {
  if (/[\r\n]/.test(token)) return "must be one line";
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      return `holds a control character at position ${i + 1}, which an HTTP header cannot carry`;
    }
    if (code > 0xff) {
      return `holds a character outside Latin-1 at position ${
        i + 1
      }, which an HTTP header cannot carry`;
    }
  }
  return null;
}

/** The loop over the key table: each key's typed value, or its problem. */
function readKeys(
  r: TableReader,
  ctx: KeyContext,
  problems: ConfigProblem[],
  given: Set<keyof KeyValues>,
) {
  const values: Partial<Record<keyof KeyValues, unknown>> = {};
  const fields = Object.entries(KEYS) as [keyof KeyValues, (typeof KEYS)[keyof KeyValues]][];
  for (const [field, key] of fields) {
    let raw: unknown;
    try {
      raw = r.get(key.name);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems); // a value where a table should be (`receiver = "x"`)
      continue;
    }
    if (raw !== undefined) given.add(field);
    if (raw === undefined) {
      if (key.required) problems.push({ file: r.file, key: key.name, detail: "required" });
      else values[field] = key.default;
      continue;
    }
    try {
      values[field] = key.parse(raw, ctx);
    } catch (error) {
      if (!(error instanceof KeyProblem)) throw error;
      problems.push({ file: r.file, key: key.name, detail: error.detail });
    }
  }
  // A field the loop filled holds its key's parsed type; one it did not has a problem.
  return values as Partial<KeyValues>;
}

/** The keys that mean something only with `receiver.bucket`. */
const S3_ONLY_FIELDS = [
  "keyPrefix",
  "region",
  "pathStyle",
  "accessKeyIdFile",
  "secretAccessKeyFile",
  "partBytes",
  "multipartThresholdBytes",
] as const satisfies readonly (keyof KeyValues)[];

/** The rules of an object-store receiver that involve more than one key. Pure. */
function s3Problems(
  v: Partial<KeyValues>,
  given: ReadonlySet<keyof KeyValues>,
): { key: string; detail: string }[] {
  const out: { key: string; detail: string }[] = [];
  if (v.bucket === undefined) {
    // A bucket key that failed to parse is reported already; the others would only add noise.
    if (given.has("bucket")) return out;
    for (const field of S3_ONLY_FIELDS) {
      if (given.has(field)) {
        out.push({
          key: KEYS[field].name,
          detail: "has no meaning without receiver.bucket (the receiver is a collector); remove it",
        });
      }
    }
    return out;
  }
  for (const field of ["bearerToken", "bearerTokenFile"] as const) {
    if (given.has(field)) {
      out.push({
        key: KEYS[field].name,
        detail: "has no meaning with receiver.bucket (the store checks requests signed with " +
          "the access key, not a token); remove it",
      });
    }
  }
  if (v.url !== undefined) {
    const problem = endpointProblem(v.url);
    if (problem) out.push({ key: "receiver.url", detail: `with receiver.bucket, ${problem}` });
  }
  if (
    v.partBytes !== undefined && v.multipartThresholdBytes !== undefined &&
    v.multipartThresholdBytes < v.partBytes
  ) {
    out.push({
      key: "receiver.multipart_threshold_bytes",
      detail: `${v.multipartThresholdBytes} is below receiver.multipart_part_bytes ` +
        `(${v.partBytes}): an episode must make at least one whole part`,
    });
  }
  return out;
}

/** The rules that involve more than one key. Pure. */
function crossKeyProblems(
  v: Partial<KeyValues>,
  given: ReadonlySet<keyof KeyValues> = new Set(),
): { key: string; detail: string }[] {
  const out: { key: string; detail: string }[] = s3Problems(v, given);
  if (v.clientKey !== undefined && "clientCert" in v && v.clientCert === undefined) {
    out.push({ key: "receiver.client_cert", detail: "required when client_key is set" });
  }
  if (v.bearerToken !== undefined && v.bearerTokenFile !== undefined) {
    out.push({
      key: "receiver.bearer_token_file",
      detail: "set either bearer_token or bearer_token_file, not both",
    });
  }
  if (v.compressionLevel !== undefined && v.compression !== undefined) {
    const range = levelRange(v.compression);
    const detail = range
      ? numberProblem(v.compressionLevel, range)
      : `has no meaning with shipper.compression = "${v.compression}"; remove it`;
    if (detail) out.push({ key: "shipper.compression_level", detail });
  }
  return out;
}

/** Each problem once: a key under a value that should be a table reports that table per key. */
function unique(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const line = `${p.key}\u0000${p.detail}`;
    return !seen.has(line) && seen.add(line);
  });
}

/**
 * Loads and validates the shipper config, reading certificate, key, token and trust store files.
 * @throws {ConfigError} holding every problem found, one line each
 * @example
 * ```ts
 * const { config, warnings } = await loadConfig("/etc/cis490/lab-host.toml");
 * ```
 */
export async function loadConfig(
  file: string,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const ctx: KeyContext = { cwd: options.cwd ?? Deno.cwd(), home: env("HOME") };
  const r = new TableReader(file, await readTomlFile(file));
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const fail = (key: string, detail: string) => problems.push({ file, key, detail });
  const given = new Set<keyof KeyValues>();
  const v = readKeys(r, ctx, problems, given);
  for (const p of crossKeyProblems(v, given)) fail(p.key, p.detail);
  const credentials = v.bucket === undefined ? undefined : await readCredentials(v, env, {
    fail,
    warn: (line) => warnings.push(`${file}: ${line}`),
  });

  // The token: inline (as the Python shipper had it) or from a file, and able to travel in a header.
  let bearerToken = v.bearerToken;
  let bearerTokenFile: string | undefined;
  if (v.bearerTokenFile !== undefined && v.bearerToken === undefined) {
    const read = await readTokenFile(v.bearerTokenFile, env, ctx);
    if ("problem" in read) fail("receiver.bearer_token_file", read.problem);
    else {
      bearerToken = read.token;
      bearerTokenFile = read.file;
      if (await othersCanRead(read.file)) {
        warnings.push(
          `${file}: receiver.bearer_token_file: "${read.file}" is readable by other users; chmod 600 it`,
        );
      }
    }
  }
  const tokenKey = tokenKeyOf({ bearerTokenFile: bearerTokenFile ?? v.bearerTokenFile });
  if (bearerToken !== undefined) {
    const problem = tokenProblem(bearerToken);
    if (problem) fail(tokenKey, problem);
  }
  if (v.bearerToken !== undefined && (await othersCanRead(file))) {
    warnings.push(
      `${file}: receiver.bearer_token: the file holding the token is readable by other users; chmod 600 it or use bearer_token_file`,
    );
  }

  const url = v.url !== undefined ? new URL(v.url) : null;
  if (url?.protocol === "http:") {
    warnings.push(
      `${file}: receiver.url: uses http://, so nothing is encrypted and no certificate is checked`,
    );
    if (bearerToken !== undefined) {
      warnings.push(`${file}: ${tokenKey}: the token travels in clear over http://`);
    }
  }
  if (url && v.verifyTls === false) {
    warnings.push(
      `${file}: receiver.verify_tls: false, so the ${
        v.bucket === undefined ? "collector" : "object store"
      }'s certificate is NOT verified for ${url.host}`,
    );
  }

  // The files the config names.
  const tls = await readTlsMaterial({
    caBundle: v.caBundle,
    clientCert: v.clientCert,
    clientKey: v.clientKey,
    https: url?.protocol === "https:",
    verifyTls: v.verifyTls ?? DEFAULTS.verifyTls,
  }, { file, now: options.now ?? Date.now, env, warnings, problems });
  if (v.metricsTextfile !== undefined && v.dataRoot !== undefined) {
    const problem = await metricsDirProblem(v.metricsTextfile, v.dataRoot);
    if (problem) warnings.push(`${file}: shipper.metrics_textfile: ${problem}`);
  }

  if (problems.length > 0) throw ConfigError.of(unique(problems));
  // No problem: the loop filled every field.
  const all = v as KeyValues;
  const config: Config = {
    file,
    hostId: all.hostId,
    dataRoot: all.dataRoot,
    receiver: {
      url: all.url,
      verifyTls: all.verifyTls,
      ...(all.caBundle !== undefined && { caBundle: all.caBundle }),
      ...(all.clientCert !== undefined && { clientCert: all.clientCert }),
      ...(all.clientKey !== undefined && { clientKey: all.clientKey }),
      ...(bearerToken !== undefined && { bearerToken }),
      ...(bearerTokenFile !== undefined && { bearerTokenFile }),
      ...(all.bucket !== undefined && credentials && {
        s3: {
          bucket: all.bucket,
          keyPrefix: all.keyPrefix,
          region: all.region,
          pathStyle: all.pathStyle,
          accessKeyIdFile: all.accessKeyIdFile,
          secretAccessKeyFile: all.secretAccessKeyFile,
          credentials,
          partBytes: all.partBytes,
          multipartThresholdBytes: all.multipartThresholdBytes,
        },
      }),
    },
    tls,
    scanIntervalS: all.scanIntervalS,
    requestTimeoutS: all.requestTimeoutS,
    backoffSeconds: [...all.backoffSeconds],
    maxEpisodeBytes: all.maxEpisodeBytes,
    compression: all.compression,
    uploadConcurrency: all.uploadConcurrency,
    packAhead: all.packAhead,
    maxBytesPerSecond: all.maxBytesPerSecond,
    stopGraceS: all.stopGraceS,
    keepLocalForDays: all.keepLocalForDays,
    ...(all.compressionLevel !== undefined && { compressionLevel: all.compressionLevel }),
    ...(all.metricsTextfile !== undefined && { metricsTextfile: all.metricsTextfile }),
  };
  warnings.unshift(...r.unknownKeyWarnings(CONFIG_KEYS.map((k) => k.name)));
  return { config, warnings };
}

/** The S3 key from its two files; each file's problem under its own key. */
async function readCredentials(
  v: Partial<KeyValues>,
  env: (name: string) => string | undefined,
  report: { fail: (key: string, detail: string) => void; warn: (line: string) => void },
): Promise<S3Credentials | undefined> {
  if (v.accessKeyIdFile === undefined || v.secretAccessKeyFile === undefined) return undefined;
  try {
    const read = await readS3Credentials(
      { accessKeyId: v.accessKeyIdFile, secretAccessKey: v.secretAccessKeyFile },
      { credentialsDirectory: env("CREDENTIALS_DIRECTORY") },
    );
    for (const w of read.warnings) report.warn(`receiver.secret_access_key_file: ${w}`);
    return read.credentials;
  } catch (error) {
    if (!(error instanceof S3CredentialsError)) throw error;
    for (const p of error.problems) {
      const key = p.file === "accessKeyId" ? KEYS.accessKeyIdFile : KEYS.secretAccessKeyFile;
      report.fail(key.name, p.message.replace(/^Cannot/, "cannot"));
    }
    return undefined;
  }
}

async function othersCanRead(path: string): Promise<boolean> {
  const info = await Deno.stat(path).catch(() => null);
  return info?.mode != null && (info.mode & 0o004) !== 0;
}

async function readTokenFile(
  raw: string,
  env: (name: string) => string | undefined,
  ctx: KeyContext,
): Promise<{ token: string; file: string } | { problem: string }> {
  let expanded = raw;
  if (/\$\{?CREDENTIALS_DIRECTORY\}?/.test(raw)) {
    const dir = env("CREDENTIALS_DIRECTORY");
    if (!dir) {
      return { problem: "$CREDENTIALS_DIRECTORY is not set (is LoadCredential= in the unit?)" };
    }
    expanded = raw.replace(/\$\{?CREDENTIALS_DIRECTORY\}?/g, dir);
  }
  const file = expandPath(expanded, ctx);
  let text: string;
  try {
    text = await readBoundedText(file, { limit: MAX_TOKEN_FILE_BYTES });
  } catch (error) {
    if (!(error instanceof ReadProblem)) throw error;
    return {
      problem: error.reason.startsWith("larger")
        ? `${error.message}; it should hold only the token`
        : error.message,
    };
  }
  const token = text.trim();
  if (token === "") return { problem: `"${file}" is empty` };
  return { token, file };
}

/**
 * Why the metrics textfile cannot be written, or null: its directory is missing or not a
 * directory, or its mode bits let the service's user (the owner of `data_root`, as install.sh
 * makes it) not write there. Judged for that user, not for whoever runs the command: a check run
 * with sudo speaks for the service. Group membership is not known without more permissions, so a
 * directory whose group may write (or whose ACL mask allows it) is given the benefit of the doubt.
 */
async function metricsDirProblem(path: string, dataRoot: string): Promise<string | null> {
  const dir = dirname(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return `directory "${dir}" does not exist: no metrics will be written`;
    }
    if (error instanceof Deno.errors.NotADirectory) {
      return `"${dirname(dir)}" is not a directory: no metrics will be written`;
    }
    return `cannot reach directory "${dir}": ${(error as Error).name}`;
  }
  if (!info.isDirectory) return `"${dir}" is not a directory: no metrics will be written`;
  const service = (await Deno.stat(dataRoot).catch(() => null))?.uid;
  if (service == null || service === 0 || info.mode === null || info.uid === null) return null;
  const writeAndSearch = (shift: number) => ((info.mode! >> shift) & 0o3) === 0o3;
  const writable = info.uid === service
    ? writeAndSearch(6)
    : writeAndSearch(3) || writeAndSearch(0);
  return writable ? null : `directory "${dir}" is not writable by the owner of data_root ` +
    `(uid ${service}, the service's user): no metrics will be written`;
}
