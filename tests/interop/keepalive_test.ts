/**
 * Kept-alive connections that nginx closes under the sender: `nginx -s reload` during a backlog,
 * and `return 444` (close without answering) on a connection that just carried a good upload.
 * The collector receiver's pool must lose no attempt to a connection the server closed.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { tempDir } from "../../devkit/fixtures.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { type Nginx, nginxPath, startNginx } from "../../devkit/nginx.ts";
import type { Pki } from "../../devkit/pki.ts";
import {
  collectorReceiver,
  type CollectorReceiverConfig,
} from "../../src/upload/collector_receiver.ts";
import { createTransport } from "../../src/upload/transport.ts";
import type { Answer, Parcel } from "../../src/upload/receiver.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

async function withNginx(
  locations: string,
  body: (nginx: Nginx, pki: Pki, dir: string) => Promise<void>,
) {
  assert(
    await nginxPath(),
    "nginx is not installed: run `bash .ci/run` or `apt-get install nginx-light`",
  );
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki, locations);
  await body(nginx, pki, tmp.path);
}

async function receiverConfig(url: string, pki: Pki): Promise<CollectorReceiverConfig> {
  const client = pki.client("lab-01");
  return {
    receiver: { url, verifyTls: true },
    tls: {
      ca: await Deno.readTextFile(pki.ca),
      cert: await Deno.readTextFile(client.cert),
      key: await Deno.readTextFile(client.key),
    },
    // The default: a connection the server closed must not cost this long.
    requestTimeoutS: 60,
    uploadConcurrency: 4,
    maxBytesPerSecond: 0,
  };
}

/** A tarball-shaped file of `size` bytes whose content depends on `id`. */
async function parcel(dir: string, id: string, size: number): Promise<Parcel> {
  const bytes = new Uint8Array(size).map((_, i) =>
    (i * 31 + id.length * 7 + id.charCodeAt(id.length - 1)) & 0xff
  );
  const path = join(dir, `${id}.tar`);
  await Deno.writeFile(path, bytes);
  return {
    hostId: "lab-01",
    episodeId: id,
    compression: "none",
    sha256: createHash("sha256").update(bytes).digest("base64"),
    size,
    commit: COMMIT,
    path,
  };
}

Deno.test("collectorReceiver() loses no attempt to nginx reloaded 60 times during a 600-episode backlog", () =>
  withNginx("", async (nginx, pki, dir) => {
    const config = await receiverConfig(nginx.url, pki);
    const transport = createTransport(config);
    const receiver = collectorReceiver(config, { transport });
    const parcels: Parcel[] = [];
    for (let i = 0; i < 600; i++) parcels.push(await parcel(dir, `ep-${i}`, 2000 + (i % 7) * 1000));
    const answers = new Map<string, Answer>();
    let next = 0;
    let reloads = 0;
    const worker = async () => {
      while (next < parcels.length) {
        const p = parcels[next++] as Parcel;
        // Every tenth episode, an operator reloads nginx: idle connections in our pool close.
        if (next % 10 === 0) {
          await nginx.reload();
          reloads++;
        }
        answers.set(p.episodeId, await receiver.send(p));
      }
    };
    try {
      await Promise.all(Array.from({ length: config.uploadConcurrency }, worker));
    } finally {
      receiver.close();
    }
    assertEquals(reloads, 60);
    const notStored = [...answers].filter(([, a]) => a.class !== "stored");
    assertEquals(notStored, [], "every episode stored at its first attempt");
    assertEquals(answers.size, 600);
    for (const p of parcels) {
      const stored = await Deno.readFile(
        join(nginx.root, "v1", "episodes", "lab-01", `${p.episodeId}.tar`),
      );
      assertEquals(createHash("sha256").update(stored).digest("base64"), p.sha256, p.episodeId);
    }
    const puts = (await nginx.log()).filter((l) => l.startsWith("PUT "));
    assertEquals(puts.filter((l) => / 201 /.test(l)).length, 600, "each episode stored once");
    // 10 to 34 per run here: a run that met none would prove nothing.
    assert(transport.agent.stats.staleRetries > 0, "no reload closed a connection in use");
  }));

Deno.test("collectorReceiver() retries once on a fresh connection when nginx closes a reused one without answering (444)", () =>
  withNginx(
    "location ~ ^/v1/episodes/lab-01/drop-[^/]*$ { return 444; }",
    async (nginx, pki, dir) => {
      const config = { ...(await receiverConfig(nginx.url, pki)), uploadConcurrency: 1 };
      const transport = createTransport(config);
      const receiver = collectorReceiver(config, { transport });
      try {
        const good = await receiver.send(await parcel(dir, "good-1", 3 << 20));
        assertEquals(good, { class: "stored", status: 201 });
        const dropped = await receiver.send(await parcel(dir, "drop-1", 3 << 20));
        assertEquals(dropped.class, "transient", JSON.stringify(dropped));
        assert(dropped.class === "transient");
        assertEquals(dropped.status, 0);
        // A close, not a wait for the 60 s request timeout.
        assertMatch(dropped.said, /^network failure/);
      } finally {
        receiver.close();
      }
      const lines = await nginx.log();
      const [first, ...drops] = lines.map((l) => l.split(" "));
      assert(first);
      assertEquals(first.slice(0, 3), ["PUT", "/v1/episodes/lab-01/good-1.tar", "201"]);
      assertEquals(drops.length, 2, `sent once more, not again and again:\n${lines.join("\n")}`);
      const [onReused, onFresh] = drops;
      assert(onReused && onFresh);
      assertEquals(onReused[2], "444");
      assertEquals(onReused.at(-2), first.at(-2), "first try on the connection of good-1");
      assertEquals(onReused.at(-1), "2");
      assertEquals(onFresh[2], "444");
      assert(onFresh.at(-2) !== first.at(-2), "the retry on a connection of its own");
      assertEquals(onFresh.at(-1), "1");
      assertEquals(transport.agent.stats.staleRetries, 1);
    },
  ));
