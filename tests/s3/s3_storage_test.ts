/**
 * The collector's S3 storage against a real Ceph RGW: streamed bodies stored once by a
 * conditional PUT, even when two collectors store the same episode at the same moment.
 */
import { startCeph } from "../../devkit/ceph.ts";
import { S3Storage } from "../../src/collector/s3_storage.ts";
import type { Admitted } from "../../src/collector/gate.ts";
import { META } from "../../src/upload/s3/object_key.ts";
import { assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { createBucket, curlS3, makeTarball, settingsFor } from "./_helpers.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/**
 * A body that yields `bytes` in 64 KiB pieces; with `hold`, it calls `hold.arrived()` before the
 * last piece and waits for `hold.gate`.
 */
async function* bodyOf(
  bytes: Uint8Array,
  hold?: { arrived: () => void; gate: Promise<void> },
): AsyncGenerator<Uint8Array> {
  const piece = 64 * 1024;
  for (let off = 0; off < bytes.length; off += piece) {
    if (hold && off + piece >= bytes.length) {
      hold.arrived();
      await hold.gate;
    }
    yield bytes.subarray(off, Math.min(bytes.length, off + piece));
  }
}

Deno.test("S3Storage against Ceph RGW", async (t) => {
  await using ceph = await startCeph();
  const dir = await Deno.makeTempDir();
  await createBucket(ceph, "shared");
  const settings = settingsFor(ceph, "shared", { prefix: "collected" });
  // Two collectors, one bucket.
  const a = new S3Storage(settings);
  const b = new S3Storage(settings);
  const meta = { clientSubject: "CN=lab-01", now: Date.UTC(2026, 0, 2) };

  await t.step("storeUpload() streams the body into the bucket with its metadata", async () => {
    const file = await makeTarball(dir, "s1", 200_000, 1);
    const upload: Admitted = {
      hostId: "lab-01",
      episodeId: "s1",
      compression: "zstd",
      commit: COMMIT,
      sha256: file.sha256,
      size: file.size,
    };
    assertEquals(await a.isStored(upload), false);
    assertEquals(await a.storeUpload(upload, bodyOf(file.bytes), meta), {
      kind: "stored",
      path: "s3://shared/collected/lab-01/s1.tar.zst",
    });
    assertEquals(await b.isStored(upload), true);
    const got = await curlS3(ceph, "GET", "/shared/collected/lab-01/s1.tar.zst");
    assertEquals(got.body, file.bytes);
    assertEquals(got.headers["content-type"], "application/zstd");
    assertEquals(got.headers[META.sha256], file.sha256);
    assertEquals(got.headers[META.commit], COMMIT);
    assertEquals(got.headers[META.clientSubject], "CN%3Dlab-01");
    assertEquals(got.headers["x-amz-meta-received-at"], "2026-01-02T00:00:00.000Z");
  });

  await t.step("two collectors storing one episode at once: exactly one wins", async () => {
    const mine = await makeTarball(dir, "race-a", 300_000, 2);
    const theirs = await makeTarball(dir, "race-b", 300_000, 3);
    const upload = (f: typeof mine): Admitted => ({
      hostId: "lab-01",
      episodeId: "race",
      compression: "gzip",
      commit: COMMIT,
      sha256: f.sha256,
      size: f.size,
    });
    // Both bodies are held back before their last piece until both PUTs have sent the rest, so
    // the two requests are at the store at the same time.
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let arrived = 0;
    const hold = { arrived: () => void (++arrived === 2 && release()), gate };
    const results = Promise.all([
      a.storeUpload(upload(mine), bodyOf(mine.bytes, hold), meta),
      b.storeUpload(upload(theirs), bodyOf(theirs.bytes, hold), meta),
    ]);
    const [ra, rb] = await results;
    const kinds = [ra.kind, rb.kind].sort();
    assertEquals(kinds, ["duplicate", "stored"]);
    const winner = ra.kind === "stored" ? mine : theirs;
    const loser = ra.kind === "stored" ? rb : ra;
    assertEquals(loser, { kind: "duplicate", sha256: winner.sha256 });
    const got = await curlS3(ceph, "GET", "/shared/collected/lab-01/race.tar.gz");
    assertEquals(got.body, winner.bytes);
  });

  await t.step(
    "a body that does not match the admitted digest is a mismatch, not stored",
    async () => {
      const file = await makeTarball(dir, "s2", 1000, 4);
      const result = await a.storeUpload(
        {
          hostId: "lab-01",
          episodeId: "s2",
          compression: "gzip",
          commit: COMMIT,
          sha256: (await makeTarball(dir, "s2-other", 1000, 5)).sha256,
          size: file.size,
        },
        bodyOf(file.bytes),
        meta,
      );
      assertEquals(result.kind, "mismatch");
      assertMatch((result as { detail: string }).detail, /XAmzContentSHA256Mismatch/);
      assertEquals((await curlS3(ceph, "HEAD", "/shared/collected/lab-01/s2.tar.gz")).status, 404);
    },
  );

  await t.step("a body that breaks off throws and stores nothing", async () => {
    const file = await makeTarball(dir, "s3", 200_000, 6);
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield file.bytes.subarray(0, 100_000);
      throw new Error("client went away");
    }
    await assertRejects(() =>
      a.storeUpload(
        {
          hostId: "lab-01",
          episodeId: "s3",
          compression: "gzip",
          commit: COMMIT,
          sha256: file.sha256,
          size: file.size,
        },
        broken(),
        meta,
      )
    );
    assertEquals((await curlS3(ceph, "HEAD", "/shared/collected/lab-01/s3.tar.gz")).status, 404);
  });

  await t.step(
    "a store refusing the collector's key is unavailable, never a mismatch",
    async () => {
      const wrong = new S3Storage({
        ...settings,
        credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: "wrong" },
      });
      const file = await makeTarball(dir, "s4", 1000, 7);
      const result = await wrong.storeUpload(
        {
          hostId: "lab-01",
          episodeId: "s4",
          compression: "gzip",
          commit: COMMIT,
          sha256: file.sha256,
          size: file.size,
        },
        bodyOf(file.bytes),
        meta,
      );
      wrong.close();
      assertEquals(result.kind, "unavailable");
      assertMatch((result as { detail: string }).detail, /SignatureDoesNotMatch/);
    },
  );

  a.close();
  b.close();
  await Deno.remove(dir, { recursive: true });
});
