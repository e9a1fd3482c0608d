import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { loadTrustStore, planTrustStore, TrustStoreError } from "../../src/config/trust_store.ts";
import { openssl } from "../../devkit/pki.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { sharedPki } from "../support/shared_pki.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("planTrustStore() reads SSL_CERT_FILE and splits SSL_CERT_DIR as openssl does", () => {
  assertEquals(planTrustStore(env({})), { envFile: null, envDirs: null });
  assertEquals(planTrustStore(env({ SSL_CERT_FILE: "", SSL_CERT_DIR: "" })), {
    envFile: null,
    envDirs: null,
  });
  assertEquals(planTrustStore(env({ SSL_CERT_FILE: "/a.crt", SSL_CERT_DIR: "/d1::/d2" })), {
    envFile: "/a.crt",
    envDirs: ["/d1", "/d2"],
  });
});

Deno.test("loadTrustStore() takes the first standard bundle that exists, and no directory then", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const ca = await Deno.readTextFile(pki.ca);
  const other = await Deno.readTextFile(pki.otherCa);
  const rhel = join(tmp.path, "ca-bundle.crt");
  await Deno.writeTextFile(rhel, ca + ca); // twice: kept once
  const dir = join(tmp.path, "certs");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "other.pem"), other);
  const store = await loadTrustStore(env({}), {
    files: [join(tmp.path, "debian.crt"), rhel, join(tmp.path, "suse.pem")],
    dirs: [dir],
  });
  assertEquals([store.count, store.source], [1, `"${rhel}"`]);
  assertEquals(store.pem.trim(), ca.trim());
});

Deno.test("loadTrustStore() reads the standard directories when no bundle file exists", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const dir = join(tmp.path, "certs");
  await Deno.mkdir(dir);
  await Deno.copyFile(pki.ca, join(dir, "ca.pem"));
  await Deno.copyFile(pki.otherCa, join(dir, "other.pem"));
  await Deno.writeTextFile(join(dir, "README"), "not a certificate\n");
  await openssl(["rehash", dir], tmp.path); // same-directory links: each file is read once
  const store = await loadTrustStore(env({}), {
    files: [join(tmp.path, "none.crt")],
    dirs: [join(tmp.path, "no-such-dir"), dir],
  });
  assertEquals([store.count, store.source], [2, `"${dir}"`]);
});

Deno.test("loadTrustStore() unites SSL_CERT_FILE and SSL_CERT_DIR, and needs no standard path then", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const dir = join(tmp.path, "certs");
  await Deno.mkdir(dir);
  await Deno.copyFile(pki.otherCa, join(dir, "other.pem"));
  const store = await loadTrustStore(env({ SSL_CERT_FILE: pki.ca, SSL_CERT_DIR: dir }), {
    files: [],
    dirs: [],
  });
  assertEquals(store.count, 2);
  assertEquals(store.source, `SSL_CERT_FILE "${pki.ca}" and SSL_CERT_DIR "${dir}"`);
});

Deno.test("loadTrustStore() refuses what openssl would not find, naming where it looked", async () => {
  await using tmp = await tempDir();
  const empty = join(tmp.path, "empty.crt");
  await Deno.writeTextFile(empty, "");
  const cases: [Record<string, string>, string[], RegExp][] = [
    [
      {},
      [],
      /^no system trust store with a certificate was found \(looked in .*none\.crt, .*nodir\)/,
    ],
    [{}, [empty], /^the system trust store ".*empty\.crt": no PEM certificate found$/],
    [{ SSL_CERT_FILE: tmp.path }, [], /^SSL_CERT_FILE names ".*": not a regular file$/],
    [{ SSL_CERT_FILE: "/dev/zero" }, [], /^SSL_CERT_FILE names "\/dev\/zero": not a regular file$/],
    [{ SSL_CERT_DIR: empty }, [], /^SSL_CERT_DIR names ".*empty\.crt": not a directory$/],
  ];
  for (const [vars, files, pattern] of cases) {
    const error = await assertRejects(
      () =>
        loadTrustStore(env(vars), {
          files: files.length ? files : [join(tmp.path, "none.crt")],
          dirs: [join(tmp.path, "nodir")],
        }),
      TrustStoreError,
    );
    assertMatch(error.message, pattern);
  }
});

Deno.test("loadTrustStore() finds this machine's store: the file openssl's default points at", async () => {
  const out = await new Deno.Command("openssl", { args: ["version", "-d"], stdout: "piped" })
    .output();
  const dir = new TextDecoder().decode(out.stdout).match(/OPENSSLDIR: "(.*)"/)?.[1];
  assert(dir, "openssl names its directory");
  const opensslFile = await Deno.realPath(`${dir}/cert.pem`);
  const store = await loadTrustStore(() => undefined);
  const file = store.source.match(/^"(.*)"$/)?.[1];
  assert(file, store.source);
  assertEquals(await Deno.realPath(file), opensslFile);
  assert(store.count > 0);
});
