/**
 * Reads and parses the receiver's PEM files at start, so a bad certificate or key is a config
 * error now rather than a TLS failure at the first upload.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { TableReader } from "./_reader.ts";

/** PEM text handed to the TLS client. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

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
  if (paths.clientCert && paths.clientKey) {
    const certPem = await readPem(r, "receiver.client_cert", paths.clientCert);
    const keyPem = await readPem(r, "receiver.client_key", paths.clientKey);
    let cert: X509Certificate | undefined;
    try {
      cert = parseCertificates(certPem)[0];
    } catch (error) {
      r.fail("receiver.client_cert", `"${paths.clientCert}": ${(error as Error).message}`);
    }
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      r.fail(
        "receiver.client_key",
        `"${paths.clientKey}": not an unencrypted PEM private key`,
      );
    }
    if (cert && !cert.checkPrivateKey(key)) {
      r.fail(
        "receiver.client_key",
        `"${paths.clientKey}" does not match the certificate in "${paths.clientCert}"`,
      );
    }
    if (cert) {
      const w = expiryWarning(r, "receiver.client_cert", cert, ctx.now());
      if (w) ctx.warnings.push(w);
    }
    const keyStat = await Deno.stat(paths.clientKey).catch(() => null);
    if (keyStat?.mode != null && (keyStat.mode & 0o004) !== 0) {
      ctx.warnings.push(
        `${r.file}: receiver.client_key: "${paths.clientKey}" is readable by other users; chmod 600 it`,
      );
    }
    material.cert = certPem;
    material.key = keyPem;
  }
  return material;
}
