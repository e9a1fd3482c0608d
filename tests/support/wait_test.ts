/** The shared wait helper fails as soon as the child it waits on misbehaves, instead of hanging. */
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import { join } from "node:path";
import { spawnCli } from "../../devkit/cli.ts";
import { makeEpisode, tempDir } from "../../devkit/fixtures.ts";
import { startFaultServer } from "./fault_server.ts";
import { makeLab } from "./lab.ts";
import { sharedPki } from "./shared_pki.ts";
import { waitFor } from "./wait.ts";

Deno.test("waitFor() fails at once, naming the child, when a spawned child exits first", async () => {
  await using tmp = await tempDir();
  const pki = await sharedPki();
  using holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (holder.addr as Deno.NetAddr).port;
  const config = join(tmp.path, "c.toml");
  await Deno.writeTextFile(
    config,
    `listen = "127.0.0.1:${port}"\nstore_dir = "${
      join(tmp.path, "s")
    }"\n[tls]\ncert = "${pki.serverCert}"\nkey = "${pki.serverKey}"\nclient_ca = "${pki.ca}"\n`,
  );
  const collector = spawnCli(["collector", "--config", config], { expectErrors: true });
  try {
    const error = await assertRejects(() => waitFor("the collector listening", () => false));
    assertMatch(
      (error as Error).message,
      /^Never happened: the collector listening: cis490-ship collector --config .* exited with code 78\n.*address in use/,
    );
  } finally {
    await collector.stop();
  }
});

Deno.test("waitFor() fails at once when a spawned child logs an error, unless the test expects errors", async () => {
  const pki = await sharedPki();
  const server = await startFaultServer(pki, () => ({ status: 403, body: "go away" }));
  try {
    await using lab = await makeLab({ url: server.url, pki, shipper: "scan_interval_s = 0.1" });
    await makeEpisode(lab.dataRoot, "ep-1");
    const daemon = spawnCli(["--config", lab.configPath]);
    try {
      const error = await assertRejects(() => waitFor("ep-1 shipped", () => false));
      assertMatch(
        (error as Error).message,
        /logged an error: .*ERROR collector refused our credentials/,
      );
      assertEquals(daemon.problem()?.startsWith("logged an error"), true);
    } finally {
      await daemon.stop();
    }
    const expecting = spawnCli(["--config", lab.configPath], { expectErrors: true });
    try {
      await waitFor("the pause logged", () => expecting.stderrSoFar().includes("ERROR collector"));
      assertEquals(expecting.problem(), null);
    } finally {
      assert((await expecting.stop()).code === 0);
    }
  } finally {
    await server.close();
  }
});
