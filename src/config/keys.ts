/**
 * Every key of the shipper's config, declared once: name, type, default, range and doc. The loader
 * reads ranges and defaults from here, the unknown-key hints suggest from here, and the README's
 * config table and docs/config.md are rendered from here.
 */
import type { Compression } from "../protocol/protocol.ts";

/** The largest integer a JSON number or a JavaScript number holds exactly: 2^53 - 1. */
export const MAX_SAFE_BYTES = Number.MAX_SAFE_INTEGER;

/** Every default, by field of {@linkcode import("./config.ts").Config}. */
export const DEFAULTS = {
  dataRoot: "/var/lib/cis490/data",
  verifyTls: true,
  scanIntervalS: 5.0,
  requestTimeoutS: 60.0,
  backoffSeconds: [1, 2, 4, 8, 16, 32, 60, 120, 300] as readonly number[],
  keepLocalForDays: 7,
  /** 1 GiB of episode files (before compression). */
  maxEpisodeBytes: 1024 ** 3,
  compression: "gzip" as Compression,
  uploadConcurrency: 2,
  /** 0: no cap. */
  maxBytesPerSecond: 0,
  /** How long an upload in flight may finish after SIGTERM; well under systemd's 90 s. */
  stopGraceS: 20,
} as const;

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

/** One key of the config file. */
export interface ConfigKey {
  /** Dotted name, as in the TOML file: `shipper.scan_interval_s`. */
  name: string;
  type: ConfigKeyType;
  /** The default as shown to humans (`5.0`, `required`, `none`). */
  default: string;
  /** Allowed values as shown to humans; "" when any value of the type is allowed. */
  range: string;
  /** One line: what the key does. */
  doc: string;
  /** Not in the seed's config: an addition of this shipper. */
  isNew: boolean;
  /** Machine-checked range of a number, or of each item of an array of numbers. */
  numberRange?: NumberRange;
  /** Machine-checked length of an array. */
  itemCount?: { min: number; max: number };
  /** Machine-checked choices of a `choice` key. */
  choices?: readonly string[];
}

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

/** Every key the shipper reads, in the order the reference lists them. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  {
    name: "host_id",
    type: "string",
    default: "required",
    range: "`[A-Za-z0-9][A-Za-z0-9._-]{0,199}`",
    doc: "this host's name at the collector (a URL path segment); top level",
    isNew: false,
  },
  {
    name: "paths.data_root",
    type: "path",
    default: `\`${DEFAULTS.dataRoot}\``,
    range: "",
    doc:
      "holds episodes/, outbox/, shipped/, quarantine/; made absolute against the working directory",
    isNew: false,
  },
  {
    name: "receiver.url",
    type: "string",
    default: "required",
    range: "`https://…` (`http://` with a warning)",
    doc: "the collector's base URL; trailing `/` stripped; no query, fragment or credentials",
    isNew: false,
  },
  {
    name: "receiver.ca_bundle",
    type: "path",
    default: "none (system roots)",
    range: "PEM, one or more certificates",
    doc: "CAs trusted for the collector's certificate; `~` expanded; parsed at start",
    isNew: false,
  },
  {
    name: "receiver.client_cert",
    type: "path",
    default: "none",
    range: "PEM certificate, optionally followed by its key",
    doc: "this host's client certificate for mutual TLS; parsed at start",
    isNew: false,
  },
  {
    name: "receiver.client_key",
    type: "path",
    default: "none",
    range: "unencrypted PEM private key",
    doc: "the client certificate's key; required with client_cert unless client_cert holds the key",
    isNew: false,
  },
  {
    name: "receiver.bearer_token",
    type: "string",
    default: "none",
    range: "one line",
    doc: "sent as `Authorization: Bearer …`; never logged; not with bearer_token_file",
    isNew: false,
  },
  {
    name: "receiver.bearer_token_file",
    type: "path",
    default: "none",
    range: "a regular file of at most 4 KiB",
    doc:
      "file holding the token (surrounding whitespace ignored); `${CREDENTIALS_DIRECTORY}` expanded for systemd `LoadCredential=`",
    isNew: true,
  },
  {
    name: "receiver.verify_tls",
    type: "boolean",
    default: "`true`",
    range: "",
    doc:
      "`false` skips verifying the collector's certificate, for this receiver only, with a warning",
    isNew: false,
  },
  {
    name: "shipper.scan_interval_s",
    type: "number",
    default: "`5.0`",
    range: "[0.05, 86400]",
    doc: "seconds between passes of the daemon",
    isNew: false,
    numberRange: SCAN_SECONDS,
  },
  {
    name: "shipper.request_timeout_s",
    type: "number",
    default: "`60.0`",
    range: "(0, 86400]",
    doc: "bounds one whole PUT attempt, connect to last response byte",
    isNew: false,
    numberRange: SECONDS,
  },
  {
    name: "shipper.backoff_seconds",
    type: "array of numbers",
    default: `\`[${DEFAULTS.backoffSeconds.join(",")}]\``,
    range: "1–64 entries, each [0.01, 86400]",
    doc: "wait before retry n is entry n (±20% jitter), capped at the last entry",
    isNew: false,
    numberRange: BACKOFF_SECONDS,
    itemCount: { min: 1, max: 64 },
  },
  {
    name: "shipper.max_episode_bytes",
    type: "integer",
    default: `\`${DEFAULTS.maxEpisodeBytes}\` (1 GiB)`,
    range: "1 – 2^53-1",
    doc: "sum of an episode's file sizes before compression; larger episodes are quarantined",
    isNew: true,
    numberRange: { min: 1, max: MAX_SAFE_BYTES, integer: true },
  },
  {
    name: "shipper.compression",
    type: "choice",
    default: `\`"${DEFAULTS.compression}"\``,
    range: '`"gzip"`, `"zstd"`, `"none"`',
    doc: "tarball compression; `none` sends a plain `.tar`",
    isNew: true,
    choices: ["gzip", "zstd", "none"],
  },
  {
    name: "shipper.compression_level",
    type: "integer",
    default: "the format's default",
    range: "1–9 with gzip, 1–19 with zstd; an error with none",
    doc: "higher packs smaller and slower",
    isNew: true,
  },
  {
    name: "shipper.upload_concurrency",
    type: "integer",
    default: `\`${DEFAULTS.uploadConcurrency}\``,
    range: "1–16",
    doc: "episodes uploaded at once",
    isNew: true,
    numberRange: { min: 1, max: 16, integer: true },
  },
  {
    name: "shipper.max_bytes_per_second",
    type: "integer",
    default: "`0` (no cap)",
    range: "0, or 1024 – 2^53-1",
    doc: "upload bandwidth cap for the whole host, bytes per second",
    isNew: true,
    numberRange: { min: 1024, max: MAX_SAFE_BYTES, integer: true, zeroAllowed: true },
  },
  {
    name: "shipper.stop_grace_s",
    type: "number",
    default: `\`${DEFAULTS.stopGraceS}\``,
    range: "(0, 300]",
    doc: "how long an upload in flight may finish after SIGTERM or SIGINT",
    isNew: true,
    numberRange: { min: 0, minExclusive: true, max: 300 },
  },
  {
    name: "shipper.metrics_textfile",
    type: "path",
    default: "none",
    range: "",
    doc: "node_exporter textfile collector file, rewritten after each pass",
    isNew: true,
  },
  {
    name: "retention.keep_local_for_days",
    type: "integer",
    default: `\`${DEFAULTS.keepLocalForDays}\``,
    range: "0–36500",
    doc: "age of `shipped/` entries before they are pruned",
    isNew: false,
    numberRange: { min: 0, max: 36_500, integer: true },
  },
];

/** The declaration of one key. @throws {RangeError} for a name not in {@linkcode CONFIG_KEYS} */
export function configKey(name: string): ConfigKey {
  const key = CONFIG_KEYS.find((k) => k.name === name);
  if (!key) throw new RangeError(`Unknown config key "${name}"`);
  return key;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** The markdown table of every key, aligned as `deno fmt` aligns it, for README.md and docs. */
export function renderConfigTable(keys: readonly ConfigKey[] = CONFIG_KEYS): string {
  const rows = [
    ["key", "type", "default", "allowed", "what it does"],
    ...keys.map((k) => [
      `\`${k.name}\`${k.isNew ? " _new_" : ""}`,
      k.type,
      cell(k.default),
      cell(k.range || "—"),
      cell(k.doc),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join(" | ")} |`;
  return [
    line(rows[0]!),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...rows.slice(1).map(line),
  ].join("\n") + "\n";
}
