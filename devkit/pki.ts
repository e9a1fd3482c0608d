/**
 * A throwaway PKI made with openssl at test (or demo) time: a CA, a server certificate for
 * localhost/127.0.0.1/::1, one client certificate per host id, and an unrelated CA.
 */
import { join } from "node:path";

/** Paths of the PEM files made by {@linkcode makePki}. */
export interface Pki {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** A CA that signed nothing here: trusting only it must fail verification. */
  otherCa: string;
  /** Client certificate and key for a host id (CN and DNS SAN = host id). */
  client(hostId: string): { cert: string; key: string };
}

/** Runs `openssl` in `cwd`. @throws {Error} with its stderr when it fails */
export async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "30",
    "-subj",
    `/CN=${name}`,
  ], dir);
}

/** `openssl` arguments for a new P-256 key `<name>.key` and its request `<name>.csr`. */
function newKeyArgs(name: string, cn: string): string[] {
  return [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${cn}`,
  ];
}

async function makeLeaf(dir: string, name: string, cn: string, ext: string): Promise<void> {
  await Deno.writeTextFile(join(dir, `${name}.ext`), ext);
  await openssl(newKeyArgs(name, cn), dir);
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "30",
    "-extfile",
    `${name}.ext`,
  ], dir);
  await Deno.chmod(join(dir, `${name}.key`), 0o600);
}

/** Makes a PKI in `dir` with client certificates for `hostIds`. */
export async function makePki(dir: string, hostIds: string[]): Promise<Pki> {
  await Deno.mkdir(dir, { recursive: true });
  await makeCa(dir, "ca");
  await makeCa(dir, "other-ca");
  await makeLeaf(
    dir,
    "server",
    "localhost",
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n",
  );
  for (const host of hostIds) {
    await makeLeaf(
      dir,
      `client-${host}`,
      host,
      `subjectAltName=DNS:${host}\nextendedKeyUsage=clientAuth\n`,
    );
  }
  const p = (f: string) => join(dir, f);
  return {
    dir,
    ca: p("ca.pem"),
    caKey: p("ca.key"),
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    otherCa: p("other-ca.pem"),
    client: (host) => ({ cert: p(`client-${host}.pem`), key: p(`client-${host}.key`) }),
  };
}

/** Client certificates a collector must refuse, for the PKI's first host id. */
export interface RogueClients {
  /** Signed by the PKI's other CA, which the collector does not trust. */
  otherCa: { cert: string; key: string };
  /** Signed by the right CA, valid only in January 2020. */
  expired: { cert: string; key: string; notAfter: string };
}

/** Makes {@linkcode RogueClients} for `hostId` in a subdirectory of the PKI's directory. */
export async function makeRogueClients(pki: Pki, hostId: string): Promise<RogueClients> {
  const dir = `${pki.dir}/rogue-${hostId}`;
  await Deno.mkdir(`${dir}/db`, { recursive: true });
  await Deno.writeTextFile(`${dir}/db/index.txt`, "");
  await Deno.writeTextFile(`${dir}/db/serial`, "01\n");
  await Deno.writeTextFile(
    `${dir}/ca.cnf`,
    "[ca]\ndefault_ca = d\n[d]\ndatabase = db/index.txt\nnew_certs_dir = db\nserial = db/serial\n" +
      "default_md = sha256\npolicy = p\nunique_subject = no\nx509_extensions = x\n" +
      "[p]\ncommonName = supplied\n" +
      `[x]\nsubjectAltName = DNS:${hostId}\nextendedKeyUsage = clientAuth\n`,
  );
  await openssl(newKeyArgs("other", hostId), dir);
  await openssl(newKeyArgs("expired", hostId), dir);
  // openssl 3.0's x509 cannot set dates in the past; its ca command can.
  const sign = (name: string, caCert: string, caKey: string, dates: string[]) =>
    openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      caCert,
      "-keyfile",
      caKey,
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.pem`,
      "-notext",
      ...dates,
    ], dir);
  await sign("other", pki.otherCa, `${pki.dir}/other-ca.key`, ["-days", "30"]);
  await sign("expired", pki.ca, pki.caKey, [
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200201000000Z",
  ]);
  for (const name of ["other", "expired"]) await Deno.chmod(`${dir}/${name}.key`, 0o600);
  return {
    otherCa: { cert: `${dir}/other.pem`, key: `${dir}/other.key` },
    expired: {
      cert: `${dir}/expired.pem`,
      key: `${dir}/expired.key`,
      notAfter: "2020-02-01T00:00:00.000Z",
    },
  };
}
