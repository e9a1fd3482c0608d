/**
 * Multipart uploads against a real Ceph RGW (one cluster for this file): a kill -9 mid-upload
 * resumes from the saved parts, a completion before a crash is recognised, a stale upload is
 * aborted, and `discard()` leaves no unfinished upload behind.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCeph } from "../../devkit/ceph.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import type { Answer } from "../../src/upload/receiver.ts";
import { S3_CREDENTIAL_FILES } from "../../src/upload/s3/credentials.ts";
import { base64ToHex } from "../../src/upload/s3/object_key.ts";
import { S3Receiver } from "../../src/upload/s3/s3_receiver.ts";
import { MIN_PART_BYTES } from "../../src/upload/s3/settings.ts";
import { assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";
import type { DriverJob } from "./_multipart_driver.ts";
import { createBucket, curlS3, makeTarball, parcelOf, settingsFor } from "./_helpers.ts";

const DRIVER = fileURLToPath(new URL("./_multipart_driver.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** Unfinished multipart uploads in the bucket, as curl lists them. */
async function openUploads(ceph: Parameters<typeof curlS3>[0]): Promise<string[]> {
  // `?uploads=`: curl 7.88 signs a bare `?uploads` differently from the store.
  const list = await curlS3(ceph, "GET", "/episodes?uploads=");
  assertEquals(list.status, 200, new TextDecoder().decode(list.body));
  return new TextDecoder().decode(list.body).match(/<UploadId>[^<]*<\/UploadId>/g) ?? [];
}

function savedParts(text: string): number {
  try {
    return (JSON.parse(text) as { parts?: unknown[] } | null)?.parts?.length ?? 0;
  } catch {
    return -1;
  }
}

Deno.test("multipart S3 uploads against Ceph RGW", async (t) => {
  await using ceph = await startCeph();
  const dir = await Deno.makeTempDir();
  await createBucket(ceph, "episodes");
  // Smallest parts S3 allows; six of them (the last short).
  const settings = settingsFor(ceph, "episodes", {
    partBytes: MIN_PART_BYTES,
    multipartThresholdBytes: MIN_PART_BYTES,
  });
  const credentialsDir = join(dir, "credentials");
  await Deno.mkdir(credentialsDir, { mode: 0o700 });
  await Deno.writeTextFile(join(credentialsDir, S3_CREDENTIAL_FILES.accessKeyId), ceph.accessKeyId);
  await Deno.writeTextFile(
    join(credentialsDir, S3_CREDENTIAL_FILES.secretAccessKey),
    ceph.secretAccessKey + "\n",
    { mode: 0o600 },
  );
  const file = await makeTarball(dir, "big.tar.gz", 5 * MIN_PART_BYTES + 12345, 7);
  const parcel = parcelOf(file, { episodeId: "big" });
  const { credentials: _, ...settingsNoKeys } = settings;

  /** Runs the driver under the binary's flags; `stallAfterParts` makes it wait to be killed. */
  const driver = async (resumeFile: string, stallAfterParts?: number) => {
    const jobFile = join(dir, `job-${crypto.randomUUID()}.json`);
    const job: DriverJob = {
      settings: settingsNoKeys,
      parcel,
      resumeFile,
      ...(stallAfterParts !== undefined && { stallAfterParts }),
    };
    await Deno.writeTextFile(jobFile, JSON.stringify(job));
    return new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", CONFIG, ...PERMISSION_FLAGS, DRIVER, jobFile],
      env: { CREDENTIALS_DIRECTORY: credentialsDir },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  };

  await t.step("kill -9 after 2 of 6 parts, then a second run sends only the other 4", async () => {
    const resumeFile = join(dir, "resume-kill.json");
    const first = await driver(resumeFile, 2);
    await waitFor(
      "two parts saved",
      async () => savedParts(await Deno.readTextFile(resumeFile).catch(() => "")) >= 2,
    );
    first.kill("SIGKILL");
    assertEquals((await first.output()).signal, "SIGKILL");
    assertEquals(savedParts(await Deno.readTextFile(resumeFile)), 2);
    assertEquals((await curlS3(ceph, "HEAD", "/episodes/lab/lab-01/big.tar.gz")).status, 404);
    assertEquals((await openUploads(ceph)).length, 1);

    const second = await (await driver(resumeFile)).output();
    const stderr = new TextDecoder().decode(second.stderr);
    assertEquals(second.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(second.stdout)) as {
      answer: Answer;
      partsSent: number;
    };
    assertEquals(result, { answer: { class: "stored", status: 200 }, partsSent: 4 });
    const got = await curlS3(ceph, "GET", "/episodes/lab/lab-01/big.tar.gz");
    assertEquals(got.status, 200);
    assertEquals(got.body.length, file.size);
    assertEquals(got.body, file.bytes);
    assertEquals(got.headers["x-amz-meta-sha256"], file.sha256);
    assertEquals(await openUploads(ceph), []);
  });

  await t.step(
    "a send with the progress of an upload already completed answers stored",
    async () => {
      // A crash between CompleteMultipartUpload and the queue's record of it: the next attempt
      // finds the object, and its ETag is the one the saved parts make.
      const resume = JSON.parse(await Deno.readTextFile(join(dir, "resume-kill.json")));
      const receiver = new S3Receiver(settings);
      const answer = await receiver.send(parcel, { resume });
      receiver.close();
      assertEquals(answer, { class: "stored", status: 200 });
    },
  );

  await t.step(
    "the same episode without saved progress is a duplicate, nothing uploaded",
    async () => {
      const receiver = new S3Receiver(settings);
      let saves = 0;
      const answer = await receiver.send(parcel, {
        saveResume: () => Promise.resolve(void saves++),
      });
      receiver.close();
      assertEquals(answer, { class: "duplicate", status: 200, digest: file.sha256 });
      assertEquals(saves, 0);
      assertEquals(await openUploads(ceph), []);
    },
  );

  await t.step(
    "an object stored by another writer while the parts went up is not overwritten",
    async () => {
      // Ceph Pacific ignores If-None-Match on CompleteMultipartUpload (it would replace the
      // object): the HEAD before completing is what keeps the other writer's copy.
      const receiver = new S3Receiver(settings);
      const race = parcelOf(file, { episodeId: "race" });
      const theirs = await makeTarball(dir, "theirs.tar.gz", 1000, 11);
      let saved: unknown = null;
      const answer = await receiver.send(race, {
        saveResume: async (value) => {
          saved = value;
          if ((value as { parts: unknown[] }).parts.length < 6) return;
          const put = await curlS3(ceph, "PUT", "/episodes/lab/lab-01/race.tar.gz", {
            upload: { path: theirs.path, sha256Hex: base64ToHex(theirs.sha256) },
            headers: { "x-amz-meta-sha256": theirs.sha256 },
          });
          assertEquals(put.status, 200);
        },
      });
      receiver.close();
      assertEquals(answer, { class: "duplicate", status: 200, digest: theirs.sha256 });
      const got = await curlS3(ceph, "GET", "/episodes/lab/lab-01/race.tar.gz");
      assertEquals(got.body, theirs.bytes);
      // The queue discards the upload when it quarantines the episode.
      assertEquals((await openUploads(ceph)).length, 1);
      const cleanup = new S3Receiver(settings);
      await cleanup.discard(race, saved);
      cleanup.close();
      assertEquals(await openUploads(ceph), []);
    },
  );

  await t.step("discard() aborts an unfinished upload left by a kill -9", async () => {
    const other = parcelOf(file, { episodeId: "discarded" });
    const resumeFile = join(dir, "resume-discard.json");
    const jobFile = join(dir, "job-discard.json");
    await Deno.writeTextFile(
      jobFile,
      JSON.stringify({ settings: settingsNoKeys, parcel: other, resumeFile, stallAfterParts: 1 }),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", CONFIG, ...PERMISSION_FLAGS, DRIVER, jobFile],
      env: { CREDENTIALS_DIRECTORY: credentialsDir },
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(
      "one part saved",
      async () => savedParts(await Deno.readTextFile(resumeFile).catch(() => "")) >= 1,
    );
    child.kill("SIGKILL");
    await child.status;
    assertEquals((await openUploads(ceph)).length, 1);
    const receiver = new S3Receiver(settings);
    await receiver.discard(other, JSON.parse(await Deno.readTextFile(resumeFile)));
    receiver.close();
    assertEquals(await openUploads(ceph), []);
    assertEquals((await curlS3(ceph, "HEAD", "/episodes/lab/lab-01/discarded.tar.gz")).status, 404);
  });

  await t.step(
    "progress saved for other bytes (a repack) is aborted and a new upload made",
    async () => {
      const receiver = new S3Receiver(settings);
      const fresh = await makeTarball(dir, "fresh.tar.gz", MIN_PART_BYTES + 1, 8);
      const stale = await makeTarball(dir, "stale.tar.gz", MIN_PART_BYTES + 1, 9);
      let saved: unknown = null;
      const stalled = receiver.send(parcelOf(stale, { episodeId: "repacked" }), {
        saveResume: (value) => {
          saved = value;
          // Stop after the upload is created: its id is what a crash would leave.
          return Promise.reject(new Error("stop here"));
        },
      });
      await stalled.catch(() => {});
      assertEquals((await openUploads(ceph)).length, 1);
      const answer = await receiver.send(parcelOf(fresh, { episodeId: "repacked" }), {
        resume: saved,
      });
      receiver.close();
      assertEquals(answer, { class: "stored", status: 200 });
      assertEquals(await openUploads(ceph), []);
      const got = await curlS3(ceph, "GET", "/episodes/lab/lab-01/repacked.tar.gz");
      assertEquals(got.body, fresh.bytes);
    },
  );

  await Deno.remove(dir, { recursive: true });
});
