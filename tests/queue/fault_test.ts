/**
 * Every row of the table of docs/protocol.md against a scripted HTTPS server, through the real CLI
 * (`main.ts --once` under the build's permission flags). Real TLS, PKI made at test time.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { STATUS_CODES } from "node:http";
import { COMMIT, makeEpisode, names } from "../../devkit/fixtures.ts";
import {
  echoHeaders,
  type FaultServer,
  type Script,
  startFaultServer,
} from "../support/fault_server.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { EXIT } from "../../src/cli/args.ts";
import { VERSION } from "../../src/version.ts";

async function withServer(
  script: (i: number) => Script,
  body: (server: FaultServer) => Promise<void>,
  options: { requireClientCert?: boolean } = {},
) {
  const server = await startFaultServer(await sharedPki(), (_r, i) => script(i), options);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

Deno.test("--once ships on 201 with exact Content-Length, digest and every header", async () => {
  await withServer(() => ({ status: 201 }), async (server) => {
    await using lab = await makeLab({
      url: server.url + "/",
      pki: await sharedPki(),
      bearerToken: "tok-s3cret",
    });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertMatch(run.stdout, /^shipped: 1 \(ep-1\)$/m);
    assertEquals(await names(lab.layout.shipped), ["ep-1"]);
    assertEquals(await names(lab.layout.episodes), []);
    assertEquals(await names(lab.layout.outbox), []);
    assertEquals(server.requests.length, 1);
    const [req] = server.requests;
    assert(req);
    assertEquals(req.method, "PUT");
    assertEquals(req.path, "/v1/episodes/lab-01/ep-1.tar.gz");
    assertEquals(req.headers["transfer-encoding"], undefined);
    assertEquals(Number(req.headers["content-length"]), req.bodyBytes);
    assertEquals(req.headers["content-digest"], `sha-256=:${req.sha256}:`);
    assertEquals(req.headers["content-type"], "application/gzip");
    assertEquals(req.headers["x-cis490-host-id"], "lab-01");
    assertEquals(req.headers["x-cis490-episode-id"], "ep-1");
    assertEquals(req.headers["x-cis490-code-commit"], COMMIT);
    assertEquals(req.headers["authorization"], "Bearer tok-s3cret");
    assertEquals(req.headers["user-agent"], `cis490-ship/${VERSION}`);
    assertEquals(req.clientCn, "lab-01");
    assert(!run.stderr.includes("tok-s3cret") && !run.stdout.includes("tok-s3cret"));
  });
});

Deno.test("--once moves a 409 to shipped/ as a duplicate", async () => {
  await withServer(() => ({ status: 409, body: "already stored" }), async (server) => {
    await using lab = await makeLab({ url: server.url, pki: await sharedPki() });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertMatch(run.stdout, /^duplicate .*: 1 \(ep-1\)$/m);
    assertMatch(run.stderr, /duplicate: collector already has it/);
    assertEquals(await names(lab.layout.shipped), ["ep-1"]);
    assertEquals(await names(lab.layout.outbox), []);
  });
});

for (const status of [400, 410, 412, 413, 415, 422]) {
  Deno.test(`--once quarantines on ${status} with the collector's answer and never sends it again`, async () => {
    const remediation = `refused (${status}). Remediation: update the lab host and reinstall.`;
    await withServer(() => ({ status, body: remediation }), async (server) => {
      await using lab = await makeLab({ url: server.url, pki: await sharedPki() });
      await makeEpisode(lab.dataRoot, "ep-1");
      const before = Date.now();
      const run = await lab.once();
      assertEquals(run.code, EXIT.ok, run.stderr);
      assertMatch(run.stdout, /^quarantined: 1 \(ep-1 \[collector\]\)$/m);
      assertEquals(await names(lab.layout.quarantine), ["ep-1"]);
      assertEquals(await names(lab.layout.outbox), [], "tarball deleted at once");
      const reason = JSON.parse(
        await Deno.readTextFile(join(lab.layout.quarantine, "ep-1", "quarantine_reason.json")),
      );
      assertEquals(reason.episode_id, "ep-1");
      assertEquals(reason.host_id, "lab-01");
      assertEquals(reason.source, "collector");
      assertEquals(reason.http_status, status);
      assertEquals(reason.response_body, remediation);
      assertEquals(reason.code_version_commit, COMMIT);
      assertEquals(reason.shipper_version, VERSION);
      assertEquals(
        reason.reason,
        `collector refused the episode: HTTP ${status} ${STATUS_CODES[status]}: ${remediation}`,
      );
      assert(Date.parse(reason.quarantined_at) >= before - 1000);
      const again = await lab.once();
      assertEquals(again.code, EXIT.ok);
      assertEquals(server.requests.length, 1, "no re-tar, no re-PUT");
    });
  });
}

Deno.test("--once keeps only the first 4 KiB of a refusal body", async () => {
  await withServer(() => ({ status: 400, body: "x".repeat(10_000) }), async (server) => {
    await using lab = await makeLab({ url: server.url, pki: await sharedPki() });
    await makeEpisode(lab.dataRoot, "ep-1");
    await lab.once();
    const reason = JSON.parse(
      await Deno.readTextFile(join(lab.layout.quarantine, "ep-1", "quarantine_reason.json")),
    );
    assertEquals(reason.response_body.length, 4096);
  });
});

for (const status of [401, 403, 407, 404, 405, 301]) {
  Deno.test(`--once on ${status} pauses every upload, quarantines nothing and exits 78`, async () => {
    await withServer(
      () => ({ status, body: "go away", headers: { location: "https://elsewhere/" } }),
      async (server) => {
        await using lab = await makeLab({ url: server.url, pki: await sharedPki() });
        await makeEpisode(lab.dataRoot, "ep-1");
        await makeEpisode(lab.dataRoot, "ep-2");
        await makeEpisode(lab.dataRoot, "ep-3");
        const run = await lab.once();
        assertEquals(run.code, EXIT.config, run.stderr);
        assertEquals(server.requests.length, 1, "every further upload skipped");
        assertEquals(await names(lab.layout.episodes), ["ep-1", "ep-2", "ep-3"]);
        assertEquals(await names(lab.layout.quarantine), []);
        assertMatch(
          run.stderr,
          /ERROR collector (refused our credentials|URL or collector configuration is wrong): uploads paused, nothing quarantined/,
        );
        assertMatch(run.stdout, /^queued for retry: 3 /m);
        assertMatch(run.stdout, /^uploads paused: collector answered HTTP \d+/m);
        const state = await lab.state(server.requests[0]?.headers["x-cis490-episode-id"] as string);
        assertEquals(state?.attempts, 0, "not the episode's fault");
      },
    );
  });
}

for (
  const [name, script] of [
    ["500", { status: 500, body: "oops" }],
    ["408", { status: 408 }],
    ["429", { status: 429 }],
    ["a reset mid-body", { reset: "mid-body" }],
  ] as [string, Script][]
) {
  Deno.test(`--once on ${name} keeps the episode queued with its attempt persisted, probing one at a time`, async () => {
    await withServer(() => script, async (server) => {
      await using lab = await makeLab({ url: server.url, pki: await sharedPki() });
      await makeEpisode(lab.dataRoot, "ep-1");
      await makeEpisode(lab.dataRoot, "ep-2");
      const before = Date.now();
      const run = await lab.once();
      assertEquals(run.code, EXIT.tempFail, run.stderr);
      assertEquals(server.requests.length, 1, "one probe, not every queued episode");
      assertEquals(await names(lab.layout.episodes), ["ep-1", "ep-2"]);
      assertEquals(await names(lab.layout.quarantine), []);
      const probed = server.requests[0]?.headers["x-cis490-episode-id"] as string;
      const state = await lab.state(probed);
      assertEquals(state?.attempts, 1);
      const due = Date.parse(state?.next_attempt_at ?? "");
      assert(
        due >= before + 800 && due <= Date.now() + 1200,
        `first delay ≈ 1 s ±20%: ${state?.next_attempt_at}`,
      );
      assertMatch(run.stdout, /^queued for retry: 2 /m);
    });
  });
}

Deno.test("--once honours Retry-After across runs, then ships once the collector is back", async () => {
  let down = true;
  await withServer(
    () => (down ? { status: 503, headers: { "retry-after": "2" } } : { status: 201 }),
    async (server) => {
      await using lab = await makeLab({ url: server.url, pki: await sharedPki() });
      await makeEpisode(lab.dataRoot, "ep-1");
      const before = Date.now();
      assertEquals((await lab.once()).code, EXIT.tempFail);
      const due = Date.parse((await lab.state("ep-1"))?.next_attempt_at ?? "");
      assert(due >= before + 2000, "Retry-After: 2 beats the 1 s schedule");
      down = false;
      const waiting = await lab.once();
      assertEquals(waiting.code, EXIT.tempFail);
      assertEquals(server.requests.length, 1, "not due yet: nothing sent");
      assertMatch(waiting.stdout, /^queued for retry: 1 \(ep-1\)$/m);
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now() + 50)));
      const back = await lab.once();
      assertEquals(back.code, EXIT.ok, back.stderr);
      assertEquals(server.requests.length, 2);
      assertEquals(await names(lab.layout.shipped), ["ep-1"]);
      assertEquals(await names(lab.layout.outbox), []);
    },
  );
});

Deno.test("--once bounds a hanging collector by request_timeout_s", async () => {
  await withServer(() => ({ hang: true }), async (server) => {
    await using lab = await makeLab({ url: server.url, pki: await sharedPki(), shipper: "" });
    await Deno.writeTextFile(
      lab.configPath,
      (await Deno.readTextFile(lab.configPath)).replace(
        "request_timeout_s = 5.0",
        "request_timeout_s = 1.0",
      ),
    );
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.tempFail, run.stderr);
    assertMatch((await lab.state("ep-1"))?.last_error ?? "", /timed out after 1 s/);
  });
});

Deno.test("--once treats a collector certificate from an unknown CA as transient, sending nothing", async () => {
  await withServer(() => ({ status: 201 }), async (server) => {
    const pki = await sharedPki();
    await using lab = await makeLab({ url: server.url, pki, caBundle: pki.otherCa });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.tempFail, run.stderr);
    assertEquals(server.requests.length, 0);
    assertMatch((await lab.state("ep-1"))?.last_error ?? "", /certificate|UnknownIssuer|verify/i);
    assertEquals(await names(lab.layout.episodes), ["ep-1"]);
  });
});

Deno.test("--once with verify_tls = false really skips verification, for that receiver only", async () => {
  await withServer(() => ({ status: 201 }), async (server) => {
    const pki = await sharedPki();
    await using lab = await makeLab({
      url: server.url,
      pki,
      caBundle: pki.otherCa,
      verifyTls: false,
    });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertMatch(
      run.stderr,
      /WARN .*receiver\.verify_tls: false, so the collector's certificate is NOT verified/,
    );
    assertEquals(server.requests.length, 1);
    assertEquals(server.requests[0]?.clientCn, "lab-01", "mTLS still presented");
  });
});

Deno.test("--once without a client certificate: the handshake refused over it pauses uploads, exits 78, keeps the episode", async () => {
  await withServer(() => ({ status: 201 }), async (server) => {
    await using lab = await makeLab({
      url: server.url,
      pki: await sharedPki(),
      noClientCert: true,
    });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.config, run.stderr);
    assertEquals(server.requests.length, 0);
    assertMatch(
      run.stderr,
      /ERROR collector refused our credentials: .*requires a TLS client certificate and none was sent/,
    );
    assertEquals((await lab.state("ep-1"))?.attempts, 0, "not the episode's fault");
    assertEquals(await names(lab.layout.quarantine), []);
  }, { requireClientCert: true });
});

Deno.test("--once retries a transient failure and then ships exactly once", async () => {
  const answers: Script[] = [{ status: 502 }, { status: 201 }];
  await withServer((i) => answers[i] ?? { status: 500 }, async (server) => {
    await using lab = await makeLab({
      url: server.url,
      pki: await sharedPki(),
      shipper: "backoff_seconds = [0.1]",
    });
    await makeEpisode(lab.dataRoot, "ep-1");
    assertEquals((await lab.once()).code, EXIT.tempFail);
    await new Promise((r) => setTimeout(r, 200));
    const run = await lab.once();
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertEquals(server.requests.length, 2);
    assertEquals(
      server.requests[0]?.sha256,
      server.requests[1]?.sha256,
      "same tarball, not re-packed differently",
    );
    assertEquals(await names(lab.layout.shipped), ["ep-1"]);
  });
});

Deno.test("--once never writes a bearer token a collector echoes back: scrubbed from quarantine_reason.json and the log", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, (request) => echoHeaders(request));
  try {
    await using lab = await makeLab({ url: server.url, pki, bearerToken: "tok-echoed-s3cret" });
    await makeEpisode(lab.dataRoot, "ep-1");
    const run = await lab.once();
    assertEquals(run.code, EXIT.ok, run.stderr);
    assertEquals(await names(lab.layout.quarantine), ["ep-1"]);
    const reasonPath = join(lab.layout.quarantine, "ep-1", "quarantine_reason.json");
    const reason = await Deno.readTextFile(reasonPath);
    assert(reason.includes("[redacted]"), reason);
    assert(!reason.includes("tok-echoed-s3cret"), "secret at rest");
    assert(!run.stderr.includes("tok-echoed-s3cret") && !run.stdout.includes("tok-echoed-s3cret"));
    const mode = (await Deno.stat(reasonPath)).mode! & 0o777;
    assertEquals(
      mode & 0o007,
      0,
      `quarantine_reason.json is not world-readable (${mode.toString(8)})`,
    );
    const parsed = JSON.parse(reason);
    assertMatch(parsed.reason, /^collector refused the episode: HTTP 400 Bad Request: bad request/);
    assert(!parsed.reason.includes("<"), "HTML stripped from the reason");
  } finally {
    await server.close();
  }
});
