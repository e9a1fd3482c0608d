/**
 * Every key of the shipper's config, declared once with {@linkcode defineKey}: its name, TOML
 * type, default, allowed values, doc line and the parser that turns the TOML value into the typed
 * one. The loader is a loop over this table (config.ts); the README's and docs/config.md's key
 * tables and the template packaging/lab-host.toml are rendered from it (tests hold them equal).
 */
import { isAbsolute, resolve } from "node:path";
import {
  type Compression,
  COMPRESSION_FORMAT,
  COMPRESSIONS,
  DEFAULT_COMPRESSION,
  ID_PATTERN,
  isValidId,
} from "../protocol/protocol.ts";
import { numberProblem, quote, typeName } from "./_reader.ts";
import { S3_CREDENTIAL_FILES } from "../upload/s3/credentials.ts";
import {
  bucketProblem,
  MAX_PART_BYTES,
  MAX_SINGLE_PUT_BYTES,
  MIN_PART_BYTES,
  prefixProblem,
  regionProblem,
  S3_DEFAULTS,
} from "../upload/s3/settings.ts";

/** The largest integer a JSON number or a JavaScript number holds exactly: 2^53 - 1. */
export const MAX_SAFE_BYTES = Number.MAX_SAFE_INTEGER;

/** The allowed values of a number: `[min, max]`, or `(min, max]` when `minExclusive`. */
export interface NumberRange {
  min: number;
  /** Whether `min` itself is refused. @default {false} */
  minExclusive?: boolean;
  max: number;
  /** Whether only integers are allowed. @default {false} */
  integer?: boolean;
  /** Whether 0 is allowed below `min` (meaning "off"). @default {false} */
  zeroAllowed?: boolean;
}

/** How a key's value is written in TOML. */
export type ConfigKeyType =
  | "string"
  | "path"
  | "boolean"
  | "number"
  | "integer"
  | "array of numbers"
  | "choice";

/** What a parser may need besides the value: where relative paths start, and `~`. */
export interface KeyContext {
  cwd: string;
  home: string | undefined;
}

/** A value a key refuses: the loader prefixes file and key (`<file>: <key>: <detail>`). */
export class KeyProblem extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = "KeyProblem";
  }
}

/** How the template shows a key. */
export interface TemplateEntry {
  /** TOML text after `key = `. @default {the default, rendered} */
  value?: string;
  /** Written as a live line (a value to edit) rather than commented out at its default. */
  active?: boolean;
  /** Lines printed after the doc line and the `default:` line. */
  notes?: readonly string[];
}

/** One key of the config file, as {@linkcode defineKey} declares it. */
export interface ConfigKey<T = unknown> {
  /** Dotted name, as in the TOML file: `shipper.scan_interval_s`. */
  name: string;
  type: ConfigKeyType;
  /** The value when the key is absent; undefined: none (or required). */
  default: T | undefined;
  /** Absent is an error. @default {false} */
  required?: boolean;
  /** Words after the rendered default (`1 GiB`, `no cap`), or instead of it when there is none. */
  defaultNote?: string;
  /** Machine-checked range of a number, or of each item of an array of numbers. */
  numberRange?: NumberRange;
  /** Machine-checked length of an array. */
  itemCount?: { min: number; max: number };
  /** Machine-checked choices of a `choice` key. */
  choices?: readonly string[];
  /** Allowed values in words, for keys no machine range describes. */
  allowed?: string;
  /** One line: what the key does. */
  doc: string;
  /** Not in the Python shipper's config: an addition of this shipper. */
  isNew: boolean;
  /** How packaging/lab-host.toml shows it. @default {commented out at its default} */
  template?: TemplateEntry;
  /** The template's value, flagged by `check` if a config still holds it. */
  placeholder?: T;
  /** The TOML value → the typed value. @throws {KeyProblem} */
  parse(raw: unknown, ctx: KeyContext): T;
}

/** Declares a key; the identity function, there for the types. */
export function defineKey<T>(key: ConfigKey<T>): ConfigKey<T> {
  return key;
}

// ---- parsers, shared by the keys below ------------------------------------------------------

function mustBe(raw: unknown, what: string): never {
  throw new KeyProblem(`must be ${what}, got ${typeName(raw)}${shown(raw)}`);
}

function shown(raw: unknown): string {
  if (typeof raw === "string") return ` ${quote(raw)}`;
  if (typeof raw === "number" || typeof raw === "boolean") return ` ${String(raw)}`;
  return "";
}

function string(raw: unknown): string {
  if (typeof raw !== "string") throw new KeyProblem(`must be a string, got ${typeName(raw)}`);
  return raw;
}

/** An optional string; `""` means absent, as the Python shipper read it. */
function optionalString(raw: unknown): string | undefined {
  const value = string(raw);
  return value === "" ? undefined : value;
}

/** A path: `~` expanded with $HOME, made absolute against the working directory (as the Python shipper did). */
export function expandPath(path: string, ctx: KeyContext): string {
  const expanded = ctx.home && (path === "~" || path.startsWith("~/"))
    ? ctx.home + path.slice(1)
    : path;
  return isAbsolute(expanded) ? resolve(expanded) : resolve(ctx.cwd, expanded);
}

function optionalPath(raw: unknown, ctx: KeyContext): string | undefined {
  const value = optionalString(raw);
  return value === undefined ? undefined : expandPath(value, ctx);
}

function number(range: NumberRange) {
  return (raw: unknown): number => {
    const problem = numberProblem(raw, range);
    if (problem) throw new KeyProblem(problem);
    return raw as number;
  };
}

function numbers(range: NumberRange, count: { min: number; max: number }) {
  return (raw: unknown): number[] => {
    if (!Array.isArray(raw)) {
      throw new KeyProblem(`must be an array of numbers, got ${typeName(raw)}`);
    }
    if (raw.length < count.min || raw.length > count.max) {
      throw new KeyProblem(`must hold ${count.min}–${count.max} numbers, got ${raw.length}`);
    }
    raw.forEach((item, i) => {
      const problem = numberProblem(item, range);
      if (problem) throw new KeyProblem(`item ${i} ${problem}`);
    });
    return raw as number[];
  };
}

function boolean(raw: unknown): boolean {
  if (typeof raw !== "boolean") mustBe(raw, "true or false");
  return raw;
}

function choice<T extends string>(choices: readonly T[]) {
  return (raw: unknown): T => {
    const value = string(raw);
    if (!(choices as readonly string[]).includes(value)) {
      throw new KeyProblem(
        `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${quote(value)}`,
      );
    }
    return value as T;
  };
}

// ---- the table -------------------------------------------------------------------------------

const DAY_S = 86_400;
/** setTimeout holds at most 2^31 - 1 ms (~24.8 days); one day of seconds stays well inside it. */
const SECONDS: NumberRange = { min: 0, minExclusive: true, max: DAY_S };
/**
 * Lower bounds that keep a valid config from becoming a busy loop or a request storm
 * (`scan_interval_s = 1e-300` spun an idle daemon; `backoff_seconds = [0.000001]` sent 20 PUTs a
 * second to a collector answering 503).
 */
const SCAN_SECONDS: NumberRange = { min: 0.05, max: DAY_S };
const BACKOFF_SECONDS: NumberRange = { min: 0.01, max: DAY_S };
/** Each compression's levels, from the one registry (src/protocol/protocol.ts). */
const LEVELS = Object.fromEntries(
  COMPRESSIONS.map((c) => [c, COMPRESSION_FORMAT[c].levels ?? { min: 0, max: 0, default: 0 }]),
) as Record<Compression, { min: number; max: number; default: number }>;
const LEVELED = COMPRESSIONS.filter((c) => LEVELS[c].max > 0);
const PART_BYTES: NumberRange = { min: MIN_PART_BYTES, max: MAX_PART_BYTES, integer: true };
const THRESHOLD_BYTES: NumberRange = {
  min: MIN_PART_BYTES,
  max: MAX_SINGLE_PUT_BYTES,
  integer: true,
};

/** A credential file's name: not expanded here (the directory comes from the environment). */
function credentialFile(raw: unknown): string {
  const value = string(raw);
  if (value === "") throw new KeyProblem("must not be empty");
  return value;
}

/** The id rule in words: the pattern without its anchors. */
const ID_RULE = ID_PATTERN.source.replace(/^\^|\$$/g, "");

/** Every key the shipper reads, by the {@linkcode import("./config.ts").Config} field it fills. */
export const KEYS = {
  hostId: defineKey<string>({
    name: "host_id",
    type: "string",
    default: undefined,
    required: true,
    allowed: `\`${ID_RULE}\``,
    doc: "this host's name at the collector (a URL path segment); top level",
    isNew: false,
    template: { value: '"change-me"', active: true },
    placeholder: "change-me",
    parse(raw) {
      const value = string(raw);
      if (value === "") throw new KeyProblem("must not be empty");
      if (!isValidId(value)) throw new KeyProblem(`${quote(value)} must match ${ID_RULE}`);
      return value;
    },
  }),
  dataRoot: defineKey<string>({
    name: "paths.data_root",
    type: "path",
    default: "/var/lib/cis490/data",
    doc:
      "holds episodes/, outbox/, shipped/, quarantine/; made absolute against the working directory",
    isNew: false,
    template: {
      active: true,
      notes: ["keep it equal to install.sh --data-root (the unit may write only there)"],
    },
    parse: (raw, ctx) => optionalPath(raw, ctx) ?? expandPath("/var/lib/cis490/data", ctx),
  }),
  url: defineKey<string>({
    name: "receiver.url",
    type: "string",
    default: undefined,
    required: true,
    allowed: "`https://…` (`http://` with a warning)",
    doc:
      "the collector's base URL, or with `bucket` the store's endpoint (scheme, host, port); trailing `/` stripped; no query, fragment or credentials",
    isNew: false,
    template: { value: '"https://collector.example.org:8443"', active: true },
    placeholder: "https://collector.example.org:8443",
    parse(raw) {
      const value = string(raw).replace(/\/+$/, "");
      if (value === "") throw new KeyProblem("must not be empty");
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new KeyProblem(`${quote(value)} is not a URL`);
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        throw new KeyProblem(`must start with https://, got ${quote(`${url.protocol}//`)}`);
      }
      if (url.search || url.hash || url.username || url.password) {
        throw new KeyProblem("must not carry a query, fragment or credentials");
      }
      return value;
    },
  }),
  caBundle: defineKey<string | undefined>({
    name: "receiver.ca_bundle",
    type: "path",
    default: undefined,
    defaultNote: "none: the system trust store",
    allowed: "PEM, one or more certificates",
    doc:
      "CAs trusted for the collector's certificate; unset: the system's, as openssl finds them (`SSL_CERT_FILE`, `SSL_CERT_DIR` honoured)",
    isNew: false,
    template: {
      value: '"/etc/cis490/ca.pem"',
      active: true,
      notes: ["remove this line to trust the system's CAs (a collector with a public certificate)"],
    },
    parse: optionalPath,
  }),
  clientCert: defineKey<string | undefined>({
    name: "receiver.client_cert",
    type: "path",
    default: undefined,
    allowed: "PEM certificate, optionally followed by its key",
    doc: "this host's client certificate for mutual TLS; parsed at start",
    isNew: false,
    template: { value: '"/etc/cis490/client.pem"', active: true },
    parse: optionalPath,
  }),
  clientKey: defineKey<string | undefined>({
    name: "receiver.client_key",
    type: "path",
    default: undefined,
    allowed: "unencrypted PEM private key",
    doc: "the client certificate's key; required with client_cert unless client_cert holds the key",
    isNew: false,
    template: {
      value: '"/etc/cis490/client.key"',
      active: true,
      notes: ["mode 0640 root:cis490, or 0600 cis490"],
    },
    parse: optionalPath,
  }),
  bearerToken: defineKey<string | undefined>({
    name: "receiver.bearer_token",
    type: "string",
    default: undefined,
    allowed: "one line of printable Latin-1",
    doc: "sent as `Authorization: Bearer …`; never logged; not with bearer_token_file",
    isNew: false,
    template: { value: '""', notes: ["keep this file unreadable by others when set"] },
    parse: optionalString,
  }),
  bearerTokenFile: defineKey<string | undefined>({
    name: "receiver.bearer_token_file",
    type: "path",
    default: undefined,
    allowed: "a regular file of at most 4 KiB",
    doc:
      "file holding the token (surrounding whitespace ignored); `${CREDENTIALS_DIRECTORY}` expanded for systemd `LoadCredential=`",
    isNew: true,
    template: {
      value: '"${CREDENTIALS_DIRECTORY}/bearer-token"',
      notes: [
        "With the unit's LoadCredential=bearer-token:/etc/cis490/bearer-token uncommented (systemctl edit),",
        'use "${CREDENTIALS_DIRECTORY}/bearer-token"; without it, "/etc/cis490/bearer-token".',
      ],
    },
    // Expanded by the loader: ${CREDENTIALS_DIRECTORY} comes from the environment.
    parse: optionalString,
  }),
  verifyTls: defineKey<boolean>({
    name: "receiver.verify_tls",
    type: "boolean",
    default: true,
    doc:
      "`false` skips verifying the collector's certificate, for this receiver only, with a warning",
    isNew: false,
    parse: boolean,
  }),
  bucket: defineKey<string | undefined>({
    name: "receiver.bucket",
    type: "string",
    default: undefined,
    defaultNote: "none: the receiver is a collector",
    allowed: "3–63 of `a-z 0-9 . -`",
    doc:
      "an S3-compatible bucket instead of a collector (docs/object-store.md): `url` is then the store's endpoint",
    isNew: true,
    template: { value: '"episodes"' },
    parse(raw) {
      const value = optionalString(raw);
      const problem = value === undefined ? null : bucketProblem(value);
      if (problem) throw new KeyProblem(problem);
      return value;
    },
  }),
  keyPrefix: defineKey<string>({
    name: "receiver.key_prefix",
    type: "string",
    default: "",
    defaultNote: "keys start at the host id",
    allowed: 'segments of `A-Za-z0-9._-` joined by "/"',
    doc: "with a bucket: objects are stored as `<key_prefix>/<host_id>/<episode_id>.<ext>`",
    isNew: true,
    parse(raw) {
      const value = string(raw);
      const problem = prefixProblem(value);
      if (problem) throw new KeyProblem(problem);
      return value;
    },
  }),
  region: defineKey<string>({
    name: "receiver.region",
    type: "string",
    default: S3_DEFAULTS.region,
    allowed: "`a-z 0-9 -`",
    doc: "with a bucket: the region signed into every request (RGW and MinIO accept any)",
    isNew: true,
    parse(raw) {
      const value = string(raw);
      const problem = regionProblem(value);
      if (problem) throw new KeyProblem(problem);
      return value;
    },
  }),
  pathStyle: defineKey<boolean>({
    name: "receiver.path_style",
    type: "boolean",
    default: S3_DEFAULTS.pathStyle,
    doc: "with a bucket: `https://host/bucket/key`; `false` for `https://bucket.host/key` (AWS)",
    isNew: true,
    parse: boolean,
  }),
  accessKeyIdFile: defineKey<string>({
    name: "receiver.access_key_id_file",
    type: "string",
    default: S3_CREDENTIAL_FILES.accessKeyId,
    allowed: "a file name: relative ones are looked up in `$CREDENTIALS_DIRECTORY`",
    doc: "with a bucket: the file holding the access key id",
    isNew: true,
    parse: credentialFile,
  }),
  secretAccessKeyFile: defineKey<string>({
    name: "receiver.secret_access_key_file",
    type: "string",
    default: S3_CREDENTIAL_FILES.secretAccessKey,
    allowed: "a file name: relative ones are looked up in `$CREDENTIALS_DIRECTORY`",
    doc: "with a bucket: the file holding the secret access key (mode 0600); never logged",
    isNew: true,
    template: {
      notes: [
        "relative names come from the unit's LoadCredential=s3-access-key-id:… and",
        "LoadCredential=s3-secret-access-key:… lines (systemctl edit); or give absolute paths",
      ],
    },
    parse: credentialFile,
  }),
  partBytes: defineKey<number>({
    name: "receiver.multipart_part_bytes",
    type: "integer",
    default: S3_DEFAULTS.partBytes,
    defaultNote: "16 MiB",
    numberRange: PART_BYTES,
    doc: "with a bucket: the size of each part of a multipart upload",
    isNew: true,
    parse: number(PART_BYTES),
  }),
  multipartThresholdBytes: defineKey<number>({
    name: "receiver.multipart_threshold_bytes",
    type: "integer",
    default: S3_DEFAULTS.multipartThresholdBytes,
    defaultNote: "64 MiB",
    numberRange: THRESHOLD_BYTES,
    doc:
      "with a bucket: episodes this large or larger go by multipart upload, resumed after a crash; at least the part size",
    isNew: true,
    parse: number(THRESHOLD_BYTES),
  }),
  scanIntervalS: defineKey<number>({
    name: "shipper.scan_interval_s",
    type: "number",
    default: 5.0,
    numberRange: SCAN_SECONDS,
    doc: "seconds between passes of the daemon",
    isNew: false,
    parse: number(SCAN_SECONDS),
  }),
  requestTimeoutS: defineKey<number>({
    name: "shipper.request_timeout_s",
    type: "number",
    default: 60.0,
    numberRange: SECONDS,
    doc: "bounds one whole PUT attempt, connect to last response byte",
    isNew: false,
    parse: number(SECONDS),
  }),
  backoffSeconds: defineKey<readonly number[]>({
    name: "shipper.backoff_seconds",
    type: "array of numbers",
    default: [1, 2, 4, 8, 16, 32, 60, 120, 300],
    numberRange: BACKOFF_SECONDS,
    itemCount: { min: 1, max: 64 },
    doc: "wait before retry n is entry n (±20% jitter), capped at the last entry",
    isNew: false,
    parse: numbers(BACKOFF_SECONDS, { min: 1, max: 64 }),
  }),
  maxEpisodeBytes: defineKey<number>({
    name: "shipper.max_episode_bytes",
    type: "integer",
    default: 1024 ** 3,
    defaultNote: "1 GiB",
    numberRange: { min: 1, max: MAX_SAFE_BYTES, integer: true },
    doc: "sum of an episode's file sizes before compression; larger episodes are quarantined",
    isNew: true,
    parse: number({ min: 1, max: MAX_SAFE_BYTES, integer: true }),
  }),
  compression: defineKey<Compression>({
    name: "shipper.compression",
    type: "choice",
    default: DEFAULT_COMPRESSION,
    choices: COMPRESSIONS,
    doc: "tarball compression; `none` sends a plain `.tar`",
    isNew: true,
    parse: choice(COMPRESSIONS),
  }),
  compressionLevel: defineKey<number | undefined>({
    name: "shipper.compression_level",
    type: "integer",
    default: undefined,
    defaultNote: `the format's: ${LEVELED.map((c) => `${LEVELS[c].default} with ${c}`).join(", ")}`,
    allowed: `${
      LEVELED.map((c) => `${LEVELS[c].min}–${LEVELS[c].max} with ${c}`).join(", ")
    }; an error with none`,
    doc: "higher packs smaller and slower",
    isNew: true,
    template: { value: String(LEVELS[DEFAULT_COMPRESSION].default) },
    // The range depends on shipper.compression: checked by the loader once both are read.
    parse(raw) {
      if (typeof raw !== "number") mustBe(raw, "an integer");
      return raw;
    },
  }),
  uploadConcurrency: defineKey<number>({
    name: "shipper.upload_concurrency",
    type: "integer",
    default: 2,
    numberRange: { min: 1, max: 16, integer: true },
    doc: "episodes uploaded at once",
    isNew: true,
    parse: number({ min: 1, max: 16, integer: true }),
  }),
  packAhead: defineKey<number>({
    name: "shipper.pack_ahead",
    type: "integer",
    default: 1,
    numberRange: { min: 0, max: 4, integer: true },
    doc: "episodes packed while others upload (0: pack only when an upload may start)",
    isNew: true,
    parse: number({ min: 0, max: 4, integer: true }),
  }),
  maxBytesPerSecond: defineKey<number>({
    name: "shipper.max_bytes_per_second",
    type: "integer",
    default: 0,
    defaultNote: "no cap",
    numberRange: { min: 1024, max: MAX_SAFE_BYTES, integer: true, zeroAllowed: true },
    doc: "upload bandwidth cap for the whole host, bytes per second",
    isNew: true,
    parse: number({ min: 1024, max: MAX_SAFE_BYTES, integer: true, zeroAllowed: true }),
  }),
  stopGraceS: defineKey<number>({
    name: "shipper.stop_grace_s",
    type: "number",
    default: 20,
    numberRange: { min: 0, minExclusive: true, max: 300 },
    doc: "how long an upload in flight may finish after SIGTERM or SIGINT",
    isNew: true,
    template: { notes: ["the unit's TimeoutStopSec=330 stays above the largest"] },
    parse: number({ min: 0, minExclusive: true, max: 300 }),
  }),
  metricsTextfile: defineKey<string | undefined>({
    name: "shipper.metrics_textfile",
    type: "path",
    default: undefined,
    doc: "node_exporter textfile collector file, rewritten after each pass",
    isNew: true,
    template: {
      value: '"/var/lib/prometheus/node-exporter/cis490-ship.prom"',
      notes: [
        "the unit may write only under the data root (ReadWritePaths=): add the",
        "collector's directory with a drop-in (systemctl edit) to use one elsewhere",
      ],
    },
    parse: optionalPath,
  }),
  keepLocalForDays: defineKey<number>({
    name: "retention.keep_local_for_days",
    type: "integer",
    default: 7,
    numberRange: { min: 0, max: 36_500, integer: true },
    doc: "age of `shipped/` entries before they are pruned",
    isNew: false,
    parse: number({ min: 0, max: 36_500, integer: true }),
  }),
} as const;

/** The typed value of every key, as the loader's loop produces it. */
export type KeyValues = {
  -readonly [F in keyof typeof KEYS]: ReturnType<(typeof KEYS)[F]["parse"]>;
};

/** Every key the shipper reads, in the order the reference lists them. */
export const CONFIG_KEYS: readonly ConfigKey[] = Object.values(KEYS) as readonly ConfigKey[];

/** Every default, by field of {@linkcode import("./config.ts").Config}. */
export const DEFAULTS = {
  dataRoot: KEYS.dataRoot.default as string,
  verifyTls: KEYS.verifyTls.default as boolean,
  scanIntervalS: KEYS.scanIntervalS.default as number,
  requestTimeoutS: KEYS.requestTimeoutS.default as number,
  backoffSeconds: KEYS.backoffSeconds.default as readonly number[],
  keepLocalForDays: KEYS.keepLocalForDays.default as number,
  maxEpisodeBytes: KEYS.maxEpisodeBytes.default as number,
  compression: KEYS.compression.default as Compression,
  uploadConcurrency: KEYS.uploadConcurrency.default as number,
  maxBytesPerSecond: KEYS.maxBytesPerSecond.default as number,
  stopGraceS: KEYS.stopGraceS.default as number,
} as const;

/** The declaration of one key. @throws {RangeError} for a name not in {@linkcode CONFIG_KEYS} */
export function configKey(name: string): ConfigKey {
  const key = CONFIG_KEYS.find((k) => k.name === name);
  if (!key) throw new RangeError(`Unknown config key "${name}"`);
  return key;
}

/** The levels `compression` accepts as a range, or null when it takes none ("none"). */
export function levelRange(compression: Compression): NumberRange | null {
  const levels = LEVELS[compression];
  return levels.max > 0 ? { min: levels.min, max: levels.max, integer: true } : null;
}
