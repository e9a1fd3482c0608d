/** Episodes, configs and temporary directories for tests. */
import { join } from "node:path";
import { DONE_MARKER } from "../src/episodes/scan.ts";
import { META_FILE } from "../src/episodes/preflight.ts";
import type { Pki } from "./pki.ts";

/** A valid 40-hex commit. */
export const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** What to put in a test episode. */
export interface EpisodeSpec {
  /** meta.json content: a commit string, an object, raw text, or null for no meta.json. */
  meta?: string | Record<string, unknown> | null;
  /** Relative path → content. */
  files?: Record<string, string | Uint8Array>;
  /** Write done.marker. @default {true} */
  complete?: boolean;
}

/** Creates `<dataRoot>/episodes/<id>/`. Returns its path. */
export async function makeEpisode(dataRoot: string, id: string, spec: EpisodeSpec = {}) {
  const dir = join(dataRoot, "episodes", id);
  await Deno.mkdir(dir, { recursive: true });
  const meta = spec.meta === undefined ? COMMIT : spec.meta;
  if (meta !== null) {
    const text = typeof meta === "object"
      ? JSON.stringify(meta)
      : /^[0-9a-f]{40}$/.test(meta)
      ? JSON.stringify({ code_version: { commit: meta, dirty: false }, seed: 7 })
      : meta;
    await Deno.writeTextFile(join(dir, META_FILE), text);
  }
  const files = spec.files ?? { "data/obs.csv": `t,x\n0,${id}\n1,2\n` };
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  if (spec.complete ?? true) await Deno.writeTextFile(join(dir, DONE_MARKER), "");
  return dir;
}

/** Settings for {@linkcode shipperConfig}. */
export interface ShipperConfigSpec {
  dataRoot: string;
  url: string;
  pki?: Pki;
  hostId?: string;
  /** Override the CA bundle (e.g. pki.otherCa). */
  caBundle?: string;
  /** Leave out the client certificate. */
  noClientCert?: boolean;
  bearerToken?: string;
  verifyTls?: boolean;
  /** Extra lines appended to [shipper]. */
  shipper?: string;
}

/** A seed-format shipper config as TOML text. */
export function shipperConfig(spec: ShipperConfigSpec): string {
  const host = spec.hostId ?? "lab-01";
  const lines = [
    `host_id = "${host}"`,
    "",
    "[paths]",
    `data_root = "${spec.dataRoot}"`,
    "",
    "[receiver]",
    `url = "${spec.url}"`,
  ];
  const ca = spec.caBundle ?? spec.pki?.ca;
  if (ca) lines.push(`ca_bundle = "${ca}"`);
  if (spec.pki && !spec.noClientCert) {
    const c = spec.pki.client(host);
    lines.push(`client_cert = "${c.cert}"`, `client_key = "${c.key}"`);
  }
  if (spec.bearerToken) lines.push(`bearer_token = "${spec.bearerToken}"`);
  if (spec.verifyTls !== undefined) lines.push(`verify_tls = ${spec.verifyTls}`);
  lines.push("", "[shipper]", "request_timeout_s = 5.0", spec.shipper ?? "", "");
  return lines.join("\n");
}

/** Writes a config file into `dir` and returns its path. */
export async function writeConfig(dir: string, text: string, name = "lab-host.toml") {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o600);
  return path;
}

/** Lists the names in a directory, sorted; [] when it does not exist. */
export async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

/** A temporary directory removed by `await using`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "cis490-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
