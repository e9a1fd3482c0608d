/**
 * The reference collector on object storage (`storage.backend = "s3"`), as deployed: two
 * collector processes on one Ceph RGW bucket behind one nginx, four lab hosts shipping with
 * `--once` under the binary's flags, and one collector killed with SIGKILL after the Nth upload
 * it stored. Every episode ends stored exactly once with its bytes (read back by curl
 * `--aws-sigv4`), every shipper ends with every episode shipped, and the collectors keep the
 * certificate-bound host check and answer a 409 with the stored object's digest.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { type Ceph, startCeph, writeBucketCollectorConfig } from "../../devkit/ceph.ts";
import { type CliProcess, type CliResult, runCli, spawnCli } from "../../devkit/cli.ts";
import { COMMIT, makeEpisode, names, shipperConfig, writeConfig } from "../../devkit/fixtures.ts";
import { startNginxBalancer, STREAM_MODULE } from "../../devkit/nginx.ts";
import { makePki, type Pki } from "../../devkit/pki.ts";
import { EXIT } from "../../src/cli/args.ts";
import { REASON_FILE } from "../../src/layout.ts";
import { episodeRequest } from "../../src/protocol/request.ts";
import { encodeBase64 } from "../../src/protocol/_base64.ts";
import { META } from "../../src/upload/s3/object_key.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { waitFor, waitForPromise } from "../support/wait.ts";
import { createBucket, curlS3, fileInTarball, listKeys } from "../s3/_helpers.ts";

const HOSTS = ["lab-01", "lab-02", "lab-03", "lab-04"];
const PER_HOST = 6;
/** Incompressible, so each upload takes a while and the kill finds some in flight. */
const PAYLOAD_BYTES = 768 * 1024;

/** A collector process storing into `bucket`. */
async function startBucketCollector(
  dir: string,
  pki: Pki,
  ceph: Ceph,
  bucket: string,
): Promise<{ proc: CliProcess; address: string }> {
  const config = await writeBucketCollectorConfig(dir, pki, ceph, bucket);
  // A collector killed mid-stream logs nothing wrong; one whose store refuses logs warnings.
  const proc = spawnCli(["collector", "--config", config], { expectErrors: true });
  const line = await waitForPromise("a collector listening", proc.firstLine, { watch: [proc] });
  return { proc, address: line.replace(/^listening on https:\/\//, "") };
}

/** Runs `--once` until it exits 0: a shipper whose collector died retries on its next run. */
async function shipAll(configPath: string): Promise<CliResult[]> {
  const runs: CliResult[] = [];
  for (let i = 0; i < 40; i++) {
    const run = await runCli(["--once", "--config", configPath]);
    runs.push(run);
    if (run.code === EXIT.ok) return runs;
    assertEquals(run.code, EXIT.tempFail, `--once: ${run.stderr}`);
  }
  throw new Error(`--once never finished: ${runs.at(-1)?.stderr}`);
}

function sha256(bytes: Uint8Array): string {
  return encodeBase64(new Uint8Array(createHash("sha256").update(bytes).digest()));
}

Deno.test("two collectors on one bucket behind one nginx: kill -9 of one mid-stream, every episode stored once with its bytes", async (t) => {
  assert(await Deno.stat(STREAM_MODULE).catch(() => null), "nginx's stream module is missing");
  const tmp = await Deno.makeTempDir({ prefix: "cis490-2c-" });
  await using ceph = await startCeph();
  await createBucket(ceph, "shared");
  const pki = await makePki(join(tmp, "pki"), HOSTS);
  const a = await startBucketCollector(join(tmp, "a"), pki, ceph, "shared");
  const b = await startBucketCollector(join(tmp, "b"), pki, ceph, "shared");
  try {
    await using nginx = await startNginxBalancer(join(tmp, "nginx"), [a.address, b.address]);
    const payloads = new Map<string, Uint8Array>();
    const configs: string[] = [];
    for (const host of HOSTS) {
      const dataRoot = join(tmp, host, "data");
      await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
      for (let i = 1; i <= PER_HOST; i++) {
        const payload = new Uint8Array(PAYLOAD_BYTES);
        // getRandomValues fills at most 64 KiB at a time.
        for (let off = 0; off < PAYLOAD_BYTES; off += 65_536) {
          crypto.getRandomValues(payload.subarray(off, off + 65_536));
        }
        payloads.set(`${host}/ep-${i}`, payload);
        await makeEpisode(dataRoot, `ep-${i}`, { files: { "data/obs.bin": payload } });
      }
      configs.push(
        await writeConfig(
          join(tmp, host),
          shipperConfig({
            dataRoot,
            url: nginx.url,
            pki,
            hostId: host,
            shipper: "backoff_seconds = [0.05]\nupload_concurrency = 2",
          }),
        ),
      );
    }

    await t.step(
      "four shippers at once; collector A killed after its 4th stored upload",
      async () => {
        const shipping = Promise.all(configs.map((c) => shipAll(c)));
        // The event, not a time: A's own log shows it stored 4 uploads.
        await waitFor(
          "collector A storing 4 uploads",
          () => (a.proc.stderrSoFar().match(/PUT \/v1\/episodes\/\S+ 201/g) ?? []).length >= 4,
          { watch: [a.proc, b.proc] },
        );
        const killed = await a.proc.stop("SIGKILL");
        assertEquals(killed.signal, "SIGKILL");
        const runs = await shipping;
        for (const [i, host] of HOSTS.entries()) {
          const dataRoot = join(tmp, host, "data");
          assertEquals(
            await names(join(dataRoot, "episodes")),
            [],
            `${host}: ${runs[i]!.at(-1)?.stdout}`,
          );
          assertEquals(await names(join(dataRoot, "quarantine")), []);
          assertEquals(
            await names(join(dataRoot, "shipped")),
            Array.from({ length: PER_HOST }, (_, j) => `ep-${j + 1}`).sort(),
          );
        }
        assertMatch(b.proc.stderrSoFar(), /PUT \/v1\/episodes\/\S+ 201/);
      },
    );

    await t.step("every episode is in the bucket once, with its bytes and metadata", async () => {
      const keys = await listKeys(ceph, "shared", "collected/");
      assertEquals(keys, [...payloads.keys()].map((k) => `collected/${k}.tar.gz`).sort());
      for (const [id, payload] of payloads) {
        const [host] = id.split("/");
        const got = await curlS3(ceph, "GET", `/shared/collected/${id}.tar.gz`);
        assertEquals(got.status, 200);
        assertEquals(got.headers[META.sha256], sha256(got.body), id);
        assertEquals(got.headers[META.hostId], host);
        assertEquals(got.headers[META.commit], COMMIT);
        assertEquals(got.headers[META.clientSubject], encodeURIComponent(`CN=${host}`));
        const episode = id.split("/")[1];
        assertEquals(await fileInTarball(tmp, got.body, `${episode}/data/obs.bin`), payload, id);
      }
    });

    await t.step(
      "an id produced again with other bytes: 409 with the stored digest, quarantined naming both",
      async () => {
        const dataRoot = join(tmp, "lab-01", "data");
        await makeEpisode(dataRoot, "ep-1", { files: { "data/obs.bin": "other bytes" } });
        const run = await runCli(["--once", "--config", configs[0]!]);
        assertEquals(run.code, EXIT.ok, run.stderr);
        assertEquals(await names(join(dataRoot, "quarantine")), ["ep-1"]);
        const reason = await Deno.readTextFile(join(dataRoot, "quarantine", "ep-1", REASON_FILE));
        const stored = await curlS3(ceph, "HEAD", "/shared/collected/lab-01/ep-1.tar.gz");
        assert(reason.includes(`stored sha-256=:${stored.headers[META.sha256]}:`), reason);
        assertMatch(reason, /ours sha-256=:[A-Za-z0-9+/]{43}=:/);
        assertEquals(await listKeys(ceph, "shared", "collected/lab-01/ep-1"), [
          "collected/lab-01/ep-1.tar.gz",
        ]);
      },
    );

    await t.step(
      "the certificate-bound host check holds: lab-02's certificate cannot upload as lab-01",
      async () => {
        const dataRoot = join(tmp, "rogue", "data");
        await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
        await makeEpisode(dataRoot, "sneak");
        const text = shipperConfig({ dataRoot, url: nginx.url, pki, hostId: "lab-01" })
          .replace(pki.client("lab-01").cert, pki.client("lab-02").cert)
          .replace(pki.client("lab-01").key, pki.client("lab-02").key);
        const config = await writeConfig(join(tmp, "rogue"), text);
        const run = await runCli(["--once", "--config", config]);
        assertEquals(run.code, EXIT.config, run.stderr);
        assertEquals(await listKeys(ceph, "shared", "collected/lab-01/sneak"), []);
      },
    );
  } finally {
    await a.proc.stop("SIGKILL");
    await b.proc.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("a collector whose bucket refuses answers 503 with Retry-After; the episode waits", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "cis490-nb-" });
  await using ceph = await startCeph();
  const pki = await makePki(join(tmp, "pki"), ["lab-01"]);
  const c = await startBucketCollector(join(tmp, "c"), pki, ceph, "no-such-bucket");
  try {
    const dataRoot = join(tmp, "data");
    await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
    await makeEpisode(dataRoot, "e1");
    const config = await writeConfig(
      tmp,
      shipperConfig({ dataRoot, url: `https://${c.address}`, pki }),
    );
    const run = await runCli(["--once", "--config", config]);
    assertEquals(run.code, EXIT.tempFail, run.stderr);
    assertMatch(run.stderr, /HTTP 503/);
    assertEquals(await names(join(dataRoot, "episodes")), ["e1"]);
    assertEquals(await names(join(dataRoot, "quarantine")), []);
    await waitFor("the collector's warning", () => /store did not take/.test(c.proc.stderrSoFar()));
    assertMatch(c.proc.stderrSoFar(), /NoSuchBucket/);
    // The answer itself, as any client sees it.
    const client = pki.client("lab-01");
    const body = new TextEncoder().encode("x");
    const request = episodeRequest({
      receiverUrl: `https://${c.address}`,
      hostId: "lab-01",
      episodeId: "e2",
      compression: "gzip",
      sha256: sha256(body),
      commit: COMMIT,
    });
    const curl = await new Deno.Command("curl", {
      args: [
        "-sS",
        ...["--cacert", pki.ca, "--cert", client.cert, "--key", client.key, "-X", "PUT"],
        ...Object.entries(request.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
        ...["--data-binary", "x", "-D", "-", "-o", "/dev/null", request.url],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const head = new TextDecoder().decode(curl.stdout);
    assertMatch(head, /^HTTP\/1\.1 503/);
    assertMatch(head, /^retry-after: \d+\r?$/im);
  } finally {
    await c.proc.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
