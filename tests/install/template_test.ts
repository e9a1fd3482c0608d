import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../support/assert.ts";
import { CONFIG_KEYS, DEFAULTS, loadConfig } from "../../src/config/config.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { HOSTS, sharedPki } from "../support/shared_pki.ts";

const TEMPLATE = fileURLToPath(new URL("../../packaging/lab-host.toml", import.meta.url));

interface TemplateKey {
  name: string;
  /** Commented out (`# key = value`): shown at its default. */
  commented: boolean;
  /** The comment lines right above it. */
  comments: string[];
}

/** The keys of the template, active or commented out, with the comment block above each. */
function templateKeys(text: string): TemplateKey[] {
  const keys: TemplateKey[] = [];
  let section = "";
  let comments: string[] = [];
  for (const line of text.split("\n")) {
    const header = line.match(/^\[([a-z_]+)\]$/);
    const key = line.match(/^(# )?([a-z_]+) = /);
    if (header) {
      section = `${header[1]}.`;
      comments = [];
    } else if (key) {
      keys.push({ name: section + key[2], commented: key[1] !== undefined, comments });
      comments = [];
    } else if (line.startsWith("#")) {
      comments.push(line.replace(/^# ?/, ""));
    } else {
      comments = [];
    }
  }
  return keys;
}

/** The template with its PKI paths, data root and metrics directory pointed at test files. */
async function testTemplate(dir: string): Promise<string> {
  const pki = await sharedPki();
  const client = pki.client(HOSTS[0]!);
  return (await Deno.readTextFile(TEMPLATE))
    .replace('"change-me"', `"${HOSTS[0]}"`)
    .replace('"/var/lib/cis490/data"', `"${dir}"`)
    .replace('"/etc/cis490/ca.pem"', `"${pki.ca}"`)
    .replace('"/etc/cis490/client.pem"', `"${client.cert}"`)
    .replace('"/etc/cis490/client.key"', `"${client.key}"`)
    // The metrics directory must exist, or loading warns (rightly) that no metrics get written.
    .replace('"/var/lib/prometheus/node-exporter/', `"${dir}/`);
}

Deno.test("lab-host.toml names every key of CONFIG_KEYS once, and no other", async () => {
  const names = templateKeys(await Deno.readTextFile(TEMPLATE)).map((k) => k.name);
  assertEquals([...names].sort(), CONFIG_KEYS.map((k) => k.name).sort());
});

Deno.test("lab-host.toml documents every key with its doc line from CONFIG_KEYS", async () => {
  const keys = templateKeys(await Deno.readTextFile(TEMPLATE));
  for (const declared of CONFIG_KEYS) {
    const key = keys.find((k) => k.name === declared.name);
    assert(key !== undefined, `${declared.name} missing`);
    assert(key.comments.includes(declared.doc), `${declared.name}: doc line missing above it`);
  }
});

Deno.test("lab-host.toml loads without warnings once its paths point at real files", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "lab-host.toml");
  await Deno.writeTextFile(file, await testTemplate(dir.path), { mode: 0o640 });
  const { config, warnings } = await loadConfig(file, { env: () => undefined });
  assertEquals(warnings, []);
  assertEquals(config.hostId, HOSTS[0]);
  assertEquals(config.dataRoot, dir.path);
});

Deno.test("lab-host.toml commented-out values load without warnings and equal the defaults", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "bearer-token"), "t0k3n\n", { mode: 0o600 });
  const uncommented = (await testTemplate(dir.path))
    .split("\n")
    .filter((line) => !line.startsWith("# bearer_token = ")) // exclusive with bearer_token_file
    // The object-store keys select another receiver: the test below uncomments those.
    .filter((line) => !OBJECT_STORE_LINE.test(line))
    .map((line) => line.replace(/^# ([a-z_]+ = )/, "$1"))
    .join("\n");
  const file = join(dir.path, "lab-host.toml");
  await Deno.writeTextFile(file, uncommented, { mode: 0o640 });
  const env = (name: string) => name === "CREDENTIALS_DIRECTORY" ? dir.path : undefined;
  const { config, warnings } = await loadConfig(file, { env });
  assertEquals(warnings, []);
  assertEquals(config.receiver.bearerToken, "t0k3n");
  assertEquals(config.receiver.verifyTls, DEFAULTS.verifyTls);
  assertEquals(config.scanIntervalS, DEFAULTS.scanIntervalS);
  assertEquals(config.requestTimeoutS, DEFAULTS.requestTimeoutS);
  assertEquals(config.backoffSeconds, [...DEFAULTS.backoffSeconds]);
  assertEquals(config.maxEpisodeBytes, DEFAULTS.maxEpisodeBytes);
  assertEquals(config.compression, DEFAULTS.compression);
  assertEquals(config.uploadConcurrency, DEFAULTS.uploadConcurrency);
  assertEquals(config.maxBytesPerSecond, DEFAULTS.maxBytesPerSecond);
  assertEquals(config.stopGraceS, DEFAULTS.stopGraceS);
  assertEquals(config.keepLocalForDays, DEFAULTS.keepLocalForDays);
});

/** The template's lines of the object-store keys (docs/object-store.md), commented out. */
const OBJECT_STORE_LINE =
  /^# (bucket|key_prefix|region|path_style|access_key_id_file|secret_access_key_file|multipart_part_bytes|multipart_threshold_bytes) = /;

Deno.test("lab-host.toml object-store lines uncommented load an S3 receiver at the defaults", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "s3-access-key-id"), "AKID0001\n");
  await Deno.writeTextFile(join(dir.path, "s3-secret-access-key"), "s3cr3t\n", { mode: 0o600 });
  await Deno.chmod(join(dir.path, "s3-secret-access-key"), 0o600);
  const uncommented = (await testTemplate(dir.path))
    .split("\n")
    .map((line) => OBJECT_STORE_LINE.test(line) ? line.slice(2) : line)
    .join("\n");
  const file = join(dir.path, "lab-host.toml");
  await Deno.writeTextFile(file, uncommented, { mode: 0o640 });
  const env = (name: string) => name === "CREDENTIALS_DIRECTORY" ? dir.path : undefined;
  const { config, warnings } = await loadConfig(file, { env });
  assertEquals(warnings, []);
  assertEquals(config.receiver.s3?.bucket, "episodes");
  assertEquals(config.receiver.s3?.credentials.accessKeyId, "AKID0001");
  assertEquals(config.receiver.s3?.partBytes, 16 * 1024 * 1024);
  assertEquals(config.receiver.s3?.multipartThresholdBytes, 64 * 1024 * 1024);
});
