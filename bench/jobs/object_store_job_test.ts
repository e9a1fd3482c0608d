import assert from "node:assert/strict";
import { objectStoreJob } from "./object_store_job.ts";

Deno.test("objectStoreJob() measures the S3 backlog, a multipart episode and one vs two collectors, and cleans up", async () => {
  const root = await Deno.makeTempDir({ prefix: "cis490-bench-test-" });
  try {
    const rows = await objectStoreJob({
      root,
      episodes: 3,
      episodeBytes: 4096,
      // Above the 64 MiB default threshold would take long here; 70 MiB still goes by parts.
      bigBytes: 70 * 1024 * 1024,
      hosts: 2,
      perHost: 2,
    });
    assert.deepEqual(rows.map((r) => r.id), ["s3-backlog", "s3-big", "collectors"]);
    for (const row of rows) {
      assert.ok(Number.isFinite(row.seconds) && row.seconds > 0, row.id);
      assert.ok(Number.isFinite(row.peerSeconds) && row.peerSeconds > 0, row.id);
      assert.equal(row.ratio, row.seconds / row.peerSeconds);
    }
    assert.match(rows[0]!.workload, /^3 episodes of 4 KiB/);
    assert.equal(rows[2]!.data.episodes, 4);
    assert.deepEqual([...Deno.readDirSync(root)], [], "the job removes what it made");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
