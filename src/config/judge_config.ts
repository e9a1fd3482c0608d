/**
 * `check`'s judgments of a loaded config, without the network: placeholders left from the
 * template, certificate dates, the key, host_id against the client certificate (the collector's
 * binding rule), the trust store. Pure: every fact comes in as a value.
 */
import { X509Certificate } from "node:crypto";
import type { Config } from "./config.ts";
import type { CheckStep } from "./check_step.ts";
import { CONFIG_KEYS, type ConfigKey, KEYS } from "./keys.ts";
import { parseCertificates } from "./tls_files.ts";
import { quote } from "./_reader.ts";

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
      class: "credentials",
      message: `"${subject}" is not valid before ${new Date(cert.notBefore).toISOString()}`,
    };
  }
  if (now >= cert.notAfter) {
    return {
      step,
      verdict: "fail",
      class: "credentials",
      message: `"${subject}" expired on ${until}`,
    };
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

/** The value of a key in a loaded config, for comparing with the template's placeholder. */
function configured(config: Config, key: ConfigKey): unknown {
  if (key === KEYS.hostId) return config.hostId;
  if (key === KEYS.url) return config.receiver.url;
  return undefined;
}

/** A step per key that still holds the template's placeholder value. */
function judgePlaceholders(config: Config): CheckStep[] {
  return CONFIG_KEYS.filter((k) => k.placeholder !== undefined)
    .filter((k) => configured(config, k) === k.placeholder)
    .map((k) => ({
      step: "config",
      verdict: "fail" as const,
      class: "config" as const,
      message: `${config.file}: ${k.name}: ${
        quote(String(k.placeholder))
      } is the template's placeholder: set this host's own value`,
    }));
}

/** The client certificate's steps: dates, key, and host_id as the collector binds it. */
function judgeClient(config: Config, now: number): CheckStep[] {
  const { tls, receiver } = config;
  if (!tls.cert || !tls.key) {
    return [{
      step: "client certificate",
      verdict: "warn",
      message: "none configured (receiver.client_cert): the collector must accept no mutual TLS",
    }];
  }
  const cert = parseCertificates(tls.cert)[0] as X509Certificate;
  const steps = [judgeCertificateDates("client certificate", certDates(cert), now)];
  steps.push({
    step: "client key",
    verdict: "ok",
    // The loader refuses a key that does not match, so this is a report of where it came from.
    message: receiver.clientKey
      ? `"${receiver.clientKey}" matches the certificate`
      : `the key in "${receiver.clientCert}" matches the certificate`,
  });
  const names = tls.clientCertNames ?? [];
  const subject = tls.clientCertSubject ?? cert.subject;
  steps.push(
    names.includes(config.hostId)
      ? {
        step: "host id",
        verdict: "ok",
        message: `host_id "${config.hostId}" is a name of the client certificate "${subject}"`,
      }
      : {
        step: "host id",
        verdict: "fail",
        class: "credentials",
        message:
          `host_id ${quote(config.hostId)} is not a name of the client certificate "${subject}" ` +
          `(its names: ${names.join(", ") || "none"}): the collector refuses every upload (403)`,
      },
  );
  return steps;
}

/** The CAs the collector's certificate is verified against. */
function judgeTrust(config: Config, now: number): CheckStep[] {
  const { tls, receiver } = config;
  if (!receiver.url.startsWith("https:")) return [];
  if (!receiver.verifyTls) {
    return [{
      step: "trust",
      verdict: "warn",
      message: "verify_tls = false: the collector's certificate is not verified",
    }];
  }
  const steps: CheckStep[] = [{
    step: "trust",
    verdict: "ok",
    message: `the collector's certificate is verified against ${tls.caSource ?? "no CA"}`,
  }];
  if (receiver.caBundle && tls.ca) {
    parseCertificates(tls.ca).forEach((cert, i) => {
      steps.push(judgeCertificateDates(`ca_bundle certificate ${i + 1}`, certDates(cert), now));
    });
  }
  return steps;
}

/**
 * The offline steps of `check` for a loaded config, in the order printed. Pure.
 * @example
 * ```ts
 * const steps = judgeConfig(config, { now: Date.now() });
 * ```
 */
export function judgeConfig(config: Config, facts: { now: number }): CheckStep[] {
  return [
    ...judgePlaceholders(config),
    ...judgeTrust(config, facts.now),
    ...judgeClient(config, facts.now),
  ];
}
