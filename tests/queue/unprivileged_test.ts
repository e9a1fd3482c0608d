/**
 * The shipper as an unprivileged user (nobody) with an episode it could upload but not move (the
 * directory is not writable, so rename(2) into shipped/ would fail with EACCES): it is held
 * before anything is sent — never uploaded and then stuck — with the fix in the summary and the
 * log; once the operator applies it, the episode ships. (A move that fails after the answer, for
 * any other reason, is the simulator's: invariant 2 of src/queue/mod.ts.)
 *
 * Needs root to create the unprivileged run (setpriv); reported as ignored otherwise.
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeEpisode, names, shipperConfig, tempDir } from "../../devkit/fixtures.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { sh } from "../support/system_user.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import { EXIT } from "../../src/cli/args.ts";

const NOBODY = 65534;
const ROOT_DIR = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** Copies what an unprivileged `deno run main.ts` needs where nobody can read it. */
async function unprivilegedRunner(dir: string) {
  const bin = join(dir, "deno");
  await Deno.copyFile(Deno.execPath(), bin);
  const app = join(dir, "app");
  await Deno.mkdir(app);
  for (const entry of ["main.ts", "deno.json", "deno.lock", "src"]) {
    await sh("cp", ["-r", join(ROOT_DIR, entry), app]);
  }
  const denoDir = join(dir, "deno-dir");
  const cache = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
  await Deno.mkdir(denoDir);
  await sh("cp", ["-r", join(cache, "npm"), denoDir]);
  await sh("chown", ["-R", `${NOBODY}:${NOBODY}`, dir]);
  await Deno.chmod(dir, 0o755);
  return async (args: string[]) => {
    const out = await new Deno.Command("setpriv", {
      args: [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        bin,
        "run",
        "--quiet",
        "--cached-only",
        ...PERMISSION_FLAGS,
        join(app, "main.ts"),
        ...args,
      ],
      clearEnv: true,
      env: { HOME: dir, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  };
}

Deno.test(
  "--once as an unprivileged user holds an episode it could not move, sending nothing, until the fix",
  {
    ignore: Deno.uid() !== 0,
  },
  async () => {
    const pki = await sharedPki();
    const server = await startFaultServer(pki, () => ({ status: 201 }));
    try {
      await using tmp = await tempDir();
      await Deno.chmod(tmp.path, 0o755);
      const run = await unprivilegedRunner(tmp.path);
      const lab = join(tmp.path, "lab");
      const dataRoot = join(lab, "data");
      await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
      const client = pki.client("lab-01");
      for (
        const [from, to] of [[client.cert, "client.pem"], [client.key, "client.key"], [
          pki.ca,
          "ca.pem",
        ]]
      ) {
        await Deno.copyFile(from as string, join(lab, to as string));
      }
      const config = shipperConfig({ url: server.url, dataRoot, pki }).replace(
        /ca_bundle = .*\n/,
        `ca_bundle = "${join(lab, "ca.pem")}"\n`,
      ).replace(/client_cert = .*\n/, `client_cert = "${join(lab, "client.pem")}"\n`)
        .replace(/client_key = .*\n/, `client_key = "${join(lab, "client.key")}"\n`);
      const configPath = join(lab, "lab-host.toml");
      await Deno.writeTextFile(
        configPath,
        config + "upload_concurrency = 1\nbackoff_seconds = [0.01]\n",
      );
      const episode = await makeEpisode(dataRoot, "ep-1");
      await sh("chown", ["-R", `${NOBODY}:${NOBODY}`, lab]);
      await Deno.chmod(join(lab, "client.key"), 0o600);
      await Deno.chmod(configPath, 0o600);
      await Deno.chmod(episode, 0o555);

      const passes = [];
      for (let i = 0; i < 4; i++) passes.push(await run(["--once", "--config", configPath]));
      // Held is not "try again later": --once does not exit 75 for it, over and over.
      for (const pass of passes) assertEquals(pass.code, EXIT.ok, pass.stderr);
      assertEquals(server.requests.length, 0, `nothing sent: ${passes[0]!.stderr}`);
      for (const pass of passes) {
        assertMatch(pass.stdout, /held, needs an operator: ep-1: .* fix: /);
        assertMatch(pass.stderr, /ERROR episode held: .*episode=ep-1 .*fix=/);
      }
      assertEquals(await names(join(dataRoot, "episodes")), ["ep-1"]);
      assertEquals(await names(join(dataRoot, "outbox")), []);

      // The operator fixes the permission: the move finishes, still without sending again.
      await Deno.chmod(episode, 0o755);
      const fixed = await run(["--once", "--config", configPath]);
      assertEquals(fixed.code, EXIT.ok, fixed.stderr);
      assertEquals(server.requests.length, 1, "sent once, after the fix");
      assertEquals(await names(join(dataRoot, "shipped")), ["ep-1"]);
      assertEquals(await names(join(dataRoot, "outbox")), []);
    } finally {
      await server.close();
    }
  },
);
