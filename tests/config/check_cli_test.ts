/**
 * `cis490-ship check` through the real CLI under the binary's flags: every `ok` is true, and its
 * verdict on each refusal the suite knows is the verdict `--once` reaches.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { cliCommand, type CliResult, runCli } from "../../devkit/cli.ts";
import { makeEpisode, names, shipperConfig, tempDir, writeConfig } from "../../devkit/fixtures.ts";
import { makeRogueClients, type Pki } from "../../devkit/pki.ts";
import { nginxPath, startNginx } from "../../devkit/nginx.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startCollectorProcess } from "../support/collector.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { waitFor } from "../support/wait.ts";
import { EXIT } from "../../src/cli/args.ts";

/** What `check --json` prints. */
interface CheckJson {
  exit: number;
  steps: { step: string; verdict: string; class?: string; message: string }[];
}

async function checkJson(config: string, env: Record<string, string> = {}): Promise<CheckJson> {
  const run = await runCli(["check", "--json", "--config", config], { env });
  let parsed: CheckJson;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    throw new Error(`check --json printed no JSON (exit ${run.code}): ${run.stdout}${run.stderr}`);
  }
  assertEquals(parsed.exit, run.code, "the JSON names the exit code");
  return parsed;
}

/** The outcome class `--once` reached, read from its exit code and its loud log line. */
function onceClass(run: CliResult): string {
  if (run.code === EXIT.ok) return "stored";
  if (run.code === EXIT.tempFail) return "transient";
  if (run.code !== EXIT.config) return `exit ${run.code}`;
  if (/refused our credentials/.test(run.stderr)) return "credentials";
  if (/URL or collector configuration is wrong/.test(run.stderr)) return "misconfigured";
  return "config";
}

/** The class of check's first failing step (or "stored" when all is well). */
function checkClass(result: CheckJson): string {
  const failed = result.steps.find((s) => s.verdict === "fail");
  return failed ? failed.class ?? "unclassified" : "stored";
}

interface Host {
  dir: string;
  dataRoot: string;
  config: (spec?: {
    hostId?: string;
    url?: string;
    caBundle?: string;
    client?: { cert: string; key: string } | null;
    token?: string;
  }) => Promise<string>;
}

async function host(dir: string, pki: Pki, url: string): Promise<Host> {
  const dataRoot = join(dir, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  let n = 0;
  return {
    dir,
    dataRoot,
    config: async (spec = {}) => {
      let text = shipperConfig({
        dataRoot,
        url: spec.url ?? url,
        pki,
        ...(spec.hostId !== undefined && { hostId: spec.hostId }),
        ...(spec.caBundle !== undefined && { caBundle: spec.caBundle }),
        ...(spec.token !== undefined && { bearerToken: spec.token }),
        noClientCert: spec.client !== undefined,
      });
      if (spec.client) {
        text = text.replace(
          "[shipper]",
          `client_cert = "${spec.client.cert}"\nclient_key = "${spec.client.key}"\n\n[shipper]`,
        );
      }
      return await writeConfig(dir, text, `lab-host-${++n}.toml`);
    },
  };
}

/** Objects the reference collector stored (its `.incoming` holds partial uploads only). */
async function storedObjects(storeDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.name === ".incoming") continue;
      if (e.isDirectory) await walk(join(dir, e.name), `${rel}${e.name}/`);
      else found.push(rel + e.name);
    }
  };
  await walk(storeDir, "").catch(() => {});
  return found;
}

Deno.test("check: every refusal gets the verdict --once reaches, and the probe stores nothing", async () => {
  assert(await nginxPath(), "nginx is not installed");
  const pki = await sharedPki();
  const rogue = await makeRogueClients(pki, "lab-01");
  await using tmp = await tempDir();
  await Deno.mkdir(join(tmp.path, "collector"));
  await using collector = await startCollectorProcess(
    join(tmp.path, "collector"),
    pki,
    '[auth]\nbearer_token = "right-token"',
  );
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki);
  const plain = (url: string) => url.replace(/^https:/, "http:");
  const cases: {
    name: string;
    url: string;
    spec: Parameters<Host["config"]>[0];
    expect: string;
  }[] = [
    {
      name: "all good (collector)",
      url: collector.url,
      spec: { token: "right-token" },
      expect: "stored",
    },
    { name: "all good (nginx)", url: nginx.url, spec: {}, expect: "stored" },
    {
      name: "collector certificate from an unknown CA",
      url: collector.url,
      spec: { caBundle: pki.otherCa, token: "right-token" },
      expect: "transient",
    },
    {
      name: "client certificate from another CA",
      url: collector.url,
      spec: { client: rogue.otherCa, token: "right-token" },
      expect: "credentials",
    },
    {
      name: "client certificate from another CA (nginx)",
      url: nginx.url,
      spec: { client: rogue.otherCa },
      expect: "credentials",
    },
    {
      name: "expired client certificate",
      url: collector.url,
      spec: { client: rogue.expired, token: "right-token" },
      expect: "credentials",
    },
    {
      name: "no client certificate",
      url: collector.url,
      spec: { client: null, token: "right-token" },
      expect: "credentials",
    },
    {
      name: "no client certificate (nginx)",
      url: nginx.url,
      spec: { client: null },
      expect: "credentials",
    },
    {
      name: "wrong token",
      url: collector.url,
      spec: { token: "wrong-token" },
      expect: "credentials",
    },
    {
      name: "wrong URL prefix",
      url: collector.url + "/ingest",
      spec: { token: "right-token" },
      expect: "misconfigured",
    },
    {
      name: "wrong URL prefix (nginx)",
      url: nginx.url + "/ingest",
      spec: {},
      expect: "misconfigured",
    },
    {
      name: "http:// to the HTTPS port (nginx)",
      url: plain(nginx.url),
      spec: {},
      expect: "misconfigured",
    },
    {
      name: "host_id not in the client certificate",
      url: collector.url,
      spec: { hostId: "lab-02", client: pki.client("lab-01"), token: "right-token" },
      expect: "credentials",
    },
  ];
  for (const [i, c] of cases.entries()) {
    await Deno.mkdir(join(tmp.path, `host-${i}`));
    const lab = await host(join(tmp.path, `host-${i}`), pki, c.url);
    const config = await lab.config(c.spec);
    const before = [
      await storedObjects(collector.storeDir),
      await names(join(nginx.root, "v1", "episodes", "lab-01")),
    ];
    const check = await checkJson(config);
    assertEquals(checkClass(check), c.expect, `${c.name}: check said ${JSON.stringify(check)}`);
    assertEquals(
      [
        await storedObjects(collector.storeDir),
        await names(join(nginx.root, "v1", "episodes", "lab-01")),
      ],
      before,
      `${c.name}: check stored nothing`,
    );
    await makeEpisode(lab.dataRoot, `ep-${i}`);
    const once = await runCli(["--once", "--config", config]);
    assertEquals(onceClass(once), c.expect, `${c.name}: --once said ${once.code} ${once.stderr}`);
    assertEquals(check.exit, once.code, `${c.name}: same exit code`);
  }
});

Deno.test("check reports a host_id its client certificate does not name, as the collector would", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const lab = await host(tmp.path, pki, collector.url);
  const config = await lab.config({ hostId: "lab-02", client: pki.client("lab-01") });
  const run = await runCli(["check", "--config", config]);
  assertEquals(run.code, EXIT.config, run.stdout);
  assertMatch(
    run.stdout,
    /^FAIL {2}host id: host_id "lab-02" is not a name of the client certificate "CN=lab-01" \(its names: lab-01\): the collector refuses every upload \(403\)$/m,
  );
});

Deno.test("check reports a wrong URL prefix behind nginx and against the collector, storing nothing", async () => {
  assert(await nginxPath(), "nginx is not installed");
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  await using nginx = await startNginx(join(tmp.path, "nginx"), pki);
  for (const url of [nginx.url + "/wrong", collector.url + "/wrong"]) {
    const lab = await host(tmp.path, pki, url);
    const run = await runCli(["check", "--config", await lab.config()]);
    assertEquals(run.code, EXIT.config, run.stdout);
    assertMatch(run.stdout, /^FAIL {2}collector: .*HTTP 40[45].*check receiver\.url/m);
  }
  for (const url of [nginx.url, collector.url]) {
    const lab = await host(tmp.path, pki, url);
    const run = await runCli(["check", "--config", await lab.config()]);
    assertEquals(run.code, EXIT.ok, run.stdout);
  }
  assertEquals(await storedObjects(collector.storeDir), []);
  assertEquals(await names(join(nginx.root, "v1", "episodes", "lab-01")), []);
  assert(
    (await nginx.log()).some((l) => l.startsWith("PUT /v1/episodes/lab-01/")),
    "probed by PUT",
  );
});

Deno.test("check: an http:// URL on the collector's HTTPS port is a config error naming https://", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const lab = await host(tmp.path, pki, collector.url.replace("https:", "http:"));
  const run = await runCli(["check", "--config", await lab.config()]);
  assertEquals(run.code, EXIT.config, run.stdout);
  assertMatch(run.stdout, /^FAIL {2}collector: .*receiver\.url must start with https:\/\//m);
});

Deno.test("check flags the template's placeholder values", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  const lab = await host(tmp.path, pki, "https://collector.example.org:8443");
  const config = await lab.config({ hostId: "change-me", client: pki.client("lab-01") });
  const run = await runCli(["check", "--offline", "--config", config]);
  assertEquals(run.code, EXIT.config, run.stdout);
  assertMatch(run.stdout, /^FAIL {2}config: .*host_id: "change-me" is the template's placeholder/m);
  assertMatch(
    run.stdout,
    /^FAIL {2}config: .*receiver\.url: "https:\/\/collector\.example\.org:8443" is the template's placeholder/m,
  );
});

Deno.test('check names a combined client_cert PEM as the key\'s file, never "undefined"', async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  const lab = pki.client("lab-01");
  const combined = join(tmp.path, "combined.pem");
  await Deno.writeTextFile(
    combined,
    (await Deno.readTextFile(lab.cert)) + (await Deno.readTextFile(lab.key)),
    { mode: 0o600 },
  );
  const h = await host(tmp.path, pki, "https://127.0.0.1:9");
  const config = await h.config({ client: { cert: combined, key: "" } });
  const text = (await Deno.readTextFile(config)).replace(/^client_key = .*\n/m, "");
  await Deno.writeTextFile(config, text);
  const run = await runCli(["check", "--offline", "--config", config]);
  assertEquals(run.code, EXIT.ok, run.stdout);
  assert(!run.stdout.includes("undefined"), run.stdout);
  assertMatch(
    run.stdout,
    /^ok {4}client key: the key in ".*combined\.pem" matches the certificate$/m,
  );
});

Deno.test("check names bearer_token_file in its hint when the token comes from a file", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(
    tmp.path,
    pki,
    '[auth]\nbearer_token = "right"',
  );
  const h = await host(tmp.path, pki, collector.url);
  const tokenFile = join(tmp.path, "token");
  await Deno.writeTextFile(tokenFile, "wrong\n", { mode: 0o600 });
  const config = await h.config();
  await Deno.writeTextFile(
    config,
    (await Deno.readTextFile(config)).replace(
      "[shipper]",
      `bearer_token_file = "${tokenFile}"\n\n[shipper]`,
    ),
  );
  const run = await runCli(["check", "--config", config]);
  assertEquals(run.code, EXIT.config, run.stdout);
  assertMatch(run.stdout, /^FAIL {2}collector: .*HTTP 401.*receiver\.bearer_token_file/m);
  assert(!/receiver\.bearer_token[^_]/.test(run.stdout), run.stdout);
});

Deno.test("check --json prints one object with every step and the exit code", async () => {
  const pki = await sharedPki();
  await using tmp = await tempDir();
  await using collector = await startCollectorProcess(tmp.path, pki);
  const h = await host(tmp.path, pki, collector.url);
  const result = await checkJson(await h.config());
  assertEquals(result.exit, EXIT.ok);
  const steps = result.steps.map((s) => `${s.verdict} ${s.step}`);
  for (const step of ["ok config", "ok data root", "ok host id", "ok collector"]) {
    assert(steps.includes(step), steps.join(", "));
  }
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`check stops on ${signal} during the round trip with exit ${code}`, async () => {
    const pki = await sharedPki();
    await using tmp = await tempDir();
    const server = await startFaultServer(pki, () => ({ hang: true }));
    try {
      const h = await host(tmp.path, pki, server.url);
      const config = await h.config();
      // Were the signal ignored, the round trip would end by this timeout (exit 75), not by it.
      await Deno.writeTextFile(
        config,
        (await Deno.readTextFile(config)).replace(
          "request_timeout_s = 5.0",
          "request_timeout_s = 30.0",
        ),
      );
      // Not spawnCli(): it stops reading stdout after the first line, and check prints several.
      const child = new Deno.Command(Deno.execPath(), {
        args: cliCommand(["check", "--config", config]),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = Promise.all([child.stdout, child.stderr].map((s) => new Response(s).text()));
      await waitFor("the probe reached the server", () => server.connections > 0);
      child.kill(signal);
      const status = await child.status;
      const [stdout = "", stderr = ""] = await output;
      assertEquals(status.code, code, `${stdout}${stderr}`);
      assertMatch(stdout, new RegExp(`^FAIL {2}collector: .*stopped by ${signal}`, "m"));
    } finally {
      await server.close();
    }
  });
}

Deno.test({
  name:
    "check and --once agree on an http:// URL to the collector's HTTPS port: a configuration error (78), not a retry",
  fn: async () => {
    const pki = await sharedPki();
    await using tmp = await tempDir();
    await using collector = await startCollectorProcess(tmp.path, pki);
    const lab = await host(tmp.path, pki, collector.url.replace("https:", "http:"));
    const config = await lab.config();
    const check = await checkJson(config);
    await makeEpisode(lab.dataRoot, "ep-1");
    const once = await runCli(["--once", "--config", config]);
    assertEquals([checkClass(check), onceClass(once)], ["misconfigured", "misconfigured"]);
  },
});

Deno.test("--once and check report every config problem at once, one line each, exit 78", async () => {
  await using tmp = await tempDir();
  const dataRoot = join(tmp.path, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  await makeEpisode(dataRoot, "ep-1");
  const config = await writeConfig(
    tmp.path,
    `host_id = "lab 01"\n[paths]\ndata_root = "${dataRoot}"\n[receiver]\nurl = "ftp://c"\n` +
      `bearer_token = "a\\u0000b"\n[shipper]\nupload_concurrency = 0\n`,
  );
  const problems = [
    /host_id: "lab 01" must match/,
    /receiver\.url: must start with https:\/\//,
    /shipper\.upload_concurrency: must be an integer from 1 to 16, got 0/,
    /receiver\.bearer_token: holds a control character at position 2/,
  ];
  const once = await runCli(["--once", "--config", config]);
  assertEquals(once.code, EXIT.config, once.stderr);
  const lines = once.stderr.trim().split("\n");
  assertEquals(lines.length, problems.length, once.stderr);
  problems.forEach((p, i) =>
    assertMatch(lines[i] ?? "", new RegExp(`ERROR ${config}: ${p.source}`))
  );
  const check = await runCli(["check", "--config", config]);
  assertEquals(check.code, EXIT.config, check.stdout);
  const fails = check.stdout.trim().split("\n");
  assertEquals(fails.length, problems.length, check.stdout);
  problems.forEach((p, i) =>
    assertMatch(fails[i] ?? "", new RegExp(`^FAIL {2}config: ${config}: ${p.source}`))
  );
  assertEquals(await names(join(dataRoot, "episodes")), ["ep-1"], "nothing touched");
});
