/** The shipper against nginx (ssl_verify_client on + dav_methods PUT): a collector nobody here wrote. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { makeEpisode, names, tempDir } from "../support/fixtures.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { nginxPath, startNginx } from "../support/nginx.ts";
import { EXIT } from "../../src/cli/args.ts";

Deno.test("shipper → nginx: stored file's SHA-256 equals Content-Digest, framed with Content-Length", async () => {
  assert(
    await nginxPath(),
    "nginx is not installed: run `bash .ci/run` or `apt-get install nginx-light`",
  );
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki);
  await using lab = await makeLab({ url: nginx.url, pki });
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
  await makeEpisode(lab.dataRoot, "ep-1", { files: { "data/big.bin": big } });
  await makeEpisode(lab.dataRoot, "ep-2");

  const run = await lab.once();
  assertEquals(run.code, EXIT.ok, run.stderr);
  assertEquals(await names(lab.layout.shipped), ["ep-1", "ep-2"]);
  const lines = await nginx.log();
  assertEquals(lines.length, 2, lines.join("\n"));
  for (const id of ["ep-1", "ep-2"]) {
    const stored = join(nginx.root, "v1", "episodes", "lab-01", `${id}.tar.gz`);
    const bytes = await Deno.readFile(stored);
    const digest = createHash("sha256").update(bytes).digest("base64");
    const line = lines.find((l) => l.includes(`/${id}.tar.gz`)) ?? "";
    assertMatch(
      line,
      new RegExp(`^PUT /v1/episodes/lab-01/${id}\\.tar\\.gz 201 "${bytes.length}" "-" `),
    );
    assert(line.includes(`"sha-256=:${digest}:"`), `digest header matches stored file: ${line}`);
    assertMatch(line, /CN=lab-01"$/);
  }
  // nginx overwrites on a second PUT (204): the shipper must not send again.
  const again = await lab.once();
  assertEquals(again.code, EXIT.ok);
  assertEquals((await nginx.log()).length, 2);
});
