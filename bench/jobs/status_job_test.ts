import assert from "node:assert/strict";
import { statusJob } from "./status_job.ts";

Deno.test("statusJob() measures status, a pass and the metrics refresh, and cleans up", async () => {
  const root = await Deno.makeTempDir({ prefix: "cis490-bench-test-" });
  try {
    const rows = await statusJob({ root, shipped: 50, backlog: 2, runs: 1 });
    assert.deepEqual(rows.map((r) => r.id), ["status", "pass", "metrics"]);
    for (const row of rows) {
      assert.equal(row.runs.length, 1);
      assert.ok(Number.isFinite(row.seconds) && row.seconds > 0, row.id);
      assert.match(row.workload, /50 shipped episodes, 2 in episodes\//);
    }
    assert.deepEqual([...Deno.readDirSync(root)], [], "the job removes what it made");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
