/** `check`'s pure parts: the config's judgments, the probe's judgments, the exit code. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { shipperConfig, tempDir, writeConfig } from "../../devkit/fixtures.ts";
import { makeRogueClients } from "../../devkit/pki.ts";
import { nginxPath, startNginx } from "../../devkit/nginx.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { judgeCertificateDates, judgeConfig } from "../../src/config/judge_config.ts";
import { loadConfig } from "../../src/config/config.ts";
import type { CheckStep } from "../../src/config/check_step.ts";
import { judgeProbe, type ProbeContext } from "../../src/upload/judge_probe.ts";
import { type Observation, probeCollector, type ProbeResult } from "../../src/upload/probe.ts";
import { checkExitCode, runCheck } from "../../src/cli/check.ts";
import { EXIT } from "../../src/cli/args.ts";
import { createLogger } from "../../src/log/log.ts";

const DAY = 86_400_000;
const URL_ = "https://collector.example";
const CTX: ProbeContext = {
  url: URL_,
  tokenKey: "receiver.bearer_token",
  hasToken: true,
  secrets: ["s3cret"],
};

const answer = (status: number, body = ""): Observation => ({
  kind: "answer",
  status,
  body,
  headers: {},
});
const health = (seen: Observation): ProbeResult => ({ health: seen, sentCert: true });
const put = (seen: Observation): ProbeResult => ({
  health: answer(404, "not found"),
  put: { path: "/v1/episodes/lab-01/cis490-ship-check-1.tar.gz", seen },
  sentCert: true,
});

Deno.test("judgeProbe() judges every answer with the upload classifier's class", () => {
  const cases: [ProbeResult, string, string | undefined, RegExp][] = [
    [
      health(answer(200, "ok CN=lab-01")),
      "ok",
      undefined,
      /answered HTTP 200 OK: ok CN=lab-01: TLS/,
    ],
    [health(answer(401, "wrong token")), "fail", "credentials", /check receiver\.bearer_token$/],
    [health(answer(403)), "fail", "credentials", /refused this host's credentials/],
    [health(answer(495)), "fail", "credentials", /client certificate/],
    [health(answer(496)), "fail", "credentials", /none was sent/],
    [
      health(answer(400, "<title>400 The SSL certificate error</title>")),
      "fail",
      "credentials",
      /rejected our TLS client certificate/,
    ],
    [
      health(answer(400, "The plain HTTP request was sent to HTTPS port")),
      "fail",
      "misconfigured",
      /receiver\.url must start with https:\/\//,
    ],
    [health(answer(301)), "fail", "misconfigured", /redirects/],
    [health(answer(421)), "fail", "misconfigured", /check receiver\.url/],
    [health(answer(503, "down")), "fail", "transient", /HTTP 503 Service Unavailable: down/],
    [health(answer(429)), "fail", "transient", /not available now/],
    [
      health({
        kind: "failure",
        code: "ECONNREFUSED",
        message: "connect ECONNREFUSED",
        tlsReply: false,
      }),
      "fail",
      "transient",
      /network failure/,
    ],
    [
      health({
        kind: "failure",
        code: "SELF_SIGNED_CERT_IN_CHAIN",
        message: "self-signed certificate in certificate chain",
        tlsReply: false,
      }),
      "fail",
      "transient",
      /cannot verify the collector's TLS certificate: check receiver\.ca_bundle/,
    ],
    [
      health({
        kind: "failure",
        message: "received fatal alert: CertificateRequired",
        tlsReply: false,
      }),
      "fail",
      "credentials",
      /requires a TLS client certificate/,
    ],
    [
      health({
        kind: "failure",
        code: "HPE_INVALID_CONSTANT",
        message: "Parse Error",
        tlsReply: true,
      }),
      "fail",
      "misconfigured",
      /answered in TLS; likely cause: plain HTTP was sent to an HTTPS port: receiver\.url must start with https:\/\//,
    ],
    [health({ kind: "aborted" }), "fail", "stopped", /stopped by a signal/],
    [
      put({ kind: "continue" }),
      "ok",
      undefined,
      /would be received \(100 Continue\); nothing was sent/,
    ],
    [
      put(answer(405, "<html>405 Not Allowed</html>")),
      "fail",
      "misconfigured",
      /check receiver\.url/,
    ],
    [put(answer(404)), "fail", "misconfigured", /no such path on the collector/],
    [put(answer(409)), "ok", undefined, /already has the probe episode/],
    [put(answer(412, "commit not allowed")), "ok", undefined, /judged the probe episode itself/],
    [put(answer(401)), "fail", "credentials", /bearer token/],
    [put(answer(403)), "fail", "credentials", /credentials/],
  ];
  for (const [result, verdict, cls, pattern] of cases) {
    const [step] = judgeProbe(result, CTX);
    assert(step);
    assertEquals([step.verdict, step.class], [verdict, cls], JSON.stringify(result));
    assertMatch(step.message, pattern);
  }
});

Deno.test("judgeProbe() names bearer_token_file in hints, never prints the token, and says what it could not verify", () => {
  const ctx = { ...CTX, tokenKey: "receiver.bearer_token_file" };
  const [step] = judgeProbe(health(answer(401, "token s3cret is wrong")), ctx);
  assertMatch(step?.message ?? "", /check receiver\.bearer_token_file$/);
  assert(!step?.message.includes("s3cret"), step?.message);
  const steps = judgeProbe(put({ kind: "continue" }), ctx);
  assertEquals(steps.map((s) => `${s.verdict} ${s.step}`), ["ok collector", "warn bearer token"]);
  assertMatch(steps[1]?.message ?? "", /^not verified \(receiver\.bearer_token_file\)/);
  assertEquals(judgeProbe(put({ kind: "continue" }), { ...ctx, hasToken: false }).length, 1);
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

Deno.test("checkExitCode() is the signal's, else 78 for config, credentials or URL, 75 transient, else 0", () => {
  const s = (verdict: CheckStep["verdict"], cls?: CheckStep["class"]): CheckStep => ({
    step: "x",
    verdict,
    ...(cls && { class: cls }),
    message: "",
  });
  assertEquals(checkExitCode([s("ok"), s("warn"), s("skip")]), EXIT.ok);
  assertEquals(checkExitCode([s("ok"), s("fail", "transient")]), EXIT.tempFail);
  assertEquals(checkExitCode([s("fail", "credentials"), s("fail", "transient")]), EXIT.config);
  assertEquals(checkExitCode([s("fail", "misconfigured")]), EXIT.config);
  assertEquals(checkExitCode([s("fail", "config")]), EXIT.config);
  assertEquals(checkExitCode([s("fail", "config"), s("fail", "stopped")], "SIGINT"), 130);
  assertEquals(checkExitCode([s("fail", "stopped")], "SIGTERM"), 143);
});

Deno.test("judgeConfig() binds host_id to the client certificate's CN or DNS SAN, as the collector does", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  const dataRoot = join(tmp.path, "data");
  for (const [hostId, verdict] of [["lab-01", "ok"], ["lab-02", "fail"]] as const) {
    const text = shipperConfig({ dataRoot, url: URL_, pki, hostId, noClientCert: true }).replace(
      "[shipper]",
      `client_cert = "${pki.client("lab-01").cert}"\nclient_key = "${
        pki.client("lab-01").key
      }"\n[shipper]`,
    );
    const { config } = await loadConfig(await writeConfig(tmp.path, text), {
      env: () => undefined,
    });
    const step = judgeConfig(config, { now: Date.now() }).find((s) => s.step === "host id");
    assertEquals(step?.verdict, verdict, step?.message);
  }
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

async function configs(dir: string, url: string) {
  const pki = await sharedPki();
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
  const { good, bad } = await configs(tmp.path, collector.url);
  const ok = await check(good);
  assertEquals(ok.code, EXIT.ok, ok.out);
  assertMatch(ok.out, /^ok {4}config: .*good\.toml: host lab-01/m);
  assertMatch(
    ok.out,
    /^ok {4}trust: the collector's certificate is verified against ".*ca\.pem"$/m,
  );
  assertMatch(ok.out, /^ok {4}client certificate dates: "CN=lab-01" valid until/m);
  assertMatch(ok.out, /^ok {4}client key: ".*client-lab-01\.key" matches the certificate$/m);
  assertMatch(ok.out, /^ok {4}host id: host_id "lab-01" is a name of the client certificate/m);
  assertMatch(ok.out, /^ok {4}collector: GET .*\/v1\/health answered HTTP 200 OK: ok CN=lab-01/m);
  const refused = await check(bad);
  assertEquals(refused.code, EXIT.config, refused.out);
  assertMatch(
    refused.out,
    /^FAIL {2}collector: GET .*\/v1\/health answered HTTP 495.*"CN=lab-01" not accepted.*; likely cause: the collector rejected our TLS client certificate/m,
  );
});

Deno.test("check passes against nginx by a PUT closed before its body, and fails a certificate from another CA", async () => {
  assert(await nginxPath(), "nginx is not installed");
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki);
  const { good, bad } = await configs(tmp.path, nginx.url);
  const ok = await check(good);
  assertEquals(ok.code, EXIT.ok, ok.out);
  assertMatch(
    ok.out,
    /^ok {4}collector: PUT \/v1\/episodes\/lab-01\/cis490-ship-check-[0-9a-f]+\.tar\.gz \(Expect: 100-continue, no body\) would be received \(100 Continue\); nothing was sent$/m,
  );
  const refused = await check(bad);
  assertEquals(refused.code, EXIT.config, refused.out);
  assertMatch(
    refused.out,
    /^FAIL {2}collector: GET .* answered HTTP 400 Bad Request: .*SSL certificate error/m,
  );
  const log = await nginx.log();
  assert(log.every((l) => !/ 20[0-9] /.test(l)), `nothing stored: ${log.join("\n")}`);
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
    assertMatch(
      busy.out,
      /^FAIL {2}collector: GET .* answered HTTP 503 Service Unavailable: the collector is not available now/m,
    );
    const offline = await check(down, true);
    assertEquals(offline.code, EXIT.ok, offline.out);
    assertMatch(offline.out, /^skip {2}collector: --offline: no round trip$/m);
  } finally {
    await server.close();
  }
});

Deno.test("probeCollector()'s upload request stores nothing on the reference collector, even when admitted", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const { good } = await configs(tmp.path, collector.url);
  const { config } = await loadConfig(good, { env: () => undefined });
  const result = await probeCollector(config, { health: false, episodeId: "probe-1" });
  assertEquals(result.put?.seen, { kind: "continue" }, "admitted: it waits for the body");
  assertEquals(result.put?.path, "/v1/episodes/lab-01/probe-1.tar.gz");
  const { stderr } = await collector.stop();
  // Not even a partial upload in .incoming/: the body never started.
  const walk = async (dir: string): Promise<string[]> => {
    const found: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) found.push(...(await walk(join(dir, e.name))));
      else found.push(join(dir, e.name));
    }
    return found;
  };
  assertEquals(await walk(collector.storeDir), [], stderr);
});
