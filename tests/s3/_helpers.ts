/**
 * What the object-store tests share: settings for a devkit Ceph cluster, curl `--aws-sigv4` as the
 * client nobody here wrote (it makes buckets and reads objects back), and tarball-like files.
 */
import { createHash } from "node:crypto";
import { assert } from "../support/assert.ts";
import { join } from "node:path";
import type { Ceph } from "../../devkit/ceph.ts";
import { type CliResult, runCli } from "../../devkit/cli.ts";
import type { Compression } from "../../src/protocol/protocol.ts";
import type { Parcel } from "../../src/upload/receiver.ts";
import { S3_DEFAULTS, type S3Settings } from "../../src/upload/s3/settings.ts";
import { EMPTY_SHA256_HEX } from "../../src/upload/s3/sign.ts";

/** Settings for the cluster's user and `bucket`. */
export function settingsFor(
  ceph: Ceph,
  bucket: string,
  over: Partial<S3Settings> = {},
): S3Settings {
  return {
    endpoint: ceph.endpoint,
    bucket,
    prefix: "lab",
    region: S3_DEFAULTS.region,
    pathStyle: true,
    credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    tls: {},
    verifyTls: true,
    partBytes: S3_DEFAULTS.partBytes,
    multipartThresholdBytes: S3_DEFAULTS.multipartThresholdBytes,
    requestTimeoutMs: 120_000,
    ...over,
  };
}

/** What curl got. */
export interface CurlS3Result {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** One request by curl `--aws-sigv4` (sending `x-amz-content-sha256`, which RGW requires). */
export async function curlS3(
  ceph: Ceph,
  method: string,
  path: string,
  options: {
    keys?: { accessKeyId: string; secretAccessKey: string };
    /** A file to PUT, with its hex SHA-256 (sent as `x-amz-content-sha256`). */
    upload?: { path: string; sha256Hex: string };
    /** More request headers. */
    headers?: Record<string, string>;
  } = {},
): Promise<CurlS3Result> {
  const dir = await Deno.makeTempDir();
  try {
    const keys = options.keys ?? ceph;
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        ...(ceph.caFile ? ["--cacert", ceph.caFile] : []),
        // curl waits for a body after `-X HEAD`; -I asks without one.
        ...(method === "HEAD" ? ["-I"] : ["-X", method]),
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        `${keys.accessKeyId}:${keys.secretAccessKey}`,
        "-H",
        `x-amz-content-sha256: ${options.upload?.sha256Hex ?? EMPTY_SHA256_HEX}`,
        ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
        ...(options.upload ? ["--upload-file", options.upload.path] : []),
        "-D",
        join(dir, "headers"),
        "-o",
        join(dir, "body"),
        "-w",
        "%{http_code}",
        `${ceph.endpoint}${path}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`curl ${method} ${path} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const headers: Record<string, string> = {};
    for (const line of (await Deno.readTextFile(join(dir, "headers"))).split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const body = await Deno.readFile(join(dir, "body")).catch(() => new Uint8Array(0));
    return { status: Number(new TextDecoder().decode(out.stdout)), headers, body };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Makes a bucket with curl. @throws {Error} unless the store answers 200 */
export async function createBucket(ceph: Ceph, bucket: string): Promise<void> {
  const { status, body } = await curlS3(ceph, "PUT", `/${bucket}`);
  if (status !== 200) {
    throw new Error(
      `cannot create bucket "${bucket}": ${status} ${new TextDecoder().decode(body)}`,
    );
  }
}

/** A file of `size` pseudo-random bytes (from `seed`) and its base64 SHA-256. */
export async function makeTarball(
  dir: string,
  name: string,
  size: number,
  seed: number,
): Promise<{ path: string; size: number; sha256: string; bytes: Uint8Array }> {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    // xorshift32: different seeds give different bytes at every offset.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return { path, size, sha256: createHash("sha256").update(bytes).digest("base64"), bytes };
}

/** A parcel for a file made by {@linkcode makeTarball}. */
export function parcelOf(
  file: { path: string; size: number; sha256: string },
  ids: { hostId?: string; episodeId: string; compression?: Compression },
): Parcel {
  return {
    hostId: ids.hostId ?? "lab-01",
    episodeId: ids.episodeId,
    compression: ids.compression ?? "gzip",
    sha256: file.sha256,
    size: file.size,
    commit: "0123456789abcdef0123456789abcdef01234567",
    path: file.path,
  };
}

/** libfaketime, which `scripts/test.sh` installs: the shipper's clock moved without a sleep. */
export const FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/**
 * Environment that runs a process with its wall clock `offset` away (`"-20m"`), its monotonic
 * clock (timers) untouched: a host whose time sync broke, under the binary's own flags.
 */
export function skewedClockEnv(offset: string): Record<string, string> {
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

/** A lab host shipping into a bucket: data root, credentials directory and config. */
export interface S3Lab extends AsyncDisposable {
  root: string;
  dataRoot: string;
  configPath: string;
  /** `$CREDENTIALS_DIRECTORY`: `s3-access-key-id` and `s3-secret-access-key`, as systemd makes it. */
  credentialsDir: string;
  /** Runs `cis490-ship --once` under the binary's flags with `$CREDENTIALS_DIRECTORY` set. */
  once(extraEnv?: Record<string, string>): Promise<CliResult>;
  /** Runs `cis490-ship check --json`; the parsed JSON and the raw run. */
  check(extraEnv?: Record<string, string>): Promise<{ json: CheckJson; run: CliResult }>;
  /** The CLI's environment (`CREDENTIALS_DIRECTORY`). */
  env: Record<string, string>;
}

/** What `check --json` prints. */
export interface CheckJson {
  exit: number;
  steps: { step: string; verdict: string; class?: string; message: string }[];
}

/** Options for {@linkcode makeS3Lab}. */
export interface S3LabSpec {
  bucket: string;
  /** @default {"cis490"} */
  keyPrefix?: string;
  /** @default {"lab-01"} */
  hostId?: string;
  /** @default {the cluster's user} */
  keys?: { accessKeyId: string; secretAccessKey: string };
  /** The endpoint. @default {ceph.endpoint} */
  url?: string;
  /** More lines for `[receiver]`. */
  receiver?: string;
  /** Lines for `[shipper]`. */
  shipper?: string;
}

/**
 * A lab host pointed at a bucket with the three lines an operator writes (url, bucket,
 * key_prefix) and a credentials directory.
 */
export async function makeS3Lab(ceph: Ceph, spec: S3LabSpec): Promise<S3Lab> {
  const root = await Deno.makeTempDir({ prefix: "cis490-s3lab-" });
  const dataRoot = join(root, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  const credentialsDir = join(root, "credentials");
  await Deno.mkdir(credentialsDir, { mode: 0o700 });
  const keys = spec.keys ?? ceph;
  for (
    const [name, value] of [
      ["s3-access-key-id", keys.accessKeyId],
      ["s3-secret-access-key", keys.secretAccessKey],
    ]
  ) {
    await Deno.writeTextFile(join(credentialsDir, name!), `${value}\n`, { mode: 0o600 });
    await Deno.chmod(join(credentialsDir, name!), 0o600);
  }
  const configPath = join(root, "lab-host.toml");
  await Deno.writeTextFile(
    configPath,
    [
      `host_id = "${spec.hostId ?? "lab-01"}"`,
      "[paths]",
      `data_root = "${dataRoot}"`,
      "[receiver]",
      `url = "${spec.url ?? ceph.endpoint}"`,
      `bucket = "${spec.bucket}"`,
      `key_prefix = "${spec.keyPrefix ?? "cis490"}"`,
      spec.receiver ?? "",
      "[shipper]",
      "request_timeout_s = 60.0",
      spec.shipper ?? "",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const env = { CREDENTIALS_DIRECTORY: credentialsDir };
  return {
    root,
    dataRoot,
    configPath,
    credentialsDir,
    env,
    once: (extraEnv = {}) =>
      runCli(["--once", "--config", configPath], { env: { ...env, ...extraEnv } }),
    async check(extraEnv = {}) {
      const run = await runCli(["check", "--json", "--config", configPath], {
        env: { ...env, ...extraEnv },
      });
      let json: CheckJson;
      try {
        json = JSON.parse(run.stdout);
      } catch {
        throw new Error(
          `check --json printed no JSON (exit ${run.code}): ${run.stdout}${run.stderr}`,
        );
      }
      return { json, run };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** Keys under `prefix` in `bucket` (ListObjects, read by curl; the first 1000). */
export async function listKeys(ceph: Ceph, bucket: string, prefix: string): Promise<string[]> {
  const listed = await curlS3(
    ceph,
    "GET",
    `/${bucket}?max-keys=1000&prefix=${encodeURIComponent(prefix)}`,
  );
  const xml = new TextDecoder().decode(listed.body);
  if (listed.status !== 200) throw new Error(`ListObjects: ${listed.status} ${xml}`);
  return [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!).sort();
}

/** Multipart uploads left unfinished under `prefix` (ListMultipartUploads, read by curl). */
export async function listUploads(ceph: Ceph, bucket: string, prefix: string): Promise<string[]> {
  const listed = await curlS3(
    ceph,
    "GET",
    `/${bucket}?prefix=${encodeURIComponent(prefix)}&uploads=`,
  );
  const xml = new TextDecoder().decode(listed.body);
  if (listed.status !== 200) throw new Error(`ListMultipartUploads: ${listed.status} ${xml}`);
  return [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!).sort();
}

/** A file inside a stored gzipped tarball, extracted by GNU tar (in a temporary directory under `dir`). */
export async function fileInTarball(
  dir: string,
  tarball: Uint8Array,
  name: string,
): Promise<Uint8Array> {
  const out = await Deno.makeTempDir({ dir });
  await Deno.writeFile(join(out, "t.tar.gz"), tarball);
  const tar = await new Deno.Command("tar", { args: ["-xzf", "t.tar.gz"], cwd: out }).output();
  assert(tar.success, new TextDecoder().decode(tar.stderr));
  const bytes = await Deno.readFile(join(out, name));
  await Deno.remove(out, { recursive: true });
  return bytes;
}
