/**
 * What the S3 receiver and the collector's S3 storage need to know about the bucket, as one typed
 * value. The config loader fills it from the `[receiver]` table (docs/object-store.md lists the
 * keys); this module only says what is valid, so the loader and the tests share one rule.
 */
import type { Config, TlsMaterial } from "../../config/config.ts";
import type { S3Credentials } from "./credentials.ts";

/** A mebibyte. */
const MIB = 1024 * 1024;

/** S3's smallest part (every part but the last): 5 MiB. */
export const MIN_PART_BYTES = 5 * MIB;

/** S3's largest part: 5 GiB. */
export const MAX_PART_BYTES = 5 * 1024 * MIB;

/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;

/** S3's largest single PUT: 5 GiB. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 * MIB;

/** Where a bucket is and how to reach it. */
export interface S3Settings {
  /** The store's base URL (`https://rgw.lab.example:7480`), no path, no trailing `/`. */
  endpoint: string;
  /** The bucket; it must exist (the shipper never creates it). */
  bucket: string;
  /** Key prefix, without leading or trailing `/`; "" puts keys at `<host_id>/…`. */
  prefix: string;
  /** The region signed into every request; RGW and MinIO accept any. */
  region: string;
  /** `https://host/bucket/key` (true) rather than `https://bucket.host/key`. */
  pathStyle: boolean;
  credentials: S3Credentials;
  /** CA bundle and client certificate for the endpoint, as for a collector. */
  tls: TlsMaterial;
  /** False skips verification of the store's certificate. */
  verifyTls: boolean;
  /** Bytes of each part of a multipart upload (the last may be smaller). */
  partBytes: number;
  /** Episodes of at least this many bytes go by multipart upload, smaller ones by one PUT. */
  multipartThresholdBytes: number;
  /** Bound on one request (one PUT, one part), connect to last response byte. */
  requestTimeoutMs: number;
}

/** Defaults of the optional settings. */
export const S3_DEFAULTS = {
  prefix: "",
  region: "us-east-1",
  pathStyle: true,
  /** 16 MiB: 32 parts for a 512 MiB episode, little to resend after a crash. */
  partBytes: 16 * MIB,
  /** 64 MiB: below it one PUT is quicker than four requests and a HEAD. */
  multipartThresholdBytes: 64 * MIB,
} as const;

/** S3's bucket names (DNS-compatible, as RGW enforces by default). */
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Prefix segments: the characters of host and episode ids, so no key ever needs escaping. */
const PREFIX_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Region names as AWS, RGW and MinIO spell them. */
const REGION_PATTERN = /^[a-z0-9-]{1,64}$/;

/** Why `bucket` is not a bucket name, or null. Pure: the config key and the settings share it. */
export function bucketProblem(bucket: string): string | null {
  return BUCKET_PATTERN.test(bucket) && !bucket.includes("..")
    ? null
    : `"${bucket}" is not a valid bucket name (3–63 of a-z 0-9 . -)`;
}

/** Why `prefix` is not a key prefix, or null. Pure. */
export function prefixProblem(prefix: string): string | null {
  return prefix === "" || prefix.split("/").every((s) => PREFIX_SEGMENT.test(s))
    ? null
    : `"${prefix}" must be segments of A-Z a-z 0-9 . _ - joined by "/", ` +
      `without a leading or trailing "/"`;
}

/** Why `region` is not a region name, or null. Pure. */
export function regionProblem(region: string): string | null {
  return REGION_PATTERN.test(region) ? null : `"${region}" is not a region name (a-z 0-9 -)`;
}

/** Why `endpoint` is not a store's base URL (scheme, host, port), or null. Pure. */
export function endpointProblem(endpoint: string): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `"${endpoint}" is not a URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `"${endpoint}" must start with https:// or http://`;
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    return `"${endpoint}" must be scheme, host and port only (the bucket is set apart)`;
  }
  return null;
}

/**
 * What is wrong with `settings`, one line per problem, naming the setting; empty when valid.
 * Pure: the loader turns each line into its config error.
 */
export function s3SettingsProblems(settings: S3Settings): string[] {
  const problems: string[] = [];
  const each: [string, string | null][] = [
    ["endpoint", endpointProblem(settings.endpoint)],
    ["bucket", bucketProblem(settings.bucket)],
    ["prefix", prefixProblem(settings.prefix)],
    ["region", regionProblem(settings.region)],
  ];
  for (const [name, problem] of each) if (problem) problems.push(`${name}: ${problem}`);
  if (
    !Number.isInteger(settings.partBytes) || settings.partBytes < MIN_PART_BYTES ||
    settings.partBytes > MAX_PART_BYTES
  ) {
    problems.push(
      `part size: ${settings.partBytes} is outside S3's ${MIN_PART_BYTES}–${MAX_PART_BYTES} bytes`,
    );
  }
  if (
    !Number.isInteger(settings.multipartThresholdBytes) ||
    settings.multipartThresholdBytes < settings.partBytes ||
    settings.multipartThresholdBytes > MAX_SINGLE_PUT_BYTES
  ) {
    problems.push(
      `multipart threshold: ${settings.multipartThresholdBytes} must be between the part size ` +
        `(${settings.partBytes}) and S3's largest single PUT (${MAX_SINGLE_PUT_BYTES} bytes)`,
    );
  }
  return problems;
}

/**
 * The bucket a loaded config names, as settings, or null when its receiver is a collector:
 * `receiver.url` is the endpoint, and the client certificate, CA and timeout apply as to a
 * collector.
 */
export function s3SettingsOf(
  config: Pick<Config, "receiver" | "tls" | "requestTimeoutS">,
): S3Settings | null {
  const s3 = config.receiver.s3;
  if (!s3) return null;
  return {
    endpoint: config.receiver.url,
    bucket: s3.bucket,
    prefix: s3.keyPrefix,
    region: s3.region,
    pathStyle: s3.pathStyle,
    credentials: s3.credentials,
    tls: config.tls,
    verifyTls: config.receiver.verifyTls,
    partBytes: s3.partBytes,
    multipartThresholdBytes: s3.multipartThresholdBytes,
    requestTimeoutMs: config.requestTimeoutS * 1000,
  };
}

/** `s3://bucket/prefix at https://rgw:7480`: where a bucket is, for log lines and `check`. */
export function describeS3(settings: Pick<S3Settings, "bucket" | "prefix" | "endpoint">): string {
  const where = settings.prefix === "" ? settings.bucket : `${settings.bucket}/${settings.prefix}`;
  return `s3://${where} at ${settings.endpoint}`;
}
