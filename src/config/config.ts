/**
 * `/etc/cis490/lab-host.toml` → typed {@linkcode Config}. Every key, default and error of the
 * shipper's configuration lives here. Seed-compatible: a seed config loads unchanged.
 */
import { isAbsolute, resolve } from "node:path";
import { ConfigError, readTomlFile, TableReader } from "./_reader.ts";
import { readTlsMaterial, type TlsMaterial } from "./tls_files.ts";
import { CONFIG_KEYS, configKey, DEFAULTS, type NumberRange } from "./keys.ts";
import { isValidId } from "../protocol/protocol.ts";
import type { Compression } from "../protocol/protocol.ts";

export { CONFIG_KEYS, ConfigError, DEFAULTS };
export type { TlsMaterial };

/** Where the config is read from when neither `--config` nor `$CIS490_CONFIG` says otherwise. */
export const DEFAULT_CONFIG_PATH = "/etc/cis490/lab-host.toml";

/** The `[receiver]` table. */
export interface ReceiverConfig {
  /** Base URL, trailing `/` stripped. */
  url: string;
  caBundle?: string;
  clientCert?: string;
  clientKey?: string;
  /** Never logged, never printed. */
  bearerToken?: string;
  verifyTls: boolean;
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
  /** Base for relative paths (the seed resolved against the working directory). @default {Deno.cwd()} */
  cwd?: string;
  /** Clock, for certificate expiry warnings. @default {Date.now} */
  now?: () => number;
}

/** A loaded config and the warnings to print at start. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

function expandPath(path: string, cwd: string, home: string | undefined): string {
  const expanded = home && (path === "~" || path.startsWith("~/")) ? home + path.slice(1) : path;
  return isAbsolute(expanded) ? resolve(expanded) : resolve(cwd, expanded);
}

function othersCanRead(mode: number | null): boolean {
  return mode !== null && (mode & 0o004) !== 0;
}

/**
 * Loads and validates the shipper config, reading certificate and token files.
 * @throws {ConfigError} on any problem, with file, key and detail.
 */
export async function loadConfig(
  file: string,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const cwd = options.cwd ?? Deno.cwd();
  const home = env("HOME");
  const warnings: string[] = [];
  const r: TableReader = new TableReader(file, await readTomlFile(file));
  const path = (key: string) => {
    const value = r.string(key, { emptyIsAbsent: true });
    return value === undefined ? undefined : expandPath(value, cwd, home);
  };

  const hostId = r.requiredString("host_id");
  if (!isValidId(hostId)) {
    r.fail("host_id", `"${hostId}" must match [A-Za-z0-9][A-Za-z0-9._-]{0,199}`);
  }
  const dataRoot = expandPath(
    r.string("paths.data_root", { emptyIsAbsent: true }) ?? DEFAULTS.dataRoot,
    cwd,
    home,
  );

  const rawUrl = r.requiredString("receiver.url").replace(/\/+$/, "");
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    r.fail("receiver.url", `"${rawUrl}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    r.fail("receiver.url", `must start with https://, got "${url.protocol}//"`);
  }
  if (url.search || url.hash || url.username || url.password) {
    r.fail("receiver.url", "must not carry a query, fragment or credentials");
  }

  const verifyTls = r.boolean("receiver.verify_tls", DEFAULTS.verifyTls);
  const caBundle = path("receiver.ca_bundle");
  const clientCert = path("receiver.client_cert");
  const clientKey = path("receiver.client_key");
  if (clientKey && !clientCert) r.fail("receiver.client_cert", "required when client_key is set");

  const inlineToken = r.string("receiver.bearer_token", { emptyIsAbsent: true });
  const tokenFileRaw = r.string("receiver.bearer_token_file", { emptyIsAbsent: true });
  let bearerToken = inlineToken;
  if (inlineToken !== undefined && tokenFileRaw !== undefined) {
    r.fail("receiver.bearer_token_file", "set either bearer_token or bearer_token_file, not both");
  }
  if (inlineToken !== undefined) {
    const stat = await Deno.stat(file).catch(() => null);
    if (othersCanRead(stat?.mode ?? null)) {
      warnings.push(
        `${file}: receiver.bearer_token: the file holding the token is readable by other users; chmod 600 it or use bearer_token_file`,
      );
    }
  }
  if (tokenFileRaw !== undefined) {
    bearerToken = await readTokenFile(r, tokenFileRaw, { env, cwd, home, warnings });
  }
  if (bearerToken !== undefined && /[\r\n]/.test(bearerToken)) {
    r.fail("receiver.bearer_token", "must be one line");
  }

  if (url.protocol === "http:") {
    warnings.push(
      `${file}: receiver.url: uses http://, so nothing is encrypted and no certificate is checked`,
    );
    if (bearerToken !== undefined) {
      warnings.push(`${file}: receiver.bearer_token: travels in clear over http://`);
    }
  }
  if (!verifyTls) {
    warnings.push(
      `${file}: receiver.verify_tls: false, so the collector's certificate is NOT verified for ${url.host}`,
    );
  }

  const tls = await readTlsMaterial(r, { caBundle, clientCert, clientKey }, {
    now: options.now ?? Date.now,
    warnings,
  });

  const num = (key: string, fallback: number) => r.number(key, rangeOf(key), fallback);
  const compression = r.oneOf(
    "shipper.compression",
    (configKey("shipper.compression").choices ?? []) as readonly Compression[],
    DEFAULTS.compression,
  );
  const config: Config = {
    file,
    hostId,
    dataRoot,
    receiver: {
      url: rawUrl,
      verifyTls,
      ...(caBundle !== undefined && { caBundle }),
      ...(clientCert !== undefined && { clientCert }),
      ...(clientKey !== undefined && { clientKey }),
      ...(bearerToken !== undefined && { bearerToken }),
    },
    tls,
    scanIntervalS: num("shipper.scan_interval_s", DEFAULTS.scanIntervalS),
    requestTimeoutS: num("shipper.request_timeout_s", DEFAULTS.requestTimeoutS),
    backoffSeconds: r.numbers(
      "shipper.backoff_seconds",
      rangeOf("shipper.backoff_seconds"),
      configKey("shipper.backoff_seconds").itemCount ?? { min: 1, max: 1 },
      DEFAULTS.backoffSeconds,
    ),
    maxEpisodeBytes: num("shipper.max_episode_bytes", DEFAULTS.maxEpisodeBytes),
    compression,
    uploadConcurrency: num("shipper.upload_concurrency", DEFAULTS.uploadConcurrency),
    maxBytesPerSecond: num("shipper.max_bytes_per_second", DEFAULTS.maxBytesPerSecond),
    stopGraceS: num("shipper.stop_grace_s", DEFAULTS.stopGraceS),
    keepLocalForDays: num("retention.keep_local_for_days", DEFAULTS.keepLocalForDays),
  };
  const compressionLevel = readCompressionLevel(r, compression);
  if (compressionLevel !== undefined) config.compressionLevel = compressionLevel;
  const metricsTextfile = path("shipper.metrics_textfile");
  if (metricsTextfile !== undefined) config.metricsTextfile = metricsTextfile;
  warnings.unshift(...r.unknownKeyWarnings(CONFIG_KEYS.map((k) => k.name)));
  return { config, warnings };
}

function rangeOf(key: string): NumberRange {
  const range = configKey(key).numberRange;
  if (!range) throw new RangeError(`Config key "${key}" declares no number range`);
  return range;
}

/** zlib levels are 1–9 and zstd levels 1–19; "none" has no level, so setting one is a mistake. */
const COMPRESSION_LEVELS: Record<Compression, NumberRange | null> = {
  gzip: { min: 1, max: 9, integer: true },
  zstd: { min: 1, max: 19, integer: true },
  none: null,
};

function readCompressionLevel(r: TableReader, compression: Compression): number | undefined {
  const key = "shipper.compression_level";
  if (r.get(key) === undefined) return undefined;
  const range = COMPRESSION_LEVELS[compression];
  if (!range) r.fail(key, `has no meaning with shipper.compression = "${compression}"; remove it`);
  const value = r.number(key, range, 0);
  return value;
}

/** A token file holds one token: 4 KiB is far more than any bearer token or systemd credential. */
export const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * Reads a regular file (symlinks followed, as systemd credentials may be) of at most `limit`
 * bytes, never reading more than `limit + 1`: `/dev/zero` or a FIFO must not hang the start.
 */
async function readSmallRegularFile(
  file: string,
  limit: number,
): Promise<{ text: string } | "not a regular file" | "too large" | "not UTF-8"> {
  // stat before open: opening a FIFO for reading blocks until a writer appears.
  if (!(await Deno.stat(file)).isFile) return "not a regular file";
  using handle = await Deno.open(file, { read: true });
  if (!(await handle.stat()).isFile) return "not a regular file";
  const buffer = new Uint8Array(limit + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const n = await handle.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  if (filled > limit) return "too large";
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(0, filled)) };
  } catch {
    return "not UTF-8";
  }
}

async function readTokenFile(
  r: TableReader,
  raw: string,
  ctx: {
    env: (n: string) => string | undefined;
    cwd: string;
    home: string | undefined;
    warnings: string[];
  },
): Promise<string> {
  const key = "receiver.bearer_token_file";
  let expanded = raw;
  if (/\$\{?CREDENTIALS_DIRECTORY\}?/.test(raw)) {
    const dir = ctx.env("CREDENTIALS_DIRECTORY");
    if (!dir) r.fail(key, "$CREDENTIALS_DIRECTORY is not set (is LoadCredential= in the unit?)");
    expanded = raw.replace(/\$\{?CREDENTIALS_DIRECTORY\}?/g, dir);
  }
  const file = expandPath(expanded, ctx.cwd, ctx.home);
  const text = await readSmallRegularFile(file, MAX_TOKEN_FILE_BYTES).catch((error) =>
    r.fail(key, `cannot read "${file}": ${error instanceof Error ? error.name : String(error)}`)
  );
  if (text === "not a regular file") r.fail(key, `"${file}" is not a regular file`);
  if (text === "too large") {
    r.fail(
      key,
      `"${file}" is larger than ${MAX_TOKEN_FILE_BYTES} bytes; it should hold only the token`,
    );
  }
  if (text === "not UTF-8") r.fail(key, `"${file}" is not UTF-8 text`);
  const token = text.text.trim();
  if (token === "") r.fail(key, `"${file}" is empty`);
  const stat = await Deno.stat(file).catch(() => null);
  if (othersCanRead(stat?.mode ?? null)) {
    ctx.warnings.push(
      `${r.file}: ${key}: "${file}" is readable by other users; chmod 600 it`,
    );
  }
  return token;
}
