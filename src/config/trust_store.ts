/**
 * The operating system's trust store, for a config without `receiver.ca_bundle`: found where
 * openssl, curl and Go look on Debian, Ubuntu, RHEL, Fedora, openSUSE and Alpine, read with read
 * permission only, and handed to the TLS client as `ca`.
 *
 * Why not Deno's own roots: without `--allow-sys` (which the binary does not have) node:https
 * fails every connection with `Requires sys access to "ca"`, and with it Deno uses its built-in
 * Mozilla list, not the CAs a site added to its system store.
 */
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { readBoundedText, ReadProblem } from "./read_bounded.ts";

/** Bundle files, in the order tried (Go's crypto/x509 list: each distribution's own path). */
export const SYSTEM_BUNDLE_FILES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL 6
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/pki/tls/cacert.pem", // OpenELEC
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7 and later
  "/etc/ssl/cert.pem", // Alpine
];

/** Directories of one certificate per file (`openssl rehash` style). */
export const SYSTEM_CERT_DIRS: readonly string[] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/** A CA bundle of this size is far beyond any real one (Debian's is about 220 KB). */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
/** One file of a certificate directory holds one certificate or a small bundle. */
const MAX_DIR_FILE_BYTES = 1024 * 1024;
/** A certificate directory of more files than this is not a trust store. */
const MAX_DIR_FILES = 10_000;

/** The trust store found: PEM text and where it came from. */
export interface TrustStore {
  /** Every certificate found, PEM, each once. */
  pem: string;
  count: number;
  /** Where they came from, for `check`: `SSL_CERT_FILE "/x.crt"`, `"/etc/ssl/certs/…crt"`. */
  source: string;
}

/** The trust store cannot be used; `message` follows "ca_bundle is not set, and …". */
export class TrustStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrustStoreError";
  }
}

/** Options for {@linkcode loadTrustStore}. */
export interface LoadTrustStoreOptions {
  /** Bundle files tried when `SSL_CERT_FILE` is unset. @default {SYSTEM_BUNDLE_FILES} */
  files?: readonly string[];
  /** Directories read when `SSL_CERT_DIR` is unset and no bundle file exists. @default {SYSTEM_CERT_DIRS} */
  dirs?: readonly string[];
}

/** Where to look, from the environment: the pure half of {@linkcode loadTrustStore}. */
export interface TrustStorePlan {
  /** `SSL_CERT_FILE`, which must then be readable; else null. */
  envFile: string | null;
  /** `SSL_CERT_DIR`'s entries, each of which must then exist; else null. */
  envDirs: string[] | null;
}

/** Reads `SSL_CERT_FILE` and `SSL_CERT_DIR` (colon-separated, as openssl splits it). Pure. */
export function planTrustStore(env: (name: string) => string | undefined): TrustStorePlan {
  const file = env("SSL_CERT_FILE");
  const dirs = env("SSL_CERT_DIR")?.split(":").filter((d) => d !== "");
  return { envFile: file ? file : null, envDirs: dirs && dirs.length > 0 ? dirs : null };
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificate blocks of `pem` that parse, skipping the rest (as openssl's loader does). */
function certificates(pem: string): string[] {
  return (pem.match(CERT_BLOCK) ?? []).filter((block) => {
    try {
      new X509Certificate(block);
      return true;
    } catch {
      return false;
    }
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    return true; // present but unreadable: reading it says why
  }
}

/** Every certificate in the regular files of `dir`. @throws {TrustStoreError} */
async function readCertDir(dir: string, what: string): Promise<string[]> {
  const found: string[] = [];
  let count = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (++count > MAX_DIR_FILES) {
        throw new TrustStoreError(`${what} "${dir}" holds more than ${MAX_DIR_FILES} files`);
      }
      // `openssl rehash` links <hash>.0 to a file beside it: that file is read under its own name.
      if (entry.isSymlink) {
        const target = await Deno.readLink(join(dir, entry.name)).catch(() => "/");
        if (!target.includes("/")) continue;
      }
      const text = await readBoundedText(join(dir, entry.name), { limit: MAX_DIR_FILE_BYTES })
        .catch(() => ""); // not a certificate file (or not readable): skipped, as openssl does
      found.push(...certificates(text));
    }
  } catch (error) {
    if (error instanceof TrustStoreError) throw error;
    const why = error instanceof Deno.errors.NotFound
      ? "directory not found"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Deno.errors.NotADirectory
      ? "not a directory"
      : error instanceof Error
      ? error.name
      : String(error);
    throw new TrustStoreError(`${what} "${dir}": ${why}`);
  }
  return found;
}

/**
 * Finds and reads the system trust store: `SSL_CERT_FILE`, else the first standard bundle file
 * that exists; plus every directory of `SSL_CERT_DIR`, else the standard directories when no
 * bundle file was found (on Debian and RHEL the bundle is built from them).
 * @throws {TrustStoreError} when a named place is unusable or no certificate is found
 * @example
 * ```ts
 * const store = await loadTrustStore((name) => Deno.env.get(name));
 * console.log(store.source, store.count);
 * ```
 */
export async function loadTrustStore(
  env: (name: string) => string | undefined,
  options: LoadTrustStoreOptions = {},
): Promise<TrustStore> {
  const plan = planTrustStore(env);
  const blocks: string[] = [];
  const sources: string[] = [];
  let file: string | null = plan.envFile;
  if (file === null) {
    for (const candidate of options.files ?? SYSTEM_BUNDLE_FILES) {
      if (await exists(candidate)) {
        file = candidate;
        break;
      }
    }
  }
  if (file !== null) {
    const what = plan.envFile !== null ? "SSL_CERT_FILE names" : "the system trust store";
    let text: string;
    try {
      text = await readBoundedText(file, { limit: MAX_BUNDLE_BYTES });
    } catch (error) {
      if (!(error instanceof ReadProblem)) throw error;
      throw new TrustStoreError(`${what} "${file}": ${error.reason}`);
    }
    const found = certificates(text);
    if (found.length === 0 && plan.envDirs === null) {
      throw new TrustStoreError(`${what} "${file}": no PEM certificate found`);
    }
    blocks.push(...found);
    sources.push(plan.envFile !== null ? `SSL_CERT_FILE "${file}"` : `"${file}"`);
  }
  const dirs = plan.envDirs ?? (file === null ? options.dirs ?? SYSTEM_CERT_DIRS : []);
  for (const dir of dirs) {
    if (plan.envDirs === null && !(await exists(dir))) continue;
    blocks.push(
      ...await readCertDir(dir, plan.envDirs !== null ? "SSL_CERT_DIR names" : "the system"),
    );
    sources.push(plan.envDirs !== null ? `SSL_CERT_DIR "${dir}"` : `"${dir}"`);
  }
  const unique = [...new Set(blocks.map((b) => b.replace(/\r\n/g, "\n")))];
  if (unique.length === 0) {
    const looked = plan.envDirs !== null
      ? `SSL_CERT_DIR "${plan.envDirs.join(":")}"`
      : [...(options.files ?? SYSTEM_BUNDLE_FILES), ...(options.dirs ?? SYSTEM_CERT_DIRS)]
        .join(", ");
    throw new TrustStoreError(
      `no system trust store with a certificate was found (looked in ${looked}): ` +
        "install the ca-certificates package, set SSL_CERT_FILE or SSL_CERT_DIR, or set ca_bundle",
    );
  }
  return { pem: unique.join("\n") + "\n", count: unique.length, source: sources.join(" and ") };
}
