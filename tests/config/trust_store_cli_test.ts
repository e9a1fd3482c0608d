/**
 * No `ca_bundle`: the operating system's trust store, found the way openssl and curl find it
 * (`SSL_CERT_FILE`, `SSL_CERT_DIR`), under the binary's exact permission flags.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { runCli } from "../../devkit/cli.ts";
import { makeEpisode, names, shipperConfig, tempDir, writeConfig } from "../../devkit/fixtures.ts";
import { openssl } from "../../devkit/pki.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { EXIT } from "../../src/cli/args.ts";

/** A config for `url` with the PKI's client certificate and no `ca_bundle` line. */
async function configWithoutCaBundle(dir: string, url: string): Promise<{
  config: string;
  dataRoot: string;
}> {
  const pki = await sharedPki();
  const dataRoot = join(dir, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  const text = shipperConfig({ dataRoot, url, pki })
    .split("\n")
    .filter((line) => !line.startsWith("ca_bundle = "))
    .join("\n");
  assert(!text.includes("ca_bundle"), "no ca_bundle");
  return { config: await writeConfig(dir, text), dataRoot };
}

/** A Debian-style bundle: the system's certificates (if any) with the test CA appended. */
async function systemStyleBundle(dir: string): Promise<string> {
  const pki = await sharedPki();
  const system = await Deno.readTextFile("/etc/ssl/certs/ca-certificates.crt").catch(() => "");
  const bundle = join(dir, "ca-certificates.crt");
  await Deno.writeTextFile(bundle, system + (await Deno.readTextFile(pki.ca)));
  return bundle;
}

/** A hashed certificate directory as `openssl rehash` makes it: `<subject hash>.0`. */
async function hashedCertDir(dir: string): Promise<string> {
  const pki = await sharedPki();
  const certs = join(dir, "certs");
  await Deno.mkdir(certs);
  await Deno.copyFile(pki.ca, join(certs, "test-ca.pem"));
  await openssl(["rehash", certs], dir);
  const entries = await names(certs);
  assert(entries.some((n) => /^[0-9a-f]{8}\.0$/.test(n)), `hashed: ${entries}`);
  return certs;
}

for (
  const [name, env] of [
    ["SSL_CERT_FILE", (dir: string) => systemStyleBundle(dir)],
    ["SSL_CERT_DIR", (dir: string) => hashedCertDir(dir)],
  ] as const
) {
  Deno.test(`--once and check use the system trust store named by ${name} when ca_bundle is unset`, async () => {
    const pki = await sharedPki();
    await using tmp = await tempDir();
    await using collector = await startCollectorProcess(tmp.path, pki);
    const { config, dataRoot } = await configWithoutCaBundle(tmp.path, collector.url);
    const store = { [name]: await env(tmp.path) };

    const check = await runCli(["check", "--config", config], { env: store });
    assertEquals(check.code, EXIT.ok, check.stdout + check.stderr);
    assertMatch(check.stdout, new RegExp(`^ok .*trust.*${name}`, "m"));

    await makeEpisode(dataRoot, "ep-1");
    const once = await runCli(["--once", "--config", config], { env: store });
    assertEquals(once.code, EXIT.ok, once.stderr);
    assertEquals(await names(join(dataRoot, "shipped")), ["ep-1"]);
  });
}

Deno.test("--once and check refuse a missing or unusable trust store in one line, exit 78, never a retry", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const { config, dataRoot } = await configWithoutCaBundle(tmp.path, collector.url);
  await makeEpisode(dataRoot, "ep-1");
  const empty = join(tmp.path, "empty.crt");
  await Deno.writeTextFile(empty, "# no certificates here\n");
  const cases: [Record<string, string>, RegExp][] = [
    [
      { SSL_CERT_FILE: join(tmp.path, "nonexistent.crt") },
      /receiver\.ca_bundle: not set, and SSL_CERT_FILE names ".*nonexistent\.crt": file not found/,
    ],
    [
      { SSL_CERT_FILE: "/dev/null" },
      /receiver\.ca_bundle: not set, and SSL_CERT_FILE names "\/dev\/null": not a regular file/,
    ],
    [
      { SSL_CERT_FILE: empty },
      /receiver\.ca_bundle: not set, and SSL_CERT_FILE names ".*empty\.crt": no PEM certificate found/,
    ],
    [
      { SSL_CERT_DIR: join(tmp.path, "no-such-dir") },
      /receiver\.ca_bundle: not set, and SSL_CERT_DIR names ".*no-such-dir": directory not found/,
    ],
  ];
  for (const [env, pattern] of cases) {
    const once = await runCli(["--once", "--config", config], { env });
    assertEquals(once.code, EXIT.config, once.stderr);
    assertMatch(once.stderr, pattern);
    assertEquals(once.stderr.trim().split("\n").length, 1, once.stderr);
    const check = await runCli(["check", "--offline", "--config", config], { env });
    assertEquals(check.code, EXIT.config, check.stdout);
    assertMatch(check.stdout, pattern);
  }
  assertEquals(await names(join(dataRoot, "episodes")), ["ep-1"], "nothing touched");
  assertEquals(await names(join(dataRoot, "outbox")), [], "nothing packed");
});
