/** curl, a client nobody here wrote, PUTting a file with a client certificate. */
import type { Pki } from "./pki.ts";

/** What curl got back. */
export interface CurlResult {
  /** curl's exit code (non-zero when no HTTP answer, e.g. a refused handshake). */
  code: number;
  /** HTTP status, 0 when none. */
  status: number;
  body: string;
}

/** PUTs `bodyPath` to `url` with curl; `client` null sends no client certificate. */
export async function curlPut(
  url: string,
  options: {
    pki: Pki;
    client?: { cert: string; key: string } | null;
    bodyPath: string;
    headers?: Record<string, string>;
  },
): Promise<CurlResult> {
  const client = options.client === undefined ? options.pki.client("lab-01") : options.client;
  const args = [
    "-sS",
    "-o",
    "-",
    "-w",
    "\n%{http_code}",
    "--cacert",
    options.pki.ca,
    ...(client ? ["--cert", client.cert, "--key", client.key] : []),
    "-X",
    "PUT",
    "--data-binary",
    `@${options.bodyPath}`,
    ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    url,
  ];
  const out = await new Deno.Command("curl", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const nl = text.lastIndexOf("\n");
  return { code: out.code, status: Number(text.slice(nl + 1)), body: text.slice(0, nl) };
}
