import { assertEquals, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { put, UploadError } from "../../src/upload/put.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { tempDir } from "../../devkit/fixtures.ts";

Deno.test("put() skips verification only for the request that asks, never process-wide", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201, body: "stored" }));
  await using tmp = await tempDir();
  const body = join(tmp.path, "b");
  await Deno.writeTextFile(body, "hello");
  const client = pki.client("lab-01");
  const tls = {
    ca: await Deno.readTextFile(pki.otherCa),
    cert: await Deno.readTextFile(client.cert),
    key: await Deno.readTextFile(client.key),
  };
  const request = {
    url: `${server.url}/x`,
    headers: {},
    bodyPath: body,
    size: 5,
    timeoutMs: 5000,
    tls,
  };
  try {
    const skipped = await put({ ...request, verifyTls: false });
    assertEquals([skipped.status, skipped.body], [201, "stored"]);
    await assertRejects(() => put({ ...request, verifyTls: true }), UploadError);
    assertEquals(server.requests.length, 1);
    assertEquals(server.requests[0]?.headers["content-length"], "5");
  } finally {
    await server.close();
  }
});
