/**
 * `check`: is this host ready to ship? Config, certificate dates, key against certificate, data
 * root, then one real TLS + auth round trip (GET `{url}/v1/health`; never a PUT). Each step gets a
 * verdict; the judgements are pure, the probe is the only I/O besides reading the config.
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { Config } from "../config/config.ts";
import { parseCertificates } from "../config/tls_files.ts";
import { VERSION } from "../version.ts";
import { RESPONSE_BODY_LIMIT } from "../upload/put.ts";

/** How a step went. `refused`: credentials or setup (exit 78); `unreachable`: try later (75). */
export type StepVerdict = "ok" | "warn" | "fail" | "refused" | "unreachable" | "skip";

/** One step of `check`. */
export interface CheckStep {
  step: string;
  verdict: StepVerdict;
  message: string;
}

/** Certificates closer than this to expiry get a warning. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** Judges one certificate's dates at `now`. Pure. */
export function judgeCertificateDates(
  what: string,
  cert: { subject: string; notBefore: number; notAfter: number },
  now: number,
): CheckStep {
  const step = `${what} dates`;
  const subject = cert.subject.replaceAll("\n", ", ");
  const until = new Date(cert.notAfter).toISOString();
  if (now < cert.notBefore) {
    return {
      step,
      verdict: "fail",
      message: `"${subject}" is not valid before ${new Date(cert.notBefore).toISOString()}`,
    };
  }
  if (now >= cert.notAfter) {
    return { step, verdict: "fail", message: `"${subject}" expired on ${until}` };
  }
  const days = Math.floor((cert.notAfter - now) / DAY_MS);
  if (cert.notAfter - now < EXPIRY_WARNING_DAYS * DAY_MS) {
    return {
      step,
      verdict: "warn",
      message: `"${subject}" expires in ${days} days, on ${until}: renew it`,
    };
  }
  return { step, verdict: "ok", message: `"${subject}" valid until ${until} (${days} days)` };
}

function certDates(cert: X509Certificate) {
  return {
    subject: cert.subject,
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
  };
}

/** The client certificate's expiry (ms) and subject, or null without one. */
export function clientCertificateInfo(
  config: Config,
): { notAfter: number; subject: string } | null {
  if (!config.tls.cert) return null;
  const cert = parseCertificates(config.tls.cert)[0];
  return cert ? { notAfter: Date.parse(cert.validTo), subject: cert.subject } : null;
}

/** The offline steps: certificate dates and key against certificate. */
export function checkTlsMaterial(config: Config, now: number): CheckStep[] {
  const steps: CheckStep[] = [];
  if (config.tls.cert && config.tls.key) {
    const cert = parseCertificates(config.tls.cert)[0] as X509Certificate;
    steps.push(judgeCertificateDates("client certificate", certDates(cert), now));
    const matches = cert.checkPrivateKey(createPrivateKey(config.tls.key));
    steps.push({
      step: "client key",
      verdict: matches ? "ok" : "fail",
      message: matches
        ? `"${config.receiver.clientKey}" matches the certificate`
        : `"${config.receiver.clientKey}" does not match "${config.receiver.clientCert}"`,
    });
  } else {
    steps.push({
      step: "client certificate",
      verdict: "warn",
      message: "none configured (receiver.client_cert): the collector must accept no mutual TLS",
    });
  }
  if (config.tls.ca) {
    parseCertificates(config.tls.ca).forEach((cert, i) => {
      steps.push(judgeCertificateDates(`ca_bundle certificate ${i + 1}`, certDates(cert), now));
    });
  }
  return steps;
}

/** The answer to the probe, or why there was none. */
export type ProbeResult =
  | { status: number; body: string }
  | { error: string; code: string | null };

const NGINX_CERT_400 = /SSL certificate error|No required SSL certificate was sent/i;
const PLAIN_HTTP_400 = /plain HTTP request was sent to HTTPS port/i;
/** Our own verification of the collector failed: ca_bundle or receiver.url is wrong. */
const SERVER_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_UNTRUSTED",
]);
/** TLS alerts a server sends when it rejects our client certificate. */
const CLIENT_CERT_ALERT =
  /alert (certificate required|unknown ca|bad certificate|certificate unknown|certificate revoked|certificate expired|access denied|handshake failure)|CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|certificate verify failed|peer did not return a certificate/i;

/** Judges the round trip. Pure. */
export function judgeProbe(result: ProbeResult, url: string): CheckStep {
  const step = "collector";
  if ("error" in result) {
    if (result.code !== null && SERVER_UNTRUSTED.has(result.code)) {
      return {
        step,
        verdict: "refused",
        message:
          `the collector's certificate is not trusted (${result.code}: ${result.error}); check receiver.ca_bundle and receiver.url`,
      };
    }
    if (CLIENT_CERT_ALERT.test(`${result.error} ${result.code ?? ""}`)) {
      return {
        step,
        verdict: "refused",
        message:
          `the collector refused our client certificate during the TLS handshake (${result.error})`,
      };
    }
    return {
      step,
      verdict: "unreachable",
      message: `cannot reach ${url}: ${result.error}${result.code ? ` (${result.code})` : ""}`,
    };
  }
  const { status, body } = result;
  const said = `HTTP ${status}${
    body.trim() ? `: ${body.trim().split(/\r?\n/)[0]?.slice(0, 200)}` : ""
  }`;
  if (status >= 200 && status < 300) {
    return { step, verdict: "ok", message: `${url}/v1/health answered ${said}` };
  }
  if (status === 404 || status === 405) {
    return {
      step,
      verdict: "ok",
      message:
        `no health route (HTTP ${status}); TLS and client certificate accepted (the bearer token is checked at the first upload)`,
    };
  }
  if (
    status === 401 || status === 403 || status === 407 || status === 495 || status === 496 ||
    (status === 400 && NGINX_CERT_400.test(body))
  ) {
    return { step, verdict: "refused", message: `the collector refused our credentials: ${said}` };
  }
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    return { step, verdict: "unreachable", message: `the collector is not available: ${said}` };
  }
  return {
    step,
    verdict: "refused",
    message: `receiver.url or the collector's setup looks wrong: ${said}${
      PLAIN_HTTP_400.test(body) ? " (an http:// URL for an HTTPS port?)" : ""
    }`,
  };
}

/** Options for {@linkcode probeCollector}. */
export interface ProbeOptions {
  /** @default {config.requestTimeoutS} */
  timeoutMs?: number;
}

/** GETs `{receiver.url}/v1/health` with the configured TLS material and token. */
export function probeCollector(config: Config, options: ProbeOptions = {}): Promise<ProbeResult> {
  const url = new URL(config.receiver.url + "/v1/health");
  const isHttps = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const timeoutMs = options.timeoutMs ?? config.requestTimeoutS * 1000;
  const headers: Record<string, string> = { "user-agent": `cis490-ship/${VERSION}` };
  if (config.receiver.bearerToken !== undefined) {
    headers.authorization = `Bearer ${config.receiver.bearerToken}`;
  }
  const tls = config.tls;
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = (isHttps ? https : http).request({
      method: "GET",
      hostname,
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname,
      headers,
      agent: false,
      ...(isHttps && {
        rejectUnauthorized: config.receiver.verifyTls,
        ...(tls.ca !== undefined && { ca: tls.ca }),
        ...(tls.cert !== undefined && { cert: tls.cert }),
        ...(tls.key !== undefined && { key: tls.key }),
        ...(isIP(hostname) === 0 && { servername: hostname }),
      }),
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < RESPONSE_BODY_LIMIT) body += chunk;
      });
      const done = () =>
        finish({ status: res.statusCode ?? 0, body: body.slice(0, RESPONSE_BODY_LIMIT) });
      res.on("end", done);
      res.on("error", done);
    });
    req.on("error", (e: Error) => {
      const code = (e as { code?: unknown }).code;
      finish({ error: e.message, code: typeof code === "string" ? code : null });
    });
    const timer = setTimeout(
      () => finish({ error: `no answer within ${timeoutMs / 1000} s`, code: "ETIMEDOUT" }),
      timeoutMs,
    );
    req.end();
  });
}
