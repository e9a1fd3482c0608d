import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import {
  BODY_CHUNK_BYTES,
  BodyReadError,
  put,
  type PutRequest,
  UploadError,
} from "../../src/upload/put.ts";
import { giveBuffers, takeBuffer, takenBuffers } from "../../src/fs/buffers.ts";
import { createReceiverAgent } from "../../src/upload/agent.ts";
import { Throttle } from "../../src/upload/throttle.ts";
import { echoHeaders, startFaultServer } from "../support/fault_server.ts";
import { makeRogueClients } from "../../devkit/pki.ts";
import { decide } from "../../src/queue/decide.ts";
import { responseAnswer } from "../../src/upload/classify.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import type { TlsMaterial } from "../../src/config/config.ts";

async function clientTls(caPath?: string): Promise<TlsMaterial> {
  const pki = await sharedPki();
  const client = pki.client("lab-01");
  return {
    ca: await Deno.readTextFile(caPath ?? pki.ca),
    cert: await Deno.readTextFile(client.cert),
    key: await Deno.readTextFile(client.key),
  };
}

async function bodyFile(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

/** This process's open fds, counted by `ls` (reading /proc/self needs --allow-all). */
async function openFds(): Promise<number> {
  const out = await new Deno.Command("ls", { args: [`/proc/${Deno.pid}/fd`], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").length;
}

Deno.test("put() skips verification only for the request that asks, never process-wide", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201, body: "stored" }));
  await using tmp = await tempDir();
  const body = await bodyFile(tmp.path, "b", new TextEncoder().encode("hello"));
  const request = {
    url: `${server.url}/x`,
    headers: {},
    bodyPath: body,
    size: 5,
    timeoutMs: 5000,
    tls: await clientTls(pki.otherCa),
  };
  try {
    const skipped = await put({ ...request, verifyTls: false });
    assertEquals([skipped.status, skipped.body], [201, "stored"]);
    const error = await assertRejects(() => put({ ...request, verifyTls: true }), UploadError);
    assertEquals(error.kind, "tls");
    assertEquals(server.requests.length, 1);
    assertEquals(server.requests[0]?.headers["content-length"], "5");
  } finally {
    await server.close();
  }
});

Deno.test("put() with an already-aborted signal rejects at once and never connects", async () => {
  const server = await startFaultServer(await sharedPki());
  await using tmp = await tempDir();
  const body = await bodyFile(tmp.path, "b", new Uint8Array(10));
  try {
    const error = await assertRejects(() =>
      put({
        url: `${server.url}/x`,
        headers: {},
        bodyPath: body,
        size: 10,
        timeoutMs: 600_000,
        tls: {},
        verifyTls: true,
        signal: AbortSignal.abort(),
      }), UploadError);
    assertEquals(error.kind, "aborted");
    assertEquals([server.requests.length, server.connections], [0, 0]);
  } finally {
    await server.close();
  }
});

Deno.test("put() stops an upload whose body is stalled once the signal aborts", async () => {
  const server = await startFaultServer(await sharedPki(), () => ({ stall: true }));
  await using tmp = await tempDir();
  const size = 64 * 1024 * 1024;
  const path = join(tmp.path, "big");
  await using file = await Deno.open(path, { write: true, create: true });
  await file.truncate(size);
  const controller = new AbortController();
  try {
    const upload = put({
      url: `${server.url}/x`,
      headers: {},
      bodyPath: path,
      size,
      timeoutMs: 600_000,
      tls: await clientTls(),
      verifyTls: true,
      signal: controller.signal,
    });
    // The server has the request line and is not reading: the body is backed up mid-way.
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const error = await assertRejects(() => upload, UploadError);
    assertEquals(error.kind, "aborted");
    assertEquals(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("put() sends small bodies back to back over one kept-alive connection", async () => {
  // Deno 2.9.6: createReadStream(...).pipe(req) hangs on the second request over a reused
  // socket when the file fits in one read; put() writes the body itself, so this completes.
  const server = await startFaultServer(await sharedPki(), () => ({ status: 201 }));
  await using tmp = await tempDir();
  const agent = createReceiverAgent({ tls: await clientTls(), verifyTls: true, maxSockets: 1 });
  try {
    for (const size of [1, 5000, 0, 60_000, 5000]) {
      const bytes = crypto.getRandomValues(new Uint8Array(size));
      const path = await bodyFile(tmp.path, `b${size}`, bytes);
      const response = await put({
        url: `${server.url}/x`,
        headers: {},
        bodyPath: path,
        size,
        timeoutMs: 600_000,
        tls: {},
        verifyTls: true,
        agent,
      });
      assertEquals(response.status, 201);
      assertEquals(
        server.requests.at(-1)?.sha256,
        createHash("sha256").update(bytes).digest("base64"),
      );
    }
    assertEquals([server.requests.length, server.connections], [5, 1]);
  } finally {
    agent.close();
    await server.close();
  }
});

Deno.test("put() keeps open fds bounded over 2,000 sequential and concurrent uploads", async () => {
  const server = await startFaultServer(await sharedPki(), () => ({ status: 201, body: "ok" }));
  await using tmp = await tempDir();
  const path = await bodyFile(tmp.path, "b", new Uint8Array(3000).fill(7));
  const tls = await clientTls();
  const request: PutRequest = {
    url: `${server.url}/x`,
    headers: {},
    bodyPath: path,
    size: 3000,
    timeoutMs: 600_000,
    tls,
    verifyTls: true,
  };
  const before = await openFds();
  let peak = before;
  let done = 0;
  const one = async (extra: Partial<PutRequest>) => {
    assertEquals((await put({ ...request, ...extra })).status, 201);
    if (++done % 20 === 0) peak = Math.max(peak, await openFds());
  };
  const agent = createReceiverAgent({ tls, verifyTls: true, maxSockets: 8 });
  try {
    for (let i = 0; i < 700; i++) await one({ agent });
    for (let i = 0; i < 700; i += 10) {
      await Promise.all(Array.from({ length: 10 }, () => one({ agent })));
    }
    assert(agent.openSockets() <= 8, `${agent.openSockets()} sockets`);
    // Without a pool each upload has its own connection, closed when it ends.
    for (let i = 0; i < 300; i++) await one({});
    for (let i = 0; i < 300; i += 10) await Promise.all(Array.from({ length: 10 }, () => one({})));
    assertEquals(server.requests.length, 2000);
    assert(peak - before <= 64, `open fds rose from ${before} to ${peak}`);
  } finally {
    agent.close();
    await server.close();
  }
  assertEquals(agent.openSockets(), 0);
});

Deno.test("put() through a shared throttle delivers every byte, no faster than the cap", async () => {
  const server = await startFaultServer(await sharedPki(), () => ({ status: 201 }));
  await using tmp = await tempDir();
  const rate = 4 * 1024 * 1024;
  const throttle = new Throttle(rate);
  const bytes = crypto.getRandomValues(new Uint8Array(65536));
  const big = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i += bytes.length) big.set(bytes, i);
  const path = await bodyFile(tmp.path, "big", big);
  const digest = createHash("sha256").update(big).digest("base64");
  const request = {
    url: `${server.url}/x`,
    headers: {},
    bodyPath: path,
    size: big.length,
    timeoutMs: 600_000,
    tls: await clientTls(),
    verifyTls: true,
    throttle,
  };
  try {
    const started = performance.now();
    const answers = await Promise.all([put(request), put(request)]);
    const seconds = (performance.now() - started) / 1000;
    assertEquals(answers.map((a) => a.status), [201, 201]);
    assertEquals(server.requests.map((r) => [r.bodyBytes, r.sha256]), [
      [big.length, digest],
      [big.length, digest],
    ]);
    // Both share one bucket: 6 MiB at 4 MiB/s, less the burst, takes at least this long.
    const floor = (2 * big.length - throttle.limits.burst) / rate;
    assert(seconds >= floor, `${seconds} s < ${floor} s`);
  } finally {
    await server.close();
  }
});

Deno.test("decide() keeps a bearer token that a collector echoes in a 400 out of the action", async () => {
  const token = "tok-s3cret-echoed";
  const server = await startFaultServer(await sharedPki(), echoHeaders);
  await using tmp = await tempDir();
  const path = await bodyFile(tmp.path, "b", new Uint8Array(10));
  try {
    const response = await put({
      url: `${server.url}/x`,
      headers: { authorization: `Bearer ${token}` },
      bodyPath: path,
      size: 10,
      timeoutMs: 600_000,
      tls: await clientTls(),
      verifyTls: true,
    });
    assert(response.body.includes(token), "the collector echoed the token");
    const action = decide(responseAnswer(response, { now: 0, secrets: [token] }), {
      attempts: 0,
      repacks: 0,
      sha256: "x",
      backoffSeconds: [1],
      now: 0,
      random: () => 0.5,
      secrets: [token],
    });
    assertEquals(action.kind, "quarantine");
    assert(!JSON.stringify(action).includes(token), JSON.stringify(action));
    assert(JSON.stringify(action).includes("Bearer [redacted]"));
  } finally {
    await server.close();
  }
});

Deno.test("put() reports a TLS handshake refused over our certificate as a credentials failure", async () => {
  const pki = await sharedPki();
  const rogue = await makeRogueClients(pki, "lab-01");
  await using tmp = await tempDir();
  const path = await bodyFile(tmp.path, "b", new Uint8Array(10));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  // openssl, unlike nginx, refuses a certificate in the handshake with a TLS alert.
  const server = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      pki.serverCert,
      "-key",
      pki.serverKey,
      "-CAfile",
      pki.ca,
      "-Verify",
      "1",
      "-verify_return_error",
      "-www",
      "-quiet",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (;;) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => null);
      if (conn) {
        conn.close();
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const ca = await Deno.readTextFile(pki.ca);
    const read = async (c: { cert: string; key: string }) => ({
      ca,
      cert: await Deno.readTextFile(c.cert),
      key: await Deno.readTextFile(c.key),
    });
    const rows: [TlsMaterial, RegExp][] = [
      [await read(rogue.otherCa), /does not trust the CA that issued our TLS client certificate/],
      [await read(rogue.expired), /says our TLS client certificate has expired/],
      [{ ca }, /requires a TLS client certificate and none was sent/],
    ];
    for (const [tls, cause] of rows) {
      const error = await assertRejects(() =>
        put({
          url: `https://127.0.0.1:${port}/x`,
          headers: {},
          bodyPath: path,
          size: 10,
          timeoutMs: 600_000,
          tls,
          verifyTls: true,
        }), UploadError);
      assertEquals(error.kind, "credentials", error.message);
      assertMatch(error.message, cause);
    }
  } finally {
    server.kill();
    await server.status;
  }
});

Deno.test("put() reads a handshake refused over a missing certificate as credentials, whichever error arrives first", async () => {
  // The server sends its alert as our body starts to flow; the write that follows meets a reset
  // (EPIPE, ECONNRESET) often before the alert is read. A big body makes that the common case.
  const server = await startFaultServer(await sharedPki(), () => ({ status: 201 }), {
    requireClientCert: true,
  });
  await using tmp = await tempDir();
  const size = 4 * 1024 * 1024;
  const path = await bodyFile(tmp.path, "b", new Uint8Array(size));
  const tls = { ca: (await clientTls()).ca as string };
  const kinds: string[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const error = await assertRejects(() =>
        put({
          url: `${server.url}/x`,
          headers: {},
          bodyPath: path,
          size,
          timeoutMs: 600_000,
          tls,
          verifyTls: true,
        }), UploadError);
      kinds.push(`${error.kind}: ${error.message}`);
    }
  } finally {
    await server.close();
  }
  const wrong = kinds.filter((k) =>
    k !==
      "credentials: the collector requires a TLS client certificate and none was sent: check receiver.client_cert"
  );
  assertEquals(wrong, [], `${wrong.length} of 20 misread`);
  assertEquals(server.requests.length, 0);
});

/** PUTs `bytes` from a file to a server that answers 201: the status and the stored digest. */
async function putIntact(bytes: Uint8Array, extra: Partial<PutRequest> = {}): Promise<void> {
  const server = await startFaultServer(await sharedPki(), () => ({ status: 201 }));
  await using tmp = await tempDir();
  const path = await bodyFile(tmp.path, "b", bytes);
  try {
    const response = await put({
      url: `${server.url}/x`,
      headers: {},
      bodyPath: path,
      size: bytes.length,
      timeoutMs: 600_000,
      tls: await clientTls(),
      verifyTls: true,
      ...extra,
    });
    assertEquals(response.status, 201);
    assertEquals(server.requests[0]?.sha256, createHash("sha256").update(bytes).digest("base64"));
  } finally {
    await server.close();
  }
}

Deno.test("put() reports body progress up to the whole size, and the body arrives intact", async () => {
  const size = 5 * 1024 * 1024 + 123;
  const progress: number[] = [];
  await putIntact(new Uint8Array(size).map((_, i) => (i * 7919) >>> 3), {
    onProgress: (n) => progress.push(n),
  });
  assert(progress.length > 1, "progress while the body flows, not only at the end");
  assertEquals(progress.at(-1), size);
  assert(progress.every((n, i) => i === 0 || n > (progress[i - 1] as number)), "only grows");
});

Deno.test("put() reads the body into the pool's buffers, old bytes and all, and gives them back", async () => {
  // What a pack gave back: two 1 MiB buffers still holding its bytes.
  const mine = [takeBuffer(BODY_CHUNK_BYTES), takeBuffer(BODY_CHUNK_BYTES)];
  for (const b of mine) b.fill(0xee);
  giveBuffers(...mine);
  await putIntact(new Uint8Array(3 * BODY_CHUNK_BYTES + 4567).map((_, i) => (i * 31) >>> 2));
  // The body went through them (no new buffer per upload) and they are back for the next one.
  assert(mine.every((b) => b.some((x) => x !== 0xee)), "the upload did not read into the pool");
  const back = [takeBuffer(BODY_CHUNK_BYTES), takeBuffer(BODY_CHUNK_BYTES)];
  assert(back.every((b) => mine.includes(b)), "the buffers did not come back to the pool");
  giveBuffers(...back);
});

Deno.test("put() reads into what a zstd pack gave back (1 MiB and a little), and a small body into a small buffer", async () => {
  const frameSized = BODY_CHUNK_BYTES + (BODY_CHUNK_BYTES >> 8) + 1024;
  // Held while the test runs: the 1 MiB buffers earlier tests gave back, which an upload prefers.
  const held = Array.from({ length: 12 }, () => takeBuffer(BODY_CHUNK_BYTES));
  const mine = [takeBuffer(frameSized), takeBuffer(frameSized)];
  for (const b of mine) b.fill(0xee);
  giveBuffers(...mine);
  await putIntact(new Uint8Array(2 * BODY_CHUNK_BYTES + 99).map((_, i) => (i * 13) >>> 1));
  assert(mine.every((b) => b.some((x) => x !== 0xee)), "the upload did not read into them");
  const before = takenBuffers().get(BODY_CHUNK_BYTES) ?? 0;
  await putIntact(new Uint8Array(20_000).map((_, i) => i >>> 4));
  assertEquals(takenBuffers().get(BODY_CHUNK_BYTES) ?? 0, before, "a new 1 MiB buffer was taken");
  const back = [takeBuffer(frameSized), takeBuffer(frameSized)];
  assert(back.every((b) => mine.includes(b)), "they did not come back to their pool");
  giveBuffers(...back, ...held);
});

Deno.test("put() rejects an unreadable or short body file as a local BodyReadError, not a network failure", async () => {
  const server = await startFaultServer(await sharedPki(), () => ({ status: 201 }));
  await using tmp = await tempDir();
  const path = await bodyFile(tmp.path, "b", new Uint8Array(100));
  const request = {
    url: `${server.url}/x`,
    headers: {},
    size: 200,
    timeoutMs: 600_000,
    tls: await clientTls(),
    verifyTls: true,
  };
  try {
    const short = await assertRejects(() => put({ ...request, bodyPath: path }), BodyReadError);
    assertMatch(short.message, /ended 100 bytes short of its size$/);
    const missing = await assertRejects(
      () => put({ ...request, bodyPath: join(tmp.path, "gone") }),
      BodyReadError,
    );
    assertMatch(missing.message, /^Cannot read ".*gone": /);
  } finally {
    await server.close();
  }
});
