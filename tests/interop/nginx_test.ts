/**
 * The shipper against nginx (ssl_verify_client on + dav_methods PUT): a collector nobody here
 * wrote. nginx also answers every row of the table of docs/protocol.md for chosen episodes, some before
 * reading the body, as real servers do.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { type Nginx, nginxPath, startNginx } from "../../devkit/nginx.ts";
import { EXIT } from "../../src/cli/args.ts";
import type { Pki } from "../../devkit/pki.ts";
import { makeRogueClients } from "../../devkit/pki.ts";

/** Runs `body` with nginx up; fails (never skips) when nginx is not installed. */
async function withNginx(locations: string, body: (nginx: Nginx, pki: Pki) => Promise<void>) {
  assert(
    await nginxPath(),
    "nginx is not installed: run `bash .ci/run` or `apt-get install nginx-light`",
  );
  await using tmp = await tempDir();
  const pki = await sharedPki();
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki, locations);
  await body(nginx, pki);
}

Deno.test("shipper → nginx: stored file's SHA-256 equals Content-Digest, framed with Content-Length", () =>
  withNginx("", async (nginx, pki) => {
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
      assertMatch(line, /"CN=lab-01" \d+ \d+$/);
    }
    const again = await lab.once();
    assertEquals(again.code, EXIT.ok);
    assertEquals((await nginx.log()).length, 2, "nothing is sent twice");
  }));

const ROWS = `
    location = /v1/episodes/lab-01/ep-b-409.tar.gz { return 409 "already stored\\n"; }
    location = /v1/episodes/lab-01/ep-c-400.tar.gz { return 400 "X-CIS490-Code-Commit rejected. Remediation: update the lab host\\n"; }
    location = /v1/episodes/lab-01/ep-d-412.tar.gz { return 412 "commit not in window\\n"; }
    location = /v1/episodes/lab-01/ep-e-413.tar.gz { client_max_body_size 10; dav_methods PUT; }
    location = /v1/episodes/lab-01/ep-f-503.tar.gz { add_header Retry-After 120 always; return 503 "busy\\n"; }
    location = /v1/episodes/lab-01/ep-g-401.tar.gz { return 401 "who are you\\n"; }
`;

/** Makes episodes complete in the order given, so a pass meets them in that order. */
async function inOrder(dataRoot: string, specs: [string, Parameters<typeof makeEpisode>[2]][]) {
  let t = Date.now() / 1000 - 1000;
  for (const [id, spec] of specs) {
    const dir = await makeEpisode(dataRoot, id, spec);
    if (spec?.complete !== false) await Deno.utime(join(dir, "done.marker"), t, t++);
  }
}

Deno.test("shipper → nginx: every episode kind and every answer row ends where docs/protocol.md says", () =>
  withNginx(ROWS, async (nginx, pki) => {
    await using lab = await makeLab({
      url: nginx.url,
      pki,
      shipper: "max_episode_bytes = 5000000\nupload_concurrency = 1",
    });
    // Incompressible, so the tarball is still being sent when nginx answers 413 from the headers.
    const noise = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < noise.length; i += 65536) {
      crypto.getRandomValues(noise.subarray(i, i + 65536));
    }
    await inOrder(lab.dataRoot, [
      ["ep-a-201", {}],
      ["ep-b-409", {}],
      ["ep-c-400", {}],
      ["ep-d-412", {}],
      ["ep-e-413", { files: { "noise.bin": noise } }],
      ["unstamped", { meta: { code_version: { commit: "not-hex" } } }],
      ["oversized", { files: { "big.bin": new Uint8Array(6_000_000) } }],
      ["bad name", {}],
      ["ep-f-503", {}],
      ["ep-g-401", {}],
      ["running", { complete: false }],
    ]);

    const first = await lab.once();
    assertEquals(first.code, EXIT.tempFail, first.stderr);
    assertEquals(await names(lab.layout.shipped), ["ep-a-201", "ep-b-409"]);
    assertEquals(await names(lab.layout.quarantine), [
      "bad name",
      "ep-c-400",
      "ep-d-412",
      "ep-e-413",
      "oversized",
      "unstamped",
    ]);
    assertEquals(await names(lab.layout.episodes), ["ep-f-503", "ep-g-401", "running"]);
    const reason = async (id: string) =>
      JSON.parse(
        await Deno.readTextFile(join(lab.layout.quarantine, id, "quarantine_reason.json")),
      );
    assertEquals(
      (await reason("ep-c-400")).response_body,
      "X-CIS490-Code-Commit rejected. Remediation: update the lab host\n",
    );
    assertEquals((await reason("ep-d-412")).http_status, 412);
    assertEquals(
      (await reason("ep-e-413")).http_status,
      413,
      "nginx answered before reading the body",
    );
    for (const id of ["bad name", "oversized", "unstamped"]) {
      assertEquals((await reason(id)).source, "preflight");
    }
    const state503 = await lab.state("ep-f-503");
    assert(
      Date.parse(state503?.next_attempt_at ?? "") >= Date.now() + 100_000,
      "Retry-After: 120 honoured",
    );
    assertEquals((await nginx.log()).length, 6, "ep-g-401 not tried after the collector said 503");

    const second = await lab.once();
    assertEquals(second.code, EXIT.config, second.stderr);
    assertMatch(second.stderr, /ERROR collector refused our credentials: uploads paused/);
    assertEquals(await names(lab.layout.episodes), ["ep-f-503", "ep-g-401", "running"]);
    assertEquals((await nginx.log()).length, 7, "only ep-g-401 was tried; ep-f-503 waits");
    assertEquals(await names(join(nginx.root, "v1", "episodes", "lab-01")), ["ep-a-201.tar.gz"]);
  }));

Deno.test("shipper → nginx: a wrong receiver.url (404/405 from nginx) pauses uploads, quarantines nothing", () =>
  withNginx("", async (nginx, pki) => {
    await using lab = await makeLab({ url: `${nginx.url}/wrong/prefix`, pki });
    await makeEpisode(lab.dataRoot, "ep-1");
    await makeEpisode(lab.dataRoot, "ep-2");
    const run = await lab.once();
    assertEquals(run.code, EXIT.config, run.stderr);
    assertEquals((await nginx.log()).length, 1);
    assertMatch(
      (await nginx.log())[0] ?? "",
      /^PUT \/wrong\/prefix\/v1\/episodes\/lab-01\/ep-\d\.tar\.gz 40[45] /,
    );
    assertEquals(await names(lab.layout.quarantine), []);
    assertEquals(await names(lab.layout.episodes), ["ep-1", "ep-2"]);
  }));

for (const rogue of ["other-ca", "expired", "none"] as const) {
  Deno.test(`shipper → nginx: a client certificate nginx refuses (${rogue}) pauses uploads, quarantines nothing, exits 78`, () =>
    withNginx("", async (nginx, pki) => {
      const clients = await makeRogueClients(pki, "lab-01");
      const cert = rogue === "other-ca"
        ? clients.otherCa
        : rogue === "expired"
        ? clients.expired
        : undefined;
      await using lab = await makeLab({
        url: nginx.url,
        pki: cert ? { ...pki, client: () => cert } : pki,
        noClientCert: cert === undefined,
        bearerToken: "tok-s3cret-nginx",
      });
      await makeEpisode(lab.dataRoot, "ep-1");
      await makeEpisode(lab.dataRoot, "ep-2");
      const run = await lab.once();
      assertEquals(run.code, EXIT.config, run.stderr);
      assertEquals(await names(lab.layout.quarantine), []);
      assertEquals(await names(lab.layout.episodes), ["ep-1", "ep-2"]);
      const lines = await nginx.log();
      assertEquals(lines.length, 1, "one probe, then uploads paused");
      assertMatch(lines[0] ?? "", / 400 /, "nginx answers a refused certificate with a plain 400");
      assertMatch(run.stderr, /ERROR collector refused our credentials: uploads paused/);
      assertMatch(
        run.stderr,
        rogue === "none"
          ? /No required SSL certificate was sent.*none was sent/
          : rogue === "expired"
          ? /The SSL certificate error.*our client certificate \(receiver\.client_cert\) expired on 2020-02-01T00:00:00\.000Z/
          : /The SSL certificate error.*rejected our TLS client certificate/,
      );
      assert(!run.stderr.includes("tok-s3cret-nginx"));
    }));
}
