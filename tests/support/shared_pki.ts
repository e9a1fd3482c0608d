/** One PKI per test process (openssl takes ~0.2 s), removed when the process ends. */
import { makePki, type Pki } from "../../devkit/pki.ts";

let pki: Promise<Pki> | undefined;

/** Host ids with client certificates in the shared PKI. */
export const HOSTS = ["lab-01", "lab-02"];

/** The shared test PKI. */
export function sharedPki(): Promise<Pki> {
  pki ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "cis490-pki-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone */ }
    });
    return await makePki(dir, HOSTS);
  })();
  return pki;
}
