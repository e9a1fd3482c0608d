/**
 * The names a client certificate gives a host, as the reference collector binds them to
 * `host_id`: the subject's CN and every DNS subject alternative name. `check` uses it to say
 * before the first upload what the collector would answer with a 403.
 */

/**
 * The CN and DNS SANs of a certificate, from its subject (`CN=lab-01` lines, as
 * `X509Certificate.subject` gives it) and its `subjectAltName` (`DNS:lab-01, IP Address:…`).
 * @example
 * ```ts
 * certificateNames("CN=lab-01", "DNS:lab-01, DNS:lab-01.wg"); // ["lab-01", "lab-01.wg"]
 * ```
 */
export function certificateNames(subject: string, subjectAltName: string | undefined): string[] {
  const names: string[] = [];
  for (const line of subject.split(/\n|,\s*(?=[A-Za-z.]+=)/)) {
    const m = /^\s*CN=(.*)$/.exec(line);
    if (m?.[1] !== undefined) names.push(m[1].trim());
  }
  for (const part of (subjectAltName ?? "").split(",")) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m?.[1]) names.push(m[1].trim());
  }
  return [...new Set(names)];
}
