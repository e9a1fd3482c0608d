/**
 * `cis490-ship check` on a bucket, through the real CLI under the binary's flags against a real
 * Ceph RGW: each refusal of the store (wrong secret, unknown key, missing bucket, this host's
 * clock 20 minutes off, nothing listening) gets the verdict and exit code `--once` reaches, and
 * the probe stores nothing.
 */
import { join } from "node:path";
import { startCeph } from "../../devkit/ceph.ts";
import type { CliResult } from "../../devkit/cli.ts";
import { makeEpisode, names } from "../../devkit/fixtures.ts";
import { EXIT } from "../../src/cli/args.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  type CheckJson,
  createBucket,
  FAKETIME_LIB,
  listKeys,
  makeS3Lab,
  type S3LabSpec,
  skewedClockEnv,
} from "./_helpers.ts";

/** What `--once` made of the store's answer, from its exit code and its loud log line. */
function onceVerdict(run: CliResult): string {
  if (run.code === EXIT.ok) return "stored";
  if (run.code === EXIT.tempFail) return "transient";
  if (run.code !== EXIT.config) return `exit ${run.code}`;
  if (/ERROR object store refused our credentials/.test(run.stderr)) return "credentials";
  if (/ERROR object store address, bucket or configuration is wrong/.test(run.stderr)) {
    return "bucket";
  }
  if (/ERROR this host's clock is off by more than the object store allows/.test(run.stderr)) {
    return "clock";
  }
  return "config";
}

/** What `check` found: the first failing step, named as `onceVerdict` names it. */
function checkVerdict(json: CheckJson): string {
  const failed = json.steps.find((s) => s.verdict === "fail");
  if (!failed) return "stored";
  if (failed.class === "transient") return "transient";
  if (failed.step === "object store credentials") return "credentials";
  if (failed.step === "object store bucket") return "bucket";
  if (failed.step === "object store clock") return "clock";
  return "config";
}

Deno.test("check on a bucket: every refusal gets the verdict and exit code --once reaches", async (t) => {
  assert(await Deno.stat(FAKETIME_LIB).catch(() => null), "libfaketime is not installed");
  await using ceph = await startCeph();
  await createBucket(ceph, "episodes");
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const nobody = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
  closed.close();
  const cases: {
    name: string;
    spec: Partial<S3LabSpec>;
    env?: Record<string, string>;
    verdict: string;
    exit: number;
    says: RegExp;
  }[] = [
    { name: "all well", spec: {}, verdict: "stored", exit: EXIT.ok, says: /exists and answers/ },
    {
      name: "wrong secret",
      spec: {
        keys: { accessKeyId: ceph.accessKeyId, secretAccessKey: "x" + ceph.secretAccessKey },
      },
      verdict: "credentials",
      exit: EXIT.config,
      says: /SignatureDoesNotMatch/,
    },
    {
      name: "unknown access key",
      spec: { keys: { accessKeyId: "NOSUCHKEY0000000", secretAccessKey: ceph.secretAccessKey } },
      verdict: "credentials",
      exit: EXIT.config,
      says: /InvalidAccessKeyId/,
    },
    {
      name: "missing bucket",
      spec: { bucket: "no-such-bucket" },
      verdict: "bucket",
      exit: EXIT.config,
      says: /no bucket "no-such-bucket" at http:\/\/127\.0\.0\.1:\d+: create it.*NoSuchBucket/,
    },
    {
      name: "this host's clock 20 minutes behind",
      spec: {},
      env: skewedClockEnv("-20m"),
      verdict: "clock",
      exit: EXIT.config,
      says: /this host's clock is (19|20) min \d+ s behind the store's/,
    },
    {
      name: "nothing listening",
      spec: { url: nobody },
      verdict: "transient",
      exit: EXIT.tempFail,
      says: /is not reachable/,
    },
  ];
  let n = 0;
  for (const c of cases) {
    await t.step(c.name, async () => {
      const id = `e${++n}`;
      await using lab = await makeS3Lab(ceph, { bucket: "episodes", ...c.spec });
      await makeEpisode(lab.dataRoot, id);
      const { json, run } = await lab.check(c.env);
      assertEquals(json.exit, run.code, "the JSON names the exit code");
      const failed = json.steps.find((s) => s.verdict === "fail") ??
        json.steps.find((s) => s.step === "object store bucket");
      assertMatch(failed?.message ?? "", c.says, JSON.stringify(json.steps, null, 1));
      assertEquals([checkVerdict(json), run.code], [c.verdict, c.exit], run.stdout);
      // The probe stored nothing under the host's prefix.
      assertEquals(await listKeys(ceph, "episodes", "cis490/lab-01/.cis490"), []);

      const once = await lab.once(c.env);
      assertEquals([onceVerdict(once), once.code], [c.verdict, c.exit], once.stderr);
      if (c.verdict === "stored") {
        assertEquals(await names(join(lab.dataRoot, "shipped")), [id]);
      } else {
        // Never the episode's fault: it waits in episodes/, nothing quarantined.
        assertEquals(await names(join(lab.dataRoot, "episodes")), [id]);
        assertEquals(await names(join(lab.dataRoot, "quarantine")), []);
      }
      // The secret is never printed, whatever the answer.
      const secret = (c.spec.keys ?? ceph).secretAccessKey;
      for (const text of [run.stdout, run.stderr, once.stdout, once.stderr]) {
        assert(!text.includes(secret), "the secret was printed");
      }
    });
  }
});
