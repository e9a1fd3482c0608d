/**
 * Reads and parses the receiver's PEM files at start, so a bad certificate or key is a config
 * error now rather than a TLS failure at the first upload.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { TableReader } from "./_reader.ts";

/** PEM text handed to the TLS client. */
export interface TlsMaterial {
  ca?: string;
  /** The client certificate (and any chain), certificate blocks only. */
  cert?: string;
  /** The client key, from client_key or from the client certificate's file. */
  key?: string;
  /** When the client certificate expires, ms since the epoch: "our certificate expired on …". */
  clientCertNotAfter?: number;
  /** The client certificate's subject, one line (`CN=lab-01`). */
  clientCertSubject?: string;
}

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

async function readPem(r: TableReader, key: string, file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    r.fail(key, `cannot read "${file}": ${why}`);
  }
}

function expiryWarning(
  r: TableReader,
  key: string,
  cert: X509Certificate,
  now: number,
): string | null {
  const until = Date.parse(cert.validTo);
  if (Number.isNaN(until) || until > now) return null;
  return `${r.file}: ${key}: certificate "${
    cert.subject.replaceAll("\n", ", ")
  }" expired on ${cert.validTo}`;
}

/**
 * Reads the CA bundle, client certificate and key named in the config and checks they parse and
 * that the key matches the certificate.
 * @throws {import("./_reader.ts").ConfigError}
 */
export async function readTlsMaterial(
  r: TableReader,
  paths: {
    caBundle: string | undefined;
    clientCert: string | undefined;
    clientKey: string | undefined;
  },
  ctx: { now: () => number; warnings: string[] },
): Promise<TlsMaterial> {
  const material: TlsMaterial = {};
  if (paths.caBundle) {
    const pem = await readPem(r, "receiver.ca_bundle", paths.caBundle);
    let certs: X509Certificate[] = [];
    try {
      certs = parseCertificates(pem);
    } catch (error) {
      r.fail("receiver.ca_bundle", `"${paths.caBundle}": ${(error as Error).message}`);
    }
    for (const cert of certs) {
      const w = expiryWarning(r, "receiver.ca_bundle", cert, ctx.now());
      if (w) ctx.warnings.push(w);
    }
    material.ca = pem;
  }
  if (paths.clientCert) {
    const certKey = "receiver.client_cert";
    const certPem = await readPem(r, certKey, paths.clientCert);
    let certs: X509Certificate[] = [];
    try {
      certs = parseCertificates(certPem);
    } catch (error) {
      r.fail(certKey, `"${paths.clientCert}": ${(error as Error).message}`);
    }
    // As curl and Python's ssl do: a separate client_key wins, else the cert file's own key.
    const keyFile = paths.clientKey ?? paths.clientCert;
    const keyName = paths.clientKey ? "receiver.client_key" : certKey;
    const keyPem = paths.clientKey
      ? await readPem(r, keyName, paths.clientKey)
      : findPrivateKey(certPem) ??
        r.fail(
          "receiver.client_key",
          `required when client_cert "${paths.clientCert}" holds no private key`,
        );
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      r.fail(keyName, `"${keyFile}": not an unencrypted PEM private key`);
    }
    const cert = certs[0];
    if (cert && !cert.checkPrivateKey(key)) {
      r.fail(
        keyName,
        paths.clientKey
          ? `"${paths.clientKey}" does not match the certificate in "${paths.clientCert}"`
          : `"${paths.clientCert}": the private key does not match the certificate`,
      );
    }
    if (cert) {
      const w = expiryWarning(r, certKey, cert, ctx.now());
      if (w) ctx.warnings.push(w);
      const notAfter = Date.parse(cert.validTo);
      if (!Number.isNaN(notAfter)) material.clientCertNotAfter = notAfter;
      material.clientCertSubject = cert.subject.replaceAll("\n", ", ");
    }
    const keyStat = await Deno.stat(keyFile).catch(() => null);
    if (keyStat?.mode != null && (keyStat.mode & 0o004) !== 0) {
      ctx.warnings.push(
        `${r.file}: ${keyName}: "${keyFile}" is readable by other users; chmod 600 it`,
      );
    }
    // Certificate blocks only: the TLS client gets the key separately.
    material.cert = (certPem.match(CERT_BLOCK) ?? []).join("\n") + "\n";
    material.key = keyPem;
  }
  return material;
}
