/**
 * What the S3 receiver and the collector's S3 storage need to know about the bucket, as one typed
 * value. The config loader fills it from the `[receiver]` table (docs/object-store.md lists the
 * keys); this module only says what is valid, so the loader and the tests share one rule.
 */
import type { TlsMaterial } from "../../config/config.ts";
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

/**
 * What is wrong with `settings`, one line per problem, naming the setting; empty when valid.
 * Pure: the loader turns each line into its config error.
 */
export function s3SettingsProblems(settings: S3Settings): string[] {
  const problems: string[] = [];
  let url: URL | null = null;
  try {
    url = new URL(settings.endpoint);
  } catch {
    problems.push(`endpoint: "${settings.endpoint}" is not a URL`);
  }
  if (url) {
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      problems.push(`endpoint: "${settings.endpoint}" must start with https:// or http://`);
    } else if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
      problems.push(
        `endpoint: "${settings.endpoint}" must be scheme, host and port only (the bucket is set apart)`,
      );
    }
  }
  if (!BUCKET_PATTERN.test(settings.bucket) || settings.bucket.includes("..")) {
    problems.push(
      `bucket: "${settings.bucket}" is not a valid bucket name (3–63 of a-z 0-9 . -)`,
    );
  }
  if (settings.prefix !== "" && !settings.prefix.split("/").every((s) => PREFIX_SEGMENT.test(s))) {
    problems.push(
      `prefix: "${settings.prefix}" must be segments of A-Z a-z 0-9 . _ - joined by "/", ` +
        `without a leading or trailing "/"`,
    );
  }
  if (!/^[a-z0-9-]{1,64}$/.test(settings.region)) {
    problems.push(`region: "${settings.region}" is not a region name`);
  }
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
