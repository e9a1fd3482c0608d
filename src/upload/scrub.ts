/** Removal of configured secrets from text a collector sent back. Pure. */

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/** Shortest tail of a cut-off secret that is still redacted (shorter ones are ordinary text). */
const MIN_TAIL = 4;

/**
 * Replaces every occurrence of each secret in `text` with {@linkcode REDACTED}, including a
 * secret cut off at the end of `text` (bodies are kept truncated to their first bytes).
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    out = out.replaceAll(secret, REDACTED);
    for (let n = Math.min(secret.length - 1, out.length); n >= MIN_TAIL; n--) {
      if (out.endsWith(secret.slice(0, n))) {
        out = out.slice(0, out.length - n) + REDACTED;
        break;
      }
    }
  }
  return out;
}
