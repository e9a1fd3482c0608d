import { assertEquals, assertMatch } from "../support/assert.ts";
import { makeRogueClients } from "../../devkit/pki.ts";
import { join } from "node:path";
import { shipperConfig, tempDir, writeConfig } from "../../devkit/fixtures.ts";
import type { Pki } from "../../devkit/pki.ts";
import { startNginx } from "../../devkit/nginx.ts";
import { runCli } from "../../devkit/cli.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { judgeCertificateDates, judgeProbe, type ProbeResult } from "../../src/ops/check.ts";
import { checkExitCode, runCheck } from "../../src/cli/check.ts";
import { EXIT } from "../../src/cli/args.ts";
import { createLogger } from "../../src/log/log.ts";

const DAY = 86_400_000;
const URL_ = "https://collector.example";

Deno.test("judgeProbe() reads every answer a §4 receiver can give to GET /v1/health", () => {
  const cases: [ProbeResult, string, RegExp][] = [
    [{ status: 200, body: "ok lab-01" }, "ok", /answered HTTP 200: ok lab-01/],
    [
      { status: 404, body: "<html>404</html>" },
      "ok",
      /^no health route \(HTTP 404\); TLS and client certificate accepted/,
    ],
    [{ status: 405, body: "" }, "ok", /no health route/],
    [
      { status: 401, body: "wrong token" },
      "refused",
      /refused our credentials: HTTP 401: wrong token/,
    ],
    [{ status: 403, body: "" }, "refused", /refused our credentials: HTTP 403$/],
    [{ status: 495, body: "" }, "refused", /credentials/],
    [{ status: 496, body: "" }, "refused", /credentials/],
    [
      { status: 400, body: "<title>400 The SSL certificate error</title>" },
      "refused",
      /credentials/,
    ],
    [{ status: 400, body: "No required SSL certificate was sent" }, "refused", /credentials/],
    [
      { status: 400, body: "The plain HTTP request was sent to HTTPS port" },
      "refused",
      /http:\/\/ URL/,
    ],
    [{ status: 301, body: "" }, "refused", /receiver\.url or the collector's setup/],
    [{ status: 421, body: "" }, "refused", /receiver\.url/],
    [{ status: 503, body: "down" }, "unreachable", /not available: HTTP 503: down/],
    [{ status: 429, body: "" }, "unreachable", /not available/],
    [{ status: 408, body: "" }, "unreachable", /not available/],
    [
      { error: "connect ECONNREFUSED 127.0.0.1:9", code: "ECONNREFUSED" },
      "unreachable",
      /cannot reach/,
    ],
    [{ error: "no answer within 5 s", code: "ETIMEDOUT" }, "unreachable", /cannot reach/],
    [
      { error: "self-signed certificate", code: "DEPTH_ZERO_SELF_SIGNED_CERT" },
      "refused",
      /not trusted.*ca_bundle/,
    ],
    [
      { error: "unable to verify the first certificate", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
      "refused",
      /not trusted/,
    ],
    [
      { error: "received fatal alert: CertificateRequired", code: null },
      "refused",
      /refused our client certificate/,
    ],
    [
      { error: "tlsv13 alert certificate required", code: null },
      "refused",
      /refused our client certificate/,
    ],
    [
      { error: "received fatal alert: UnknownCA", code: null },
      "refused",
      /refused our client certificate/,
    ],
  ];
  for (const [result, verdict, pattern] of cases) {
    const step = judgeProbe(result, URL_);
    assertEquals(step.verdict, verdict, JSON.stringify(result));
    assertMatch(step.message, pattern);
  }
});

Deno.test("judgeCertificateDates() warns within 14 days and fails outside the dates", () => {
  const now = 1000 * DAY;
  const cert = (from: number, to: number) => ({
    subject: "CN=lab-01",
    notBefore: from,
    notAfter: to,
  });
  const cases: [ReturnType<typeof cert>, string, RegExp][] = [
    [cert(now - DAY, now + 30 * DAY), "ok", /valid until .* \(30 days\)/],
    [cert(now - DAY, now + 14 * DAY), "ok", /14 days/],
    [cert(now - DAY, now + 13 * DAY), "warn", /expires in 13 days.*renew it/],
    [cert(now - DAY, now - 1), "fail", /expired on/],
    [cert(now + DAY, now + 30 * DAY), "fail", /not valid before/],
  ];
  for (const [c, verdict, pattern] of cases) {
    const step = judgeCertificateDates("client certificate", c, now);
    assertEquals(step.verdict, verdict);
    assertMatch(step.message, pattern);
  }
});

Deno.test("checkExitCode() is 78 for config or credentials, 75 unreachable, else 0", () => {
  const s = (verdict: "ok" | "warn" | "fail" | "refused" | "unreachable" | "skip") => ({
    step: "x",
    verdict,
    message: "",
  });
  assertEquals(checkExitCode([s("ok"), s("warn"), s("skip")]), EXIT.ok);
  assertEquals(checkExitCode([s("ok"), s("unreachable")]), EXIT.tempFail);
  assertEquals(checkExitCode([s("refused"), s("unreachable")]), EXIT.config);
  assertEquals(checkExitCode([s("fail")]), EXIT.config);
});

async function check(configPath: string, offline = false) {
  const lines: string[] = [];
  const code = await runCheck({ configPath, offline }, {
    logger: createLogger({ write: () => {} }),
    stdout: (l) => lines.push(l),
    signal: new AbortController().signal,
    env: () => undefined,
    now: Date.now,
  });
  return { code, out: lines.join("\n") };
}

async function configs(dir: string, pki: Pki, url: string) {
  const dataRoot = join(dir, "data");
  await Deno.mkdir(dataRoot, { recursive: true });
  const good = await writeConfig(dir, shipperConfig({ dataRoot, url, pki }), "good.toml");
  const foreign = (await makeRogueClients(pki, "lab-01")).otherCa;
  const badText = shipperConfig({ dataRoot, url, pki, noClientCert: true }).replace(
    "[shipper]",
    `client_cert = "${foreign.cert}"\nclient_key = "${foreign.key}"\n\n[shipper]`,
  );
  const bad = await writeConfig(dir, badText, "foreign.toml");
  return { good, bad };
}

Deno.test("check passes against the reference collector and fails a certificate from another CA", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const { good, bad } = await configs(tmp.path, pki, collector.url);
  const ok = await check(good);
  assertEquals(ok.code, EXIT.ok, ok.out);
  assertMatch(ok.out, /^ok {4}config: .*good\.toml: host lab-01/m);
  assertMatch(ok.out, /^ok {4}client certificate dates: "CN=lab-01" valid until/m);
  assertMatch(ok.out, /^ok {4}client key: .* matches the certificate$/m);
  assertMatch(ok.out, /^ok {4}collector: .*\/v1\/health answered HTTP 200: ok /m);
  const refused = await check(bad);
  assertEquals(refused.code, EXIT.config, refused.out);
  assertMatch(
    refused.out,
    /^FAIL {2}collector: the collector refused our credentials: HTTP 495: TLS client certificate "CN=lab-01" not accepted/m,
  );
});

Deno.test("check passes against nginx (no health route) and fails a certificate from another CA", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki);
  const { good, bad } = await configs(tmp.path, pki, nginx.url);
  const ok = await check(good);
  assertEquals(ok.code, EXIT.ok, ok.out);
  assertMatch(
    ok.out,
    /^ok {4}collector: no health route \(HTTP 404\); TLS and client certificate accepted/m,
  );
  const refused = await check(bad);
  assertEquals(refused.code, EXIT.config, refused.out);
  assertMatch(refused.out, /^FAIL {2}collector: the collector refused our credentials: HTTP 400/m);
  assertEquals((await nginx.log()).every((l) => l.startsWith("GET ")), true, "never a PUT");
});

Deno.test("check exits 75 when the collector is down or answers 503, and --offline skips it", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  const server = await startFaultServer(pki, () => ({ status: 503 }));
  try {
    const dataRoot = join(tmp.path, "data");
    await Deno.mkdir(dataRoot);
    const down = await writeConfig(
      tmp.path,
      shipperConfig({ dataRoot, url: server.url, pki }),
      "down.toml",
    );
    const busy = await check(down);
    assertEquals(busy.code, EXIT.tempFail, busy.out);
    assertMatch(busy.out, /^FAIL {2}collector: the collector is not available: HTTP 503/m);
    const offline = await check(down, true);
    assertEquals(offline.code, EXIT.ok, offline.out);
    assertMatch(offline.out, /^skip {2}collector: --offline: no round trip$/m);
  } finally {
    await server.close();
  }
  const closed = await writeConfig(
    tmp.path,
    shipperConfig({ dataRoot: join(tmp.path, "data"), url: "https://127.0.0.1:9", pki }),
    "closed.toml",
  );
  const run = await runCli(["check", "--config", closed]);
  assertEquals(run.code, EXIT.tempFail, run.stdout + run.stderr);
  assertMatch(run.stdout, /^FAIL {2}collector: cannot reach https:\/\/127\.0\.0\.1:9/m);
});

Deno.test("check exits 78 with one failed step for a broken config", async () => {
  await using tmp = await tempDir();
  const path = await writeConfig(tmp.path, `host_id = "lab-01"\n`);
  const run = await runCli(["check", "--config", path]);
  assertEquals(run.code, EXIT.config);
  assertEquals(run.stdout, `FAIL  config: ${path}: receiver.url: required\n`);
});
