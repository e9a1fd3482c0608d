import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { findPrivateKey } from "../../src/config/tls_files.ts";
import { put } from "../../src/upload/put.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { nginxPath, startNginx } from "../../devkit/nginx.ts";

/** The test CA as the system trust store: the tests do not depend on the machine's own. */
async function testEnv(): Promise<(name: string) => string | undefined> {
  const ca = (await sharedPki()).ca;
  return (name) => name === "SSL_CERT_FILE" ? ca : undefined;
}

async function writeConfig(dir: string, receiverLines: string): Promise<string> {
  const file = join(dir, "lab-host.toml");
  await Deno.writeTextFile(
    file,
    `host_id = "lab-01"\n[receiver]\nurl = "https://collector.wg"\n${receiverLines}\n`,
  );
  await Deno.chmod(file, 0o600);
  return file;
}

/** `cat first second > out`, mode 0600. */
async function cat(out: string, ...files: string[]): Promise<string> {
  const texts = await Promise.all(files.map((f) => Deno.readTextFile(f)));
  await Deno.writeTextFile(out, texts.join(""), { mode: 0o600 });
  await Deno.chmod(out, 0o600);
  return out;
}

/** The certificate's notAfter as openssl prints it, in ms: an independent reading of the date. */
async function opensslNotAfter(cert: string): Promise<number> {
  const out = await new Deno.Command("openssl", {
    args: ["x509", "-in", cert, "-noout", "-enddate"],
    stdout: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim();
  return Date.parse(line.replace(/^notAfter=/, ""));
}

Deno.test("loadConfig() accepts a client_cert PEM holding the key, in either order, with no client_key", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const lab = pki.client("lab-01");
  const keyPem = await Deno.readTextFile(lab.key);
  for (const order of [[lab.cert, lab.key], [lab.key, lab.cert]]) {
    const combined = await cat(join(dir.path, "combined.pem"), ...order);
    const file = await writeConfig(dir.path, `client_cert = "${combined}"`);
    const { config, warnings } = await loadConfig(file, { env: await testEnv() });
    assertEquals(warnings, []);
    assertEquals(config.receiver.clientKey, undefined);
    assertEquals(config.tls.key?.trim(), keyPem.trim());
    assert(!config.tls.cert?.includes("PRIVATE KEY"), "the certificate is handed on alone");
    assertMatch(
      config.tls.cert ?? "",
      /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\n$/,
    );
  }
});

Deno.test("loadConfig() refuses a combined client_cert whose key is not its certificate's", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const combined = await cat(
    join(dir.path, "mixed.pem"),
    pki.client("lab-01").cert,
    pki.client("lab-02").key,
  );
  const file = await writeConfig(dir.path, `client_cert = "${combined}"`);
  const env = await testEnv();
  const error = await assertRejects(() => loadConfig(file, { env }), ConfigError);
  assertEquals(
    error.message,
    `${file}: receiver.client_cert: "${combined}": the private key does not match the certificate`,
  );
});

Deno.test("loadConfig() warns when a combined client_cert holding the key is readable by others", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const lab = pki.client("lab-01");
  const combined = await cat(join(dir.path, "combined.pem"), lab.cert, lab.key);
  await Deno.chmod(combined, 0o644);
  const file = await writeConfig(dir.path, `client_cert = "${combined}"`);
  const { warnings } = await loadConfig(file, { env: await testEnv() });
  assertEquals(warnings, [
    `${file}: receiver.client_cert: "${combined}" is readable by other users; chmod 600 it`,
  ]);
});

Deno.test("loadConfig() fills the client certificate's notAfter and subject", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const lab = pki.client("lab-01");
  const file = await writeConfig(
    dir.path,
    `client_cert = "${lab.cert}"\nclient_key = "${lab.key}"`,
  );
  const { config } = await loadConfig(file, { env: await testEnv() });
  const expected = await opensslNotAfter(lab.cert);
  assert(Number.isFinite(expected), "openssl printed a date");
  assertEquals(config.tls.clientCertNotAfter, expected);
  assertEquals(config.tls.clientCertSubject, "CN=lab-01");

  const expired = await loadConfig(file, { env: await testEnv(), now: () => expected + 1 });
  assertEquals(expired.warnings.length, 1);
  assertMatch(
    expired.warnings[0] ?? "",
    /receiver\.client_cert: certificate "CN=lab-01" expired on /,
  );
});

Deno.test("loadConfig() leaves clientCertNotAfter unset without a client certificate", async () => {
  await using dir = await tempDir();
  const pki = await sharedPki();
  const file = await writeConfig(dir.path, `ca_bundle = "${pki.ca}"`);
  const { config } = await loadConfig(file, { env: await testEnv() });
  assertEquals(config.tls, { ca: await Deno.readTextFile(pki.ca), caSource: `"${pki.ca}"` });
});

Deno.test("findPrivateKey() finds PKCS#8, EC and RSA key blocks and nothing in a certificate", () => {
  for (const label of ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]) {
    const block = `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----`;
    assertEquals(findPrivateKey(`junk\n${block}\nmore`), block);
  }
  assertEquals(
    findPrivateKey("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
    null,
  );
});

Deno.test("put() authenticates to nginx (ssl_verify_client on) with a combined client_cert", async () => {
  assert(await nginxPath(), "nginx is not installed");
  await using dir = await tempDir();
  const pki = await sharedPki();
  const lab = pki.client("lab-01");
  const combined = await cat(join(dir.path, "combined.pem"), lab.cert, lab.key);
  const file = await writeConfig(dir.path, `ca_bundle = "${pki.ca}"\nclient_cert = "${combined}"`);
  const { config } = await loadConfig(file, { env: await testEnv() });
  await using nginx = await startNginx(join(dir.path, "nginx"), pki);
  const body = join(dir.path, "body.tar");
  await Deno.writeTextFile(body, "hello");
  const response = await put({
    url: `${nginx.url}/v1/episodes/lab-01/ep-1.tar`,
    headers: {},
    bodyPath: body,
    size: 5,
    timeoutMs: 60_000,
    tls: config.tls,
    verifyTls: true,
  });
  assertEquals(response.status, 201, response.body);
  // nginx answers 400 "No required SSL certificate was sent" without one: 201 means it verified ours.
  const stored = join(nginx.root, "v1", "episodes", "lab-01", "ep-1.tar");
  assertEquals(await Deno.readTextFile(stored), "hello");
});
