/**
 * Reads and parses the receiver's PEM files at start, so a bad certificate or key is a config
 * error now rather than a TLS failure at the first upload; without `ca_bundle`, the system trust
 * store (trust_store.ts). Every problem is reported, not only the first.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { ConfigProblem } from "./_reader.ts";
import { readBoundedText, ReadProblem } from "./read_bounded.ts";
import { loadTrustStore, MAX_BUNDLE_BYTES, TrustStoreError } from "./trust_store.ts";
import { certificateNames } from "./certificate_names.ts";

/** PEM text handed to the TLS client, and what `check` reports about it. */
export interface TlsMaterial {
  /** The CAs trusted for the collector: ca_bundle's, else the system trust store's. */
  ca?: string;
  /** Where `ca` came from: `"/etc/cis490/ca.pem"`, `system trust store SSL_CERT_FILE "/x"`. */
  caSource?: string;
  /** The client certificate (and any chain), certificate blocks only. */
  cert?: string;
  /** The client key, from client_key or from the client certificate's file. */
  key?: string;
  /** When the client certificate expires, ms since the epoch: "our certificate expired on …". */
  clientCertNotAfter?: number;
  /** The client certificate's subject, one line (`CN=lab-01`). */
  clientCertSubject?: string;
  /** The names the collector binds to a host id: the CN and every DNS subject alternative name. */
  clientCertNames?: string[];
}

/** The most a certificate or key file may hold: far beyond any certificate chain. */
export const MAX_PEM_BYTES = 1024 * 1024;

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** The first private key block in PEM text, or null: a client certificate file may hold its key. */
export function findPrivateKey(pem: string): string | null {
  return pem.match(KEY_BLOCK)?.[0] ?? null;
}

/** Parses every certificate in a PEM bundle. @throws {Error} naming what failed. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error("no PEM certificate found");
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`certificate ${i + 1} is malformed`, { cause: error });
    }
  });
}

/** The paths and settings {@linkcode readTlsMaterial} works from. */
export interface TlsPaths {
  caBundle: string | undefined;
  clientCert: string | undefined;
  clientKey: string | undefined;
  /** Whether the URL is https: only then is a trust store needed. */
  https: boolean;
  /** Without verification, a missing system trust store is no problem. */
  verifyTls: boolean;
}

/** Where {@linkcode readTlsMaterial} reports. */
export interface TlsContext {
  file: string;
  now: () => number;
  env: (name: string) => string | undefined;
  warnings: string[];
  problems: ConfigProblem[];
}

async function readPem(
  key: string,
  file: string,
  ctx: TlsContext,
  limit = MAX_PEM_BYTES,
): Promise<string | null> {
  try {
    return await readBoundedText(file, { limit });
  } catch (error) {
    if (!(error instanceof ReadProblem)) throw error;
    ctx.problems.push({ file: ctx.file, key, detail: error.message });
    return null;
  }
}

function expiryWarning(file: string, key: string, cert: X509Certificate, now: number) {
  const until = Date.parse(cert.validTo);
  if (Number.isNaN(until) || until > now) return null;
  return `${file}: ${key}: certificate "${
    cert.subject.replaceAll("\n", ", ")
  }" expired on ${cert.validTo}`;
}

async function othersCanRead(file: string): Promise<boolean> {
  const info = await Deno.stat(file).catch(() => null);
  return info?.mode != null && (info.mode & 0o004) !== 0;
}

async function readCa(paths: TlsPaths, ctx: TlsContext, material: TlsMaterial): Promise<void> {
  const key = "receiver.ca_bundle";
  if (paths.caBundle) {
    const pem = await readPem(key, paths.caBundle, ctx, MAX_BUNDLE_BYTES);
    if (pem === null) return;
    try {
      for (const cert of parseCertificates(pem)) {
        const w = expiryWarning(ctx.file, key, cert, ctx.now());
        if (w) ctx.warnings.push(w);
      }
    } catch (error) {
      ctx.problems.push({
        file: ctx.file,
        key,
        detail: `"${paths.caBundle}": ${(error as Error).message}`,
      });
      return;
    }
    material.ca = pem;
    material.caSource = `"${paths.caBundle}"`;
    return;
  }
  if (!paths.https) return;
  try {
    const store = await loadTrustStore(ctx.env);
    material.ca = store.pem;
    material.caSource = `system trust store ${store.source} (${store.count} certificates)`;
  } catch (error) {
    if (!(error instanceof TrustStoreError)) throw error;
    // Nothing is verified without verify_tls: no store needed (the TLS client gets an empty one).
    if (!paths.verifyTls) return;
    ctx.problems.push({ file: ctx.file, key, detail: `not set, and ${error.message}` });
  }
}

/**
 * Reads the CA bundle (or the system trust store), client certificate and key named in the
 * config, checks they parse and that the key matches the certificate. Problems go to
 * `ctx.problems`, warnings to `ctx.warnings`.
 */
export async function readTlsMaterial(paths: TlsPaths, ctx: TlsContext): Promise<TlsMaterial> {
  const material: TlsMaterial = {};
  await readCa(paths, ctx, material);
  if (!paths.clientCert) return material;
  const certKey = "receiver.client_cert";
  const certPem = await readPem(certKey, paths.clientCert, ctx);
  if (certPem === null) return material;
  let certs: X509Certificate[];
  try {
    certs = parseCertificates(certPem);
  } catch (error) {
    ctx.problems.push({
      file: ctx.file,
      key: certKey,
      detail: `"${paths.clientCert}": ${(error as Error).message}`,
    });
    return material;
  }
  // As curl and Python's ssl do: a separate client_key wins, else the cert file's own key.
  const keyFile = paths.clientKey ?? paths.clientCert;
  const keyName = paths.clientKey ? "receiver.client_key" : certKey;
  const keyPem = paths.clientKey ? await readPem(keyName, paths.clientKey, ctx) : findPrivateKey(
    certPem,
  );
  if (keyPem === null) {
    if (!paths.clientKey) {
      ctx.problems.push({
        file: ctx.file,
        key: "receiver.client_key",
        detail: `required when client_cert "${paths.clientCert}" holds no private key`,
      });
    }
    return material;
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    ctx.problems.push({
      file: ctx.file,
      key: keyName,
      detail: `"${keyFile}": not an unencrypted PEM private key`,
    });
    return material;
  }
  const cert = certs[0]!;
  if (!cert.checkPrivateKey(privateKey)) {
    ctx.problems.push({
      file: ctx.file,
      key: keyName,
      detail: paths.clientKey
        ? `"${paths.clientKey}" does not match the certificate in "${paths.clientCert}"`
        : `"${paths.clientCert}": the private key does not match the certificate`,
    });
    return material;
  }
  const w = expiryWarning(ctx.file, certKey, cert, ctx.now());
  if (w) ctx.warnings.push(w);
  const notAfter = Date.parse(cert.validTo);
  if (!Number.isNaN(notAfter)) material.clientCertNotAfter = notAfter;
  material.clientCertSubject = cert.subject.replaceAll("\n", ", ");
  material.clientCertNames = certificateNames(cert.subject, cert.subjectAltName);
  if (await othersCanRead(keyFile)) {
    ctx.warnings.push(
      `${ctx.file}: ${keyName}: "${keyFile}" is readable by other users; chmod 600 it`,
    );
  }
  // Certificate blocks only: the TLS client gets the key separately.
  material.cert = (certPem.match(CERT_BLOCK) ?? []).join("\n") + "\n";
  material.key = keyPem;
  return material;
}
