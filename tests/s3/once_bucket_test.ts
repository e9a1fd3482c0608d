/**
 * A lab host pointed at a bucket, end to end against a real Ceph RGW under the binary's flags:
 * three lines of config and a credentials directory; `--once` ships episodes that land once with
 * their bytes and metadata (read back by curl `--aws-sigv4`); an id produced again with other
 * bytes is quarantined naming both digests (412, then HEAD); kill -9 in the middle of a multipart
 * upload, driven by the outbox state showing saved parts, is resumed by the next `--once` with
 * fewer parts; no multipart upload is left behind by a shipped or a quarantined episode.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { type Ceph, startCeph } from "../../devkit/ceph.ts";
import { spawnCli } from "../../devkit/cli.ts";
import { COMMIT, makeEpisode, names } from "../../devkit/fixtures.ts";
import { EXIT } from "../../src/cli/args.ts";
import { REASON_FILE } from "../../src/layout.ts";
import { encodeBase64 } from "../../src/protocol/_base64.ts";
import { META } from "../../src/upload/s3/object_key.ts";
import { MIN_PART_BYTES } from "../../src/upload/s3/settings.ts";
import { VERSION } from "../../src/version.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";
import {
  createBucket,
  curlS3,
  fileInTarball,
  listKeys,
  listUploads,
  makeS3Lab,
  makeTarball,
  type S3Lab,
} from "./_helpers.ts";

function sha256(bytes: Uint8Array): string {
  return encodeBase64(new Uint8Array(createHash("sha256").update(bytes).digest()));
}

/** Incompressible bytes, so a tarball's size is known before packing. */
function noise(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let off = 0; off < size; off += 65_536) {
    crypto.getRandomValues(bytes.subarray(off, off + 65_536));
  }
  return bytes;
}

/** The saved multipart progress in an episode's outbox state: parts acknowledged so far. */
async function savedParts(lab: S3Lab, id: string): Promise<number> {
  const text = await Deno.readTextFile(join(lab.dataRoot, "outbox", `${id}.state.json`))
    .catch(() => "{}");
  try {
    return (JSON.parse(text) as { resume?: { parts?: unknown[] } }).resume?.parts?.length ?? 0;
  } catch {
    return 0; // caught between write and rename: the state is written atomically, read again
  }
}

/** Part uploads the gateway has logged for `key` since `from` (an index in its log). */
async function partPuts(ceph: Ceph, key: string, from: number): Promise<string[]> {
  return (await ceph.requests()).slice(from).filter((r) =>
    r.startsWith(`PUT /episodes/${key}?`) && /[?&]partNumber=\d+/.test(r)
  );
}

/**
 * Starts `--once` on an episode of `parts` parts and kills it with SIGKILL once its outbox state
 * shows two saved parts. The host's bandwidth cap (4 MiB/s) keeps the rest of the upload from
 * finishing before the kill lands, however fast the machine.
 * @returns the parts saved when it died
 */
async function killMidUpload(lab: S3Lab, id: string): Promise<number> {
  const once = spawnCli(["--once", "--config", lab.configPath], { env: lab.env });
  await waitFor(`two parts of ${id} saved`, async () => (await savedParts(lab, id)) >= 2, {
    watch: [once],
  });
  const status = await once.stop("SIGKILL");
  assertEquals(status.signal, "SIGKILL");
  return await savedParts(lab, id);
}

Deno.test("a lab host on a bucket: --once ships into Ceph RGW exactly once, resumes a killed multipart upload", async (t) => {
  await using ceph = await startCeph();
  await createBucket(ceph, "episodes");
  const scratch = await Deno.makeTempDir({ prefix: "cis490-s3e2e-" });
  // Three lines of [receiver] and a credentials directory; a bandwidth cap for the kill below.
  await using lab = await makeS3Lab(ceph, {
    bucket: "episodes",
    receiver: `multipart_part_bytes = ${MIN_PART_BYTES}\n` +
      `multipart_threshold_bytes = ${MIN_PART_BYTES}`,
    shipper: `max_bytes_per_second = ${4 * 1024 * 1024}`,
  });
  const payloads = new Map<string, Uint8Array>();
  try {
    await t.step(
      "--once ships three episodes; each lands once with its bytes and metadata",
      async () => {
        for (const id of ["e1", "e2", "e3"]) {
          const payload = noise(50_000);
          payloads.set(id, payload);
          await makeEpisode(lab.dataRoot, id, { files: { "data/obs.bin": payload } });
        }
        const run = await lab.once();
        assertEquals(run.code, EXIT.ok, run.stderr);
        assertEquals(await names(join(lab.dataRoot, "shipped")), ["e1", "e2", "e3"]);
        assertEquals(await listKeys(ceph, "episodes", ""), [
          "cis490/lab-01/e1.tar.gz",
          "cis490/lab-01/e2.tar.gz",
          "cis490/lab-01/e3.tar.gz",
        ]);
        for (const [id, payload] of payloads) {
          const got = await curlS3(ceph, "GET", `/episodes/cis490/lab-01/${id}.tar.gz`);
          assertEquals(got.status, 200);
          assertEquals(got.headers["content-type"], "application/gzip");
          assertEquals(got.headers[META.sha256], sha256(got.body));
          assertEquals(got.headers[META.hostId], "lab-01");
          assertEquals(got.headers[META.episodeId], id);
          assertEquals(got.headers[META.commit], COMMIT);
          assertEquals(got.headers[META.shipperVersion], VERSION);
          assertEquals(await fileInTarball(scratch, got.body, `${id}/data/obs.bin`), payload);
        }
        // The secret never reaches a log line.
        assert(
          !run.stderr.includes(ceph.secretAccessKey) && !run.stdout.includes(ceph.secretAccessKey),
        );
      },
    );

    await t.step(
      "the same id produced again with other bytes: 412, HEAD, quarantined naming both digests",
      async () => {
        const before = await curlS3(ceph, "HEAD", "/episodes/cis490/lab-01/e1.tar.gz");
        const from = (await ceph.requests()).length;
        await makeEpisode(lab.dataRoot, "e1", { files: { "data/obs.bin": "produced again" } });
        const run = await lab.once();
        assertEquals(run.code, EXIT.ok, run.stderr);
        assertEquals(await names(join(lab.dataRoot, "quarantine")), ["e1"]);
        const reason = await Deno.readTextFile(join(lab.dataRoot, "quarantine", "e1", REASON_FILE));
        assert(reason.includes(`stored sha-256=:${before.headers[META.sha256]}:`), reason);
        const ours = /ours sha-256=:([A-Za-z0-9+/]{43}=):/.exec(reason)?.[1];
        assert(ours && ours !== before.headers[META.sha256], reason);
        // The store kept the first copy; the second PUT was refused with 412, then a HEAD.
        const after = await curlS3(ceph, "GET", "/episodes/cis490/lab-01/e1.tar.gz");
        assertEquals(sha256(after.body), before.headers[META.sha256]);
        await waitFor("the 412 and the HEAD in the gateway's log", async () => {
          const seen = (await ceph.requests()).slice(from).join("\n");
          return /PUT \/episodes\/cis490\/lab-01\/e1\.tar\.gz 412/.test(seen) &&
            /HEAD \/episodes\/cis490\/lab-01\/e1\.tar\.gz 200/.test(seen);
        });
      },
    );

    await t.step(
      "kill -9 mid multipart upload; the next --once resumes it with fewer parts",
      async () => {
        const payload = noise(6 * MIN_PART_BYTES - 100_000);
        await makeEpisode(lab.dataRoot, "big", { files: { "data/obs.bin": payload } });
        const saved = await killMidUpload(lab, "big");
        assert(saved >= 2, `saved ${saved}`);
        const state = JSON.parse(
          await Deno.readTextFile(join(lab.dataRoot, "outbox", "big.state.json")),
        ) as { packed: { size: number } };
        const total = Math.ceil(state.packed.size / MIN_PART_BYTES);
        assert(saved < total, `all ${total} parts were saved before the kill`);
        assertEquals(await listUploads(ceph, "episodes", "cis490/"), ["cis490/lab-01/big.tar.gz"]);
        const from = (await ceph.requests()).length;

        const run = await lab.once();
        assertEquals(run.code, EXIT.ok, run.stderr);
        assertEquals(await names(join(lab.dataRoot, "shipped")), ["big", "e1", "e2", "e3"]);
        await waitFor(
          "the completed upload in the gateway's log",
          async () =>
            (await ceph.requests()).slice(from).some((r) =>
              /^POST \/episodes\/cis490\/lab-01\/big\.tar\.gz\?uploadId=\S+ 200$/.test(r)
            ),
        );
        const sent = await partPuts(ceph, "cis490/lab-01/big.tar.gz", from);
        assertEquals(sent.length, total - saved, sent.join("\n"));
        const got = await curlS3(ceph, "GET", "/episodes/cis490/lab-01/big.tar.gz");
        assertEquals(got.headers[META.sha256], sha256(got.body));
        assertEquals(got.body.length, state.packed.size);
        assertEquals(await fileInTarball(scratch, got.body, "big/data/obs.bin"), payload);
        assertEquals(await listUploads(ceph, "episodes", "cis490/"), [], "an upload was left");
      },
    );

    await t.step(
      "a killed upload whose key another writer took meanwhile: quarantined, upload aborted",
      async () => {
        const payload = noise(4 * MIN_PART_BYTES);
        await makeEpisode(lab.dataRoot, "taken", { files: { "data/obs.bin": payload } });
        await killMidUpload(lab, "taken");
        assertEquals(await listUploads(ceph, "episodes", "cis490/"), [
          "cis490/lab-01/taken.tar.gz",
        ]);
        // Someone else stores other bytes under the key while this host is down.
        const theirs = await makeTarball(scratch, "theirs", 1000, 7);
        const put = await curlS3(ceph, "PUT", "/episodes/cis490/lab-01/taken.tar.gz", {
          upload: {
            path: theirs.path,
            sha256Hex: createHash("sha256").update(theirs.bytes).digest("hex"),
          },
          headers: { [META.sha256]: theirs.sha256 },
        });
        assertEquals(put.status, 200);

        const run = await lab.once();
        assertEquals(run.code, EXIT.ok, run.stderr);
        const quarantined = await names(join(lab.dataRoot, "quarantine"));
        assert(quarantined.includes("taken"), quarantined.join());
        const reason = await Deno.readTextFile(
          join(lab.dataRoot, "quarantine", "taken", REASON_FILE),
        );
        assert(reason.includes(`stored sha-256=:${theirs.sha256}:`), reason);
        // Their copy stands, and nothing of ours is left half-uploaded.
        const got = await curlS3(ceph, "GET", "/episodes/cis490/lab-01/taken.tar.gz");
        assertEquals(got.body, theirs.bytes);
        assertEquals(await listUploads(ceph, "episodes", "cis490/"), [], "an upload was left");
      },
    );

    await t.step("nothing under data_root holds the secret", async () => {
      const files: string[] = [];
      const walk = async (dir: string) => {
        for await (const e of Deno.readDir(dir)) {
          if (e.isDirectory) await walk(join(dir, e.name));
          else if (e.isFile) files.push(join(dir, e.name));
        }
      };
      await walk(lab.dataRoot);
      assert(files.some((f) => f.endsWith(REASON_FILE)), "the walk found the reason files");
      for (const file of files) {
        const text = new TextDecoder().decode(await Deno.readFile(file));
        assert(!text.includes(ceph.secretAccessKey), `${file} holds the secret`);
      }
    });
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});
