/**
 * The S3 receiver against a real Ceph RADOS Gateway (devkit/ceph.ts, one cluster for this file):
 * stored once with its bytes and metadata (read back by curl --aws-sigv4), duplicates, other bytes
 * under the same id, and every error class the store can be made to give for real.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { startCeph } from "../../devkit/ceph.ts";
import { VERSION } from "../../src/version.ts";
import type { Answer } from "../../src/upload/receiver.ts";
import { checkS3 } from "../../src/upload/s3/check_s3.ts";
import { META } from "../../src/upload/s3/object_key.ts";
import { S3Receiver } from "../../src/upload/s3/s3_receiver.ts";
import { createBucket, curlS3, makeTarball, parcelOf, settingsFor } from "./_helpers.ts";

function assertClass(answer: Answer, cls: Answer["class"]): void {
  assertEquals(answer.class, cls, `expected ${cls}, got ${JSON.stringify(answer)}`);
}

Deno.test("S3Receiver against Ceph RGW", async (t) => {
  // A 1 MiB cap on one PUT, so the store refuses a bigger one with EntityTooLarge.
  await using ceph = await startCeph({ extraConfig: "rgw max put size = 1048576\n" });
  const dir = await Deno.makeTempDir();
  await createBucket(ceph, "episodes");
  const settings = settingsFor(ceph, "episodes");
  const receiver = new S3Receiver(settings);
  const file = await makeTarball(dir, "e1.tar.gz", 300_000, 1);
  const parcel = parcelOf(file, { episodeId: "e1" });

  await t.step(
    "send() stores the episode once, read back by curl with its bytes and metadata",
    async () => {
      const answer = await receiver.send(parcel);
      assertEquals(answer, { class: "stored", status: 200 });
      const got = await curlS3(ceph, "GET", "/episodes/lab/lab-01/e1.tar.gz");
      assertEquals(got.status, 200);
      assertEquals(got.body, file.bytes);
      assertEquals(got.headers["content-type"], "application/gzip");
      assertEquals(got.headers[META.hostId], "lab-01");
      assertEquals(got.headers[META.episodeId], "e1");
      assertEquals(got.headers[META.commit], parcel.commit);
      assertEquals(got.headers[META.sha256], file.sha256);
      assertEquals(got.headers[META.shipperVersion], VERSION);
    },
  );

  await t.step(
    "send() of the same episode again is a duplicate with the stored digest",
    async () => {
      assertEquals(await receiver.send(parcel), {
        class: "duplicate",
        status: 412,
        digest: file.sha256,
      });
    },
  );

  await t.step(
    "send() of other bytes under the same id names the stored digest, stores nothing",
    async () => {
      const other = await makeTarball(dir, "e1-other.tar.gz", 300_000, 2);
      const answer = await receiver.send(parcelOf(other, { episodeId: "e1" }));
      assertEquals(answer, { class: "duplicate", status: 412, digest: file.sha256 });
      const got = await curlS3(ceph, "GET", "/episodes/lab/lab-01/e1.tar.gz");
      assertEquals(got.body, file.bytes);
    },
  );

  await t.step("send() of bytes that do not match the digest: repack, nothing stored", async () => {
    const other = await makeTarball(dir, "e2.tar.gz", 1000, 3);
    const answer = await receiver.send({
      ...parcelOf(other, { episodeId: "e2" }),
      sha256: file.sha256,
    });
    assertClass(answer, "repack");
    assertMatch((answer as { said: string }).said, /XAmzContentSHA256Mismatch/);
    assertEquals((await curlS3(ceph, "HEAD", "/episodes/lab/lab-01/e2.tar.gz")).status, 404);
  });

  await t.step(
    "an object over the store's size cap is refused for good (EntityTooLarge)",
    async () => {
      const big = await makeTarball(dir, "e4.tar.gz", 1024 * 1024 + 1, 4);
      const answer = await receiver.send(parcelOf(big, { episodeId: "e4" }));
      assertClass(answer, "refused");
      assertMatch((answer as { said: string }).said, /EntityTooLarge/);
      assertEquals((await curlS3(ceph, "HEAD", "/episodes/lab/lab-01/e4.tar.gz")).status, 404);
    },
  );

  await t.step("a wrong secret is a credentials problem (SignatureDoesNotMatch)", async () => {
    const wrong = new S3Receiver({
      ...settings,
      credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: "not-the-secret" },
    });
    const answer = await wrong.send(parcelOf(file, { episodeId: "e3" }));
    wrong.close();
    assertClass(answer, "credentials");
    assertMatch((answer as { said: string }).said, /SignatureDoesNotMatch/);
    assertMatch((answer as { cause: string }).cause, /secret_access_key_file/);
  });

  await t.step("an unknown key id is a credentials problem (InvalidAccessKeyId)", async () => {
    const wrong = new S3Receiver({
      ...settings,
      credentials: { accessKeyId: "NOSUCHKEY0000000", secretAccessKey: ceph.secretAccessKey },
    });
    const answer = await wrong.send(parcelOf(file, { episodeId: "e3" }));
    wrong.close();
    assertClass(answer, "credentials");
    assertMatch((answer as { said: string }).said, /InvalidAccessKeyId/);
  });

  await t.step(
    "a user without rights on the bucket is a credentials problem (AccessDenied)",
    async () => {
      const other = await ceph.createUser("cis490-other");
      const wrong = new S3Receiver({ ...settings, credentials: other });
      const answer = await wrong.send(parcelOf(file, { episodeId: "e3" }));
      wrong.close();
      assertClass(answer, "credentials");
      assertMatch((answer as { said: string }).said, /AccessDenied/);
    },
  );

  await t.step("a missing bucket is the configuration (NoSuchBucket)", async () => {
    const wrong = new S3Receiver({ ...settings, bucket: "no-such-bucket" });
    const answer = await wrong.send(parcelOf(file, { episodeId: "e3" }));
    wrong.close();
    assertClass(answer, "misconfigured");
    assertMatch((answer as { cause: string }).cause, /no bucket "no-such-bucket"/);
  });

  await t.step("a clock 20 minutes behind is the host's clock, named with the skew", async () => {
    const skewed = new S3Receiver(settings, { now: () => Date.now() - 20 * 60_000 });
    const answer = await skewed.send(parcelOf(file, { episodeId: "e3" }));
    skewed.close();
    assertClass(answer, "clock");
    assertMatch((answer as { said: string }).said, /RequestTimeTooSkewed/);
    assertMatch(
      (answer as { cause: string }).cause,
      /clock is (19 min 5\d|20 min [0-5]?\d) s behind the store.s/,
    );
  });

  await t.step("a store that is not listening is transient, status 0", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const gone = new S3Receiver({ ...settings, endpoint: `http://127.0.0.1:${port}` });
    const answer = await gone.send(parcelOf(file, { episodeId: "e3" }));
    gone.close();
    assertClass(answer, "transient");
    assertEquals((answer as { status: number }).status, 0);
  });

  await t.step("none of the refused sends stored anything", async () => {
    assertEquals((await curlS3(ceph, "HEAD", "/episodes/lab/lab-01/e3.tar.gz")).status, 404);
  });

  await t.step("checkS3() says the key, the bucket and the clock are fine", async () => {
    const steps = await checkS3(settings, "lab-01");
    assertEquals(steps.map((s) => s.verdict), ["ok", "ok", "ok"], JSON.stringify(steps));
  });

  await t.step("checkS3() names a wrong secret, a missing bucket and a skewed clock", async () => {
    const secret = await checkS3({
      ...settings,
      credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: "wrong" },
    }, "lab-01");
    assertEquals([secret[0]?.verdict, secret[0]?.class], ["fail", "credentials"]);
    assertMatch(secret[0]?.message ?? "", /SignatureDoesNotMatch/);
    const bucket = await checkS3({ ...settings, bucket: "no-such-bucket" }, "lab-01");
    assertEquals(bucket.map((s) => s.class ?? s.verdict), ["ok", "misconfigured", "ok"]);
    assertMatch(bucket[1]?.message ?? "", /no bucket "no-such-bucket"/);
    const clock = await checkS3(settings, "lab-01", { now: () => Date.now() + 20 * 60_000 });
    assertEquals([clock[2]?.verdict, clock[2]?.class], ["fail", "misconfigured"]);
    assertMatch(
      clock[2]?.message ?? "",
      /clock is (19 min 5\d|20 min [0-5]?\d) s ahead of the store.s/,
    );
    const drift = await checkS3(settings, "lab-01", { now: () => Date.now() - 3 * 60_000 });
    assertEquals(drift.map((s) => s.verdict), ["ok", "ok", "warn"]);
  });

  await t.step("checkS3() stored nothing", async () => {
    const list = await curlS3(ceph, "GET", "/episodes?prefix=lab%2Flab-01%2F");
    const keys = new TextDecoder().decode(list.body).match(/<Key>[^<]*<\/Key>/g) ?? [];
    assertEquals(keys, ["<Key>lab/lab-01/e1.tar.gz</Key>"]);
  });

  receiver.close();
  await Deno.remove(dir, { recursive: true });
  assert(ceph.pids.length === 3);
});
