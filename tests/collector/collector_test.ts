/**
 * The reference collector as a real process, with the real shipper (`main.ts --once`) and with
 * curl, a client nobody here wrote. Real mTLS with a PKI made at test time.
 */
import { waitFor } from "../support/wait.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { COMMIT, makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { runCli } from "../../devkit/cli.ts";
import { curlPut } from "../../devkit/curl.ts";
import { makeRogueClients } from "../../devkit/pki.ts";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";
import { EXIT } from "../../src/cli/args.ts";

const sha256 = async (path: string, encoding: "hex" | "base64" = "base64") =>
  createHash("sha256").update(await Deno.readFile(path)).digest(encoding);

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

Deno.test("shipper → collector: each episode ends where README says, stored once and byte-identical", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(tmp.path, pki);
  await using lab = await makeLab({
    url: collector.url,
    pki,
    shipper: "max_episode_bytes = 50000",
  });
  const payload = crypto.getRandomValues(new Uint8Array(20_000));
  await makeEpisode(lab.dataRoot, "ep-1", { files: { "obs/a.bin": payload, "notes.txt": "one" } });
  await makeEpisode(lab.dataRoot, "ep-2");
  await makeEpisode(lab.dataRoot, "ep-unstamped", { meta: { code_version: {} } });
  await makeEpisode(lab.dataRoot, "ep-nometa", { meta: null });
  await makeEpisode(lab.dataRoot, "ep-incomplete", { complete: false });
  await makeEpisode(lab.dataRoot, "bad id!", {});
  await makeEpisode(lab.dataRoot, "ep-big", { files: { "big.bin": new Uint8Array(60_000) } });

  const first = await lab.once();
  assertEquals(first.code, EXIT.ok, first.stderr);
  assertEquals(await names(lab.layout.shipped), ["ep-1", "ep-2"]);
  assertEquals(await names(lab.layout.quarantine), [
    "bad id!",
    "ep-big",
    "ep-nometa",
    "ep-unstamped",
  ]);
  assertEquals(await names(lab.layout.episodes), ["ep-incomplete"]);
  assertEquals(await names(lab.layout.outbox), []);
  for (const id of await names(lab.layout.quarantine)) {
    const reason = JSON.parse(
      await Deno.readTextFile(join(lab.layout.quarantine, id, "quarantine_reason.json")),
    );
    assertEquals(reason.source, "preflight", id);
    assertEquals(reason.http_status, null);
  }

  const stored = join(collector.storeDir, "lab-01", "ep-1.tar.gz");
  const sidecar = JSON.parse(await Deno.readTextFile(`${stored}.json`));
  assertEquals(sidecar.sha256, await sha256(stored));
  assertEquals(sidecar.commit, COMMIT);
  assertEquals(sidecar.client_certificate_subject, "CN=lab-01");
  assertEquals(sidecar.size, (await Deno.stat(stored)).size);
  // Packing is deterministic, so re-packing what was shipped gives the bytes the collector holds.
  const shippedDir = join(lab.layout.shipped, "ep-1");
  const repacked = await packEpisode(
    shippedDir,
    "ep-1",
    walkEpisode(shippedDir),
    join(tmp.path, "re.tar.gz"),
  );
  assertEquals(Buffer.from(repacked.sha256).toString("base64"), sidecar.sha256);
  const out = join(tmp.path, "extract");
  await Deno.mkdir(out);
  const tar = await new Deno.Command("tar", { args: ["-xzf", stored, "-C", out] }).output();
  assert(tar.success);
  assertEquals(await Deno.readFile(join(out, "ep-1", "obs", "a.bin")), payload);

  const storedAt = (await Deno.stat(stored)).mtime;
  const second = await lab.once();
  assertEquals(second.code, EXIT.ok);
  assertMatch(second.stdout, /^shipped: 0$/m);
  assertEquals((await Deno.stat(stored)).mtime, storedAt);

  // The same id produced again with other bytes: the 409's Repr-Digest is not ours, so it is not
  // "already there" — it is quarantined naming both digests, never shipped and pruned unsent.
  await makeEpisode(lab.dataRoot, "ep-1", { files: { "notes.txt": "re-created" } });
  const third = await lab.once();
  assertEquals(third.code, EXIT.ok, third.stderr);
  assertMatch(third.stdout, /^quarantined: 1 \(ep-1 \[collector\]\)$/m);
  assertMatch(third.stdout, /^duplicate .*: 0$/m);
  assertEquals(await names(lab.layout.shipped), ["ep-1", "ep-2"]);
  const reason = JSON.parse(
    await Deno.readTextFile(join(lab.layout.quarantine, "ep-1", "quarantine_reason.json")),
  );
  assertEquals(reason.http_status, 409);
  assert(reason.reason.includes(`sha-256=:${sidecar.sha256}:`), reason.reason);
  assertMatch(reason.reason, /rename the episode directory/i);
  assertEquals(await sha256(stored), sidecar.sha256, "the stored episode is not overwritten");

  const { code, stderr } = await collector.stop();
  assertEquals(code, 0);
  assertEquals(count(stderr, "PUT /v1/episodes/lab-01/ep-1.tar.gz 201"), 1);
  assertEquals(count(stderr, "PUT /v1/episodes/lab-01/ep-1.tar.gz 409"), 1);
  assertEquals(count(stderr, "PUT /v1/episodes/lab-01/ep-2.tar.gz 201"), 1);
  assertEquals(count(stderr, "PUT "), 3, "nothing else was sent");
});

Deno.test("shipper → collector: a missing token pauses uploads; a commit off the allow-list is quarantined (412)", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(
    tmp.path,
    pki,
    `[auth]\nbearer_token = "tok-1"\n[gate]\nallowed_commits = ["${"f".repeat(40)}"]`,
  );
  {
    await using lab = await makeLab({ url: collector.url, pki });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.config, run.stderr);
    assertEquals(await names(lab.layout.quarantine), []);
    assertEquals(await names(lab.layout.episodes), ["ep-1"]);
  }
  {
    await using lab = await makeLab({ url: collector.url, pki, bearerToken: "tok-1" });
    await makeEpisode(lab.dataRoot, "ep-1");
    await makeEpisode(lab.dataRoot, "ep-ok", { meta: "f".repeat(40) });
    const run = await lab.once();
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertEquals(await names(lab.layout.quarantine), ["ep-1"]);
    assertEquals(await names(lab.layout.shipped), ["ep-ok"]);
    const reason = JSON.parse(
      await Deno.readTextFile(join(lab.layout.quarantine, "ep-1", "quarantine_reason.json")),
    );
    assertEquals(reason.http_status, 412);
    assertMatch(reason.response_body, /is not on this collector's allow-list/);
  }
  const { stderr } = await collector.stop();
  assert(!stderr.includes("tok-1"), "the collector never logs the token");
});

Deno.test("curl → collector: mTLS upload stored; bad digest, no commit, wrong host, chunked and no cert refused", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const body = join(tmp.path, "body.tar.gz");
  await Deno.writeFile(body, new Uint8Array(200_000).map((_, i) => (i * 7919) % 256));
  const digest = await sha256(body);
  const put = (
    id: string,
    headers: Record<string, string>,
    client?: { cert: string; key: string } | null,
  ) =>
    curlPut(`${collector.url}/v1/episodes/lab-01/${id}.tar.gz`, {
      pki,
      bodyPath: body,
      ...(client !== undefined && { client }),
      headers: {
        "Content-Type": "application/gzip",
        "X-CIS490-Host-Id": "lab-01",
        "X-CIS490-Episode-Id": id,
        ...headers,
      },
    });
  const stamped = { "X-CIS490-Code-Commit": COMMIT, "Content-Digest": `sha-256=:${digest}:` };

  const ok = await put("c-1", stamped);
  assertEquals(ok.status, 201, ok.body);
  const stored = join(collector.storeDir, "lab-01", "c-1.tar.gz");
  assertEquals(await sha256(stored), digest);
  assertEquals(
    JSON.parse(await Deno.readTextFile(`${stored}.json`)).client_certificate_subject,
    "CN=lab-01",
  );
  assertEquals((await put("c-1", stamped)).status, 409);

  const wrong = await put("c-2", { ...stamped, "Content-Digest": `sha-256=:${"A".repeat(43)}=:` });
  assertEquals(wrong.status, 500);
  assertMatch(wrong.body, /does not match Content-Digest/);

  const unstamped = await put("c-3", { "Content-Digest": `sha-256=:${digest}:` });
  assertEquals(unstamped.status, 400);
  assertMatch(
    unstamped.body,
    /X-CIS490-Code-Commit is missing or not 40 hex digits\. .*Quarantine this one\./,
  );

  const other = await put("c-4", stamped, pki.client("lab-02"));
  assertEquals(other.status, 403);
  assertMatch(other.body, /may not upload as host "lab-01"/);

  const chunked = await put("c-5", { ...stamped, "Transfer-Encoding": "chunked" });
  assertEquals(chunked.status, 411);

  const health = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--cacert",
      pki.ca,
      "--cert",
      pki.client("lab-01").cert,
      "--key",
      pki.client("lab-01").key,
      `${collector.url}/v1/health`,
    ],
    stdout: "piped",
  }).output();
  assertEquals(new TextDecoder().decode(health.stdout), "ok CN=lab-01\n");

  const noCert = await put("c-6", stamped, null);
  assertEquals(noCert.status, 496, "a missing certificate is answered, not reset");
  assertMatch(noCert.body, /client certificate is required and none was sent/);

  assertEquals(await names(join(collector.storeDir, "lab-01")), ["c-1.tar.gz", "c-1.tar.gz.json"]);
  assertEquals(await names(join(collector.storeDir, ".incoming")), [], "nothing half-stored");
});

Deno.test("collector exits 78 with one line on a bad config", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "c.toml");
  await Deno.writeTextFile(path, `listen = "nowhere"\nstore_dir = "/tmp/s"\n`);
  const run = await runCli(["collector", "--config", path]);
  assertEquals(run.code, EXIT.config);
  assertEquals(run.stderr.trim().split("\n").length, 1);
  assertMatch(run.stderr, /c\.toml: listen: "nowhere" must be host:port/);
});

Deno.test("collector on a port already in use says so in one line and exits 78", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  using holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (holder.addr as Deno.NetAddr).port;
  const path = join(tmp.path, "c.toml");
  await Deno.writeTextFile(
    path,
    `listen = "127.0.0.1:${port}"\nstore_dir = "${
      join(tmp.path, "store")
    }"\n[tls]\ncert = "${pki.serverCert}"\nkey = "${pki.serverKey}"\nclient_ca = "${pki.ca}"\n`,
  );
  const run = await runCli(["collector", "--config", path]);
  assertEquals(run.code, EXIT.config, run.stderr);
  assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
  assertMatch(
    run.stderr,
    new RegExp(`c\\.toml: listen: address in use: 127\\.0\\.0\\.1:${port}$`, "m"),
  );
});

import { Buffer } from "node:buffer";

Deno.test("collector killed with SIGKILL mid-upload stores nothing partial; the retry stores it once", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const first = await startCollectorProcess(tmp.path, pki, "", port);
  await using lab = await makeLab({ url: first.url, pki, shipper: "backoff_seconds = [0.1]" });
  const noise = new Uint8Array(48 * 1024 * 1024);
  for (let i = 0; i < noise.length; i += 65536) {
    crypto.getRandomValues(noise.subarray(i, i + 65536));
  }
  await makeEpisode(lab.dataRoot, "ep-big", { files: { "noise.bin": noise } });

  const incoming = join(first.storeDir, ".incoming");
  const shipping = lab.once();
  // Kill the collector once a body is arriving.
  await waitFor("a body arriving", async () => (await names(incoming)).length > 0);
  assertEquals((await names(incoming)).length, 1, "an upload was in progress");
  await first.stop("SIGKILL");
  const run = await shipping;
  assertEquals(run.code, EXIT.tempFail, run.stderr);
  assertEquals(await names(join(first.storeDir, "lab-01")), [], "nothing partial stored");
  await makeEpisode(lab.dataRoot, "ep-small");

  await using second = await startCollectorProcess(tmp.path, pki, "", port);
  assertEquals(await names(incoming), [], "the partial body was removed at start");
  await new Promise((r) => setTimeout(r, 150));
  const retry = await lab.once();
  assertEquals(retry.code, EXIT.ok, retry.stderr);
  assertEquals(await names(lab.layout.shipped), ["ep-big", "ep-small"]);
  const stored = join(second.storeDir, "lab-01", "ep-big.tar.gz");
  const sidecar = JSON.parse(await Deno.readTextFile(`${stored}.json`));
  assertEquals(await sha256(stored), sidecar.sha256);
  const { stderr } = await second.stop();
  assertEquals(count(stderr, "PUT /v1/episodes/lab-01/ep-big.tar.gz 201"), 1);
});

Deno.test("curl → collector: one episode stored once whatever its extension; .tar.zst accepted", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const body = join(tmp.path, "body");
  await Deno.writeFile(body, new Uint8Array(5000).fill(3));
  const digest = await sha256(body);
  const put = (id: string, ext: string, type: string) =>
    curlPut(`${collector.url}/v1/episodes/lab-01/${id}${ext}`, {
      pki,
      bodyPath: body,
      headers: {
        "Content-Type": type,
        "X-CIS490-Host-Id": "lab-01",
        "X-CIS490-Episode-Id": id,
        "X-CIS490-Code-Commit": COMMIT,
        "Content-Digest": `sha-256=:${digest}:`,
      },
    });
  assertEquals((await put("e-1", ".tar.gz", "application/gzip")).status, 201);
  assertEquals((await put("e-1", ".tar", "application/x-tar")).status, 409);
  assertEquals((await put("e-1", ".tar.zst", "application/zstd")).status, 409);
  const zst = await put("e-2", ".tar.zst", "application/zstd");
  assertEquals(zst.status, 201, zst.body);
  assertEquals((await put("e-2", ".tar.gz", "application/gzip")).status, 409);
  assertEquals(
    JSON.parse(
      await Deno.readTextFile(
        join(collector.storeDir, "lab-01", "e-2.tar.zst.json"),
      ),
    ).content_type,
    "application/zstd",
  );
  assertEquals(await names(join(collector.storeDir, "lab-01")), [
    "e-1.tar.gz",
    "e-1.tar.gz.json",
    "e-2.tar.zst",
    "e-2.tar.zst.json",
  ]);
});

Deno.test("collector answers an oversized Content-Length with 413 before reading the body", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(
    tmp.path,
    pki,
    "[gate]\nmax_body_bytes = 1000",
  );
  const url = new URL(collector.url);
  const client = pki.client("lab-01");
  const conn = await Deno.connectTls({
    hostname: url.hostname,
    port: Number(url.port),
    caCerts: [await Deno.readTextFile(pki.ca)],
    cert: await Deno.readTextFile(client.cert),
    key: await Deno.readTextFile(client.key),
  });
  // Headers only: a collector that read the body first would never answer.
  await conn.write(new TextEncoder().encode(
    "PUT /v1/episodes/lab-01/big.tar.gz HTTP/1.1\r\nHost: x\r\n" +
      "Content-Type: application/gzip\r\nX-CIS490-Host-Id: lab-01\r\n" +
      `X-CIS490-Episode-Id: big\r\nX-CIS490-Code-Commit: ${COMMIT}\r\n` +
      `Content-Digest: sha-256=:${"A".repeat(43)}=:\r\nContent-Length: 50000000000\r\n\r\n`,
  ));
  let answer = "";
  const buffer = new Uint8Array(4096);
  while (!answer.includes("limit")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    answer += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  assertMatch(answer, /^HTTP\/1\.1 413 /);
  assertMatch(answer, /body of 50000000000 bytes exceeds the limit of 1000/);
});

Deno.test("curl and shipper → collector: an untrusted or expired certificate is answered 495, not reset", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const rogue = await makeRogueClients(pki, "lab-01");
  await using collector = await startCollectorProcess(tmp.path, pki);
  const body = join(tmp.path, "body");
  await Deno.writeFile(body, new Uint8Array(10));
  for (
    const [client, pattern] of [
      [rogue.otherCa, /"CN=lab-01" not accepted: it is not issued by a CA this collector trusts/],
      [rogue.expired, /"CN=lab-01" not accepted: it expired on 2020-02-01T00:00:00\.000Z/],
    ] as const
  ) {
    const answer = await curlPut(`${collector.url}/v1/episodes/lab-01/x.tar.gz`, {
      pki,
      client,
      bodyPath: body,
    });
    assertEquals(answer.status, 495, answer.body);
    assertMatch(answer.body, pattern);
  }
  for (const client of [rogue.otherCa, rogue.expired, null]) {
    await using lab = await makeLab({
      url: collector.url,
      pki: client ? { ...pki, client: () => client } : pki,
      noClientCert: client === null,
    });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.config, run.stderr);
    assertEquals(await names(lab.layout.quarantine), []);
    assertEquals(await names(lab.layout.episodes), ["ep-1"]);
    assertMatch(run.stderr, /ERROR collector refused our credentials: uploads paused/);
    assertMatch(
      run.stderr,
      client ? /not accepted: it (is not issued|expired on)/ : /none was sent/,
    );
  }
  assertEquals(await names(join(collector.storeDir, "lab-01")), []);
});
