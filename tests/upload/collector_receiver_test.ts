/**
 * collectorReceiver() against the reference collector as a real process (the other end of the
 * protocol) and against the scripted fault server: every answer is an Answer, only a tarball that
 * cannot be read throws.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { COMMIT, names, tempDir } from "../../devkit/fixtures.ts";
import type { Pki } from "../../devkit/pki.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { sharedPki } from "../support/shared_pki.ts";
import {
  collectorReceiver,
  type CollectorReceiverConfig,
} from "../../src/upload/collector_receiver.ts";
import { BodyReadError } from "../../src/upload/put.ts";
import type { Parcel } from "../../src/upload/receiver.ts";

async function receiverConfig(url: string, pki: Pki): Promise<CollectorReceiverConfig> {
  const client = pki.client("lab-01");
  return {
    receiver: { url, verifyTls: true, bearerToken: "tok-s3cret" },
    tls: {
      ca: await Deno.readTextFile(pki.ca),
      cert: await Deno.readTextFile(client.cert),
      key: await Deno.readTextFile(client.key),
    },
    requestTimeoutS: 60,
    uploadConcurrency: 2,
    maxBytesPerSecond: 0,
  };
}

async function parcel(dir: string, id: string, bytes: Uint8Array): Promise<Parcel> {
  const path = join(dir, `${id}-${crypto.randomUUID().slice(0, 6)}.tar.gz`);
  await Deno.writeFile(path, bytes);
  return {
    hostId: "lab-01",
    episodeId: id,
    compression: "gzip",
    sha256: createHash("sha256").update(bytes).digest("base64"),
    size: bytes.length,
    commit: COMMIT,
    path,
  };
}

Deno.test("collectorReceiver() → collector: a 409 carries the digest of what the collector holds", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(
    tmp.path,
    pki,
    'auth.bearer_token = "tok-s3cret"',
  );
  const receiver = collectorReceiver(await receiverConfig(collector.url, pki));
  try {
    const first = await parcel(tmp.path, "ep-1", new Uint8Array(70_000).fill(1));
    assertEquals(await receiver.send(first), { class: "stored", status: 201 });
    assertEquals(await receiver.send(first), {
      class: "duplicate",
      status: 409,
      digest: first.sha256,
    });
    // The same id with other bytes (an episode re-created under an old name).
    const other = await parcel(tmp.path, "ep-1", new Uint8Array(70_000).fill(2));
    assertEquals(await receiver.send(other), {
      class: "duplicate",
      status: 409,
      digest: first.sha256,
    });
    // Under another extension it is the same episode, and the same answer.
    assertEquals(await receiver.send({ ...other, compression: "none" }), {
      class: "duplicate",
      status: 409,
      digest: first.sha256,
    });
  } finally {
    receiver.close();
  }
});

Deno.test("collectorReceiver() → collector: a body that does not match its digest is repack, never stored", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using collector = await startCollectorProcess(
    tmp.path,
    pki,
    'auth.bearer_token = "tok-s3cret"',
  );
  const receiver = collectorReceiver(await receiverConfig(collector.url, pki));
  try {
    const good = await parcel(tmp.path, "ep-2", new Uint8Array(3 << 20).fill(7));
    // One byte flipped in outbox/ after packing: the recorded digest no longer matches.
    const bytes = await Deno.readFile(good.path);
    bytes[12345] = (bytes[12345] as number) ^ 1;
    await Deno.writeFile(good.path, bytes);
    const answer = await receiver.send(good);
    assertEquals(answer.class, "repack", JSON.stringify(answer));
    assert(answer.class === "repack");
    assertEquals(answer.status, 500);
    assertMatch(answer.said, /does not match Content-Digest/);
  } finally {
    receiver.close();
  }
  assertEquals(await names(collector.storeDir), [".incoming"], "nothing stored");
});

Deno.test("collectorReceiver() answers aborted, reports progress, and throws only for an unreadable tarball", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const server = await startFaultServer(
    pki,
    (_r, i) => i === 0 ? { status: 201 } : { stall: true },
  );
  const receiver = collectorReceiver(await receiverConfig(server.url, pki));
  try {
    const p = await parcel(tmp.path, "ep-3", new Uint8Array(3 << 20).fill(9));
    const progress: number[] = [];
    assertEquals(await receiver.send(p, { onProgress: (n) => progress.push(n) }), {
      class: "stored",
      status: 201,
    });
    assertEquals(progress.at(-1), p.size);
    assertEquals(await receiver.send(p, { signal: AbortSignal.abort() }), { class: "aborted" });
    const controller = new AbortController();
    const stalled = receiver.send({ ...p, episodeId: "ep-4" }, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    assertEquals(await stalled, { class: "aborted" });
    await assertRejects(
      () => receiver.send({ ...p, path: join(tmp.path, "gone.tar.gz") }),
      BodyReadError,
    );
  } finally {
    receiver.close();
    await server.close();
  }
});

Deno.test("collectorReceiver() makes a refused certificate, a refusal and an outage each their own class", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const server = await startFaultServer(pki, (_r, i) =>
    [
      { status: 400, body: "bad: Bearer tok-s3cret" },
      { status: 503, headers: { "retry-after": "7" } },
    ][i] ?? { status: 500 });
  const config = await receiverConfig(server.url, pki);
  const receiver = collectorReceiver(config);
  const p = await parcel(tmp.path, "ep-5", new Uint8Array(100));
  try {
    assertEquals(await receiver.send(p), {
      class: "refused",
      status: 400,
      said: "HTTP 400 Bad Request: bad: Bearer [redacted]",
      body: "bad: Bearer [redacted]",
    });
    assertEquals(await receiver.send(p), {
      class: "transient",
      status: 503,
      said: "HTTP 503 Service Unavailable",
      retryAfterMs: 7000,
    });
  } finally {
    receiver.close();
    await server.close();
  }
  const gone = collectorReceiver({ ...config, receiver: { ...config.receiver, url: server.url } });
  try {
    const answer = await gone.send(p);
    assertEquals(answer.class, "transient");
    assert(answer.class === "transient");
    assertEquals(answer.status, 0);
    assertMatch(answer.said, /^network failure \(.*ECONNREFUSED/);
  } finally {
    gone.close();
  }
  const strict = await startFaultServer(pki, () => ({ status: 201 }), { requireClientCert: true });
  const { cert: _c, key: _k, ...noCert } = config.tls;
  const anonymous = collectorReceiver({
    ...config,
    receiver: { ...config.receiver, url: strict.url },
    tls: noCert,
  });
  try {
    const answer = await anonymous.send({ ...p, episodeId: "ep-6" });
    assertEquals(answer.class, "credentials", JSON.stringify(answer));
    assert(answer.class === "credentials");
    assertEquals(answer.status, 0);
    assertMatch(answer.cause, /requires a TLS client certificate and none was sent/);
  } finally {
    anonymous.close();
    await strict.close();
  }
});
