/** The command line as an operator meets it: main.ts under the build's permission flags. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { cliCommand, runCli, spawnCli } from "../../devkit/cli.ts";
import { waitFor } from "../support/wait.ts";
import { makeEpisode, names, shipperConfig, tempDir, writeConfig } from "../../devkit/fixtures.ts";
import { makeLab } from "../support/lab.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { EXIT } from "../../src/cli/args.ts";
import { VERSION } from "../../src/version.ts";

Deno.test("cis490-ship --version and --help answer and exit 0", async () => {
  const version = await runCli(["--version"]);
  assertEquals(version.code, 0);
  assertEquals(version.stderr, "");
  // From source the commit is read from .git; the binary has it baked in.
  assertMatch(version.stdout, new RegExp(`^cis490-ship ${VERSION} \\(commit [^)]+\\)\n$`));
  const help = await runCli(["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /^Usage:\n {2}cis490-ship \[--config PATH\] \[--once\]/m);
  assertMatch(
    (await runCli(["collector", "--help"])).stdout,
    /^Usage: cis490-ship collector --config PATH/,
  );
});

Deno.test("cis490-ship exits 2 on a usage error, saying what is wrong", async () => {
  const run = await runCli(["--onse"]);
  assertEquals(run.code, EXIT.usage);
  assertMatch(
    run.stderr,
    /^cis490-ship: Unknown option '--onse'.*\nRun "cis490-ship --help" for usage\.\n$/,
  );
});

Deno.test("cis490-ship exits 78 on a config error with one line, touching no data", async () => {
  await using tmp = await tempDir();
  const dataRoot = join(tmp.path, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  await makeEpisode(dataRoot, "ep-1");
  const config = await writeConfig(
    tmp.path,
    `host_id = "lab-01"\n[paths]\ndata_root = "${dataRoot}"\n`,
  );
  const run = await runCli(["--once", "--config", config]);
  assertEquals(run.code, EXIT.config);
  assertEquals(run.stdout, "");
  assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
  assertMatch(
    run.stderr,
    new RegExp(`ERROR ${config.replaceAll(".", "\\.")}: receiver\\.url: required\n$`),
  );
  assertEquals(await names(dataRoot), ["episodes"], "no outbox, no lock file");

  const missingRoot = await writeConfig(
    tmp.path,
    shipperConfig({ dataRoot: join(tmp.path, "nope"), url: "https://127.0.0.1:9" }),
    "b.toml",
  );
  const second = await runCli(["--once", "--config", missingRoot]);
  assertEquals(second.code, EXIT.config);
  assertMatch(second.stderr, /b\.toml: paths\.data_root: ".*nope" is not an existing directory/);
});

Deno.test("cis490-ship reads $CIS490_CONFIG when --config is not given", async () => {
  const run = await runCli(["--once"], { env: { CIS490_CONFIG: "/nonexistent/from-env.toml" } });
  assertEquals(run.code, EXIT.config);
  assertMatch(run.stderr, /\/nonexistent\/from-env\.toml: file not found/);
});

Deno.test("cis490-ship refuses to race another instance on the same data_root", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  await makeEpisode(lab.dataRoot, "ep-1");
  const lockFile = join(lab.dataRoot, ".cis490-ship.lock");
  using held = await Deno.open(lockFile, { write: true, create: true });
  assert(await held.tryLock(true));
  await held.write(new TextEncoder().encode("4242\n"));
  const run = await lab.once();
  assertEquals(run.code, EXIT.tempFail);
  assertMatch(run.stderr, new RegExp(`another cis490-ship \\(pid 4242\\) holds ${lab.dataRoot}`));
  assertEquals(await names(lab.layout.episodes), ["ep-1"]);
  assertEquals(await names(lab.layout.outbox), []);
});

Deno.test("cis490-ship logs JSON lines with --log-format json and journald priorities under $JOURNAL_STREAM", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9", verifyTls: false });
  const json = await runCli(["--once", "--log-format", "json", "--config", lab.configPath]);
  const lines = json.stderr.trim().split("\n");
  assert(lines.length >= 1);
  for (const line of lines) assertEquals(typeof JSON.parse(line).msg, "string");
  const journal = await lab.once({ JOURNAL_STREAM: "8:1234" });
  assertMatch(journal.stderr, /^<4>.*receiver\.verify_tls: false/m);
});

Deno.test("cis490-ship as a service ships on its own and exits 0 on SIGTERM", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201 }));
  try {
    await using lab = await makeLab({ url: server.url, pki, shipper: "scan_interval_s = 0.2" });
    const daemon = spawnCli(["--config", lab.configPath]);
    await makeEpisode(lab.dataRoot, "ep-1");
    await waitFor("ep-1 shipped", async () => (await names(lab.layout.shipped)).length === 1);
    assertEquals(await names(lab.layout.shipped), ["ep-1"]);
    await makeEpisode(lab.dataRoot, "ep-2");
    await waitFor("ep-2 shipped", async () => (await names(lab.layout.shipped)).length === 2);
    const status = await daemon.stop("SIGTERM");
    assertEquals(status.code, 0);
    assertEquals(await names(lab.layout.shipped), ["ep-1", "ep-2"]);
    assertMatch(await daemon.stderr, /INFO stopped/);
    assertEquals(server.requests.length, 2);
  } finally {
    await server.close();
  }
});

Deno.test("cis490-ship as a service stops on SIGTERM mid-upload: grace period, then abort, exit 0, state consistent, attempt not counted", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ hang: true }));
  try {
    await using lab = await makeLab({
      url: server.url,
      pki,
      shipper: "scan_interval_s = 0.2\nstop_grace_s = 0.5",
    });
    await makeEpisode(lab.dataRoot, "ep-1");
    const daemon = spawnCli(["--config", lab.configPath]);
    await waitFor("the upload in flight", () => server.requests.length > 0);
    assertEquals(server.requests.length, 1, "the upload is in flight");
    const status = await daemon.stop("SIGTERM");
    assertEquals(status.code, 0);
    assertMatch(await daemon.stderr, /stop grace period over: aborting the upload in flight/);
    assertEquals(await names(lab.layout.episodes), ["ep-1"]);
    assertEquals(await names(lab.layout.outbox), ["ep-1.state.json", "ep-1.tar.gz"]);
    assertEquals((await lab.state("ep-1"))?.attempts, 0);
  } finally {
    await server.close();
  }
});

Deno.test("cis490-ship as a service reloads its config on SIGHUP, and keeps the old one when the new one is broken", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 201 }));
  try {
    await using lab = await makeLab({ url: server.url, pki, shipper: "scan_interval_s = 0.1" });
    const good = await Deno.readTextFile(lab.configPath);
    const child = new Deno.Command(Deno.execPath(), {
      args: cliCommand(["--config", lab.configPath]),
      clearEnv: true,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) log += decoder.decode(chunk, { stream: true });
    })();
    await waitFor("the service started", () => log.includes("INFO started"));

    await Deno.writeTextFile(lab.configPath, good + "\n[receiver\n"); // malformed TOML
    child.kill("SIGHUP");
    await waitFor("the broken reload reported", () => log.includes("config reload failed"));
    assertMatch(
      log,
      /ERROR config reload failed; keeping the old config: .*lab-host\.toml: line \d+/,
    );
    await makeEpisode(lab.dataRoot, "ep-1");
    await waitFor(
      "ep-1 shipped with the old config",
      async () => (await names(lab.layout.shipped)).includes("ep-1"),
    );

    await Deno.writeTextFile(
      lab.configPath,
      good.replace("[shipper]", 'bearer_token = "tok-2"\n\n[shipper]'),
    );
    child.kill("SIGHUP");
    await waitFor("the good reload", () => log.includes("INFO config reloaded"));
    await makeEpisode(lab.dataRoot, "ep-2");
    await waitFor("ep-2 shipped", async () => (await names(lab.layout.shipped)).includes("ep-2"));

    child.kill("SIGTERM");
    assertEquals((await child.status).code, 0);
    await reading;
    assertEquals(server.requests.map((r) => r.headers.authorization ?? null), [
      null,
      "Bearer tok-2",
    ]);
    assert(!log.includes("tok-2"), "the new token is redacted too");
  } finally {
    await server.close();
  }
});
