/**
 * The operator's path: the shipper runs as its own unprivileged user (made with useradd for this
 * run), and an operator runs every command through sudo (as root) between two of its passes. The
 * service must ship on: nothing root creates may lock it out. Root only; ignored otherwise.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { makeEpisode, names, shipperConfig, tempDir } from "../../devkit/fixtures.ts";
import { cliCommand, runCli } from "../../devkit/cli.ts";
import { startFaultServer } from "../support/fault_server.ts";
import { sharedPki } from "../support/shared_pki.ts";
import {
  createSystemUser,
  isRoot,
  portableCli,
  runAs,
  sh,
  type SystemUser,
} from "../support/system_user.ts";
import { EXIT } from "../../src/cli/args.ts";
import { REASON_FILE } from "../../src/layout.ts";

/** The first line a stream carries (all of it when it has no newline); the rest is drained. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (text.includes("\n")) break;
  }
  reader.releaseLock();
  stream.pipeTo(new WritableStream()).catch(() => {});
  return text.split("\n")[0]!;
}

/** Every path under `dir` whose owner is not `uid`, with its owner. */
async function notOwnedBy(dir: string, uid: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string) => {
    const st = await Deno.lstat(path);
    if (st.uid !== uid) out.push(`${path.slice(dir.length) || "/"} (uid ${st.uid})`);
    if (st.isDirectory) {
      for await (const e of Deno.readDir(path)) {
        await walk(join(path, e.name));
      }
    }
  };
  await walk(dir);
  return out;
}

/** A lab laid out as install.sh lays it out: config root:group 0640, data root the user's. */
async function makeServiceLab(dir: string, svc: SystemUser, url: string) {
  const pki = await sharedPki();
  const lab = join(dir, "lab");
  const dataRoot = join(lab, "data");
  await Deno.mkdir(lab, { mode: 0o755 });
  const client = pki.client("lab-01");
  const files = {
    ca: join(lab, "ca.pem"),
    cert: join(lab, "client.pem"),
    key: join(lab, "client.key"),
  };
  await Deno.copyFile(pki.ca, files.ca);
  await Deno.copyFile(client.cert, files.cert);
  await Deno.copyFile(client.key, files.key);
  await sh("chown", [`0:${svc.gid}`, files.ca, files.cert, files.key]);
  await sh("chmod", ["0640", files.ca, files.cert, files.key]);
  const config = shipperConfig({ url, dataRoot, pki })
    .replace(/ca_bundle = .*\n/, `ca_bundle = "${files.ca}"\n`)
    .replace(/client_cert = .*\n/, `client_cert = "${files.cert}"\n`)
    .replace(/client_key = .*\n/, `client_key = "${files.key}"\n`) +
    "upload_concurrency = 1\nbackoff_seconds = [0.01]\n\n[retention]\nkeep_local_for_days = 0\n";
  const configPath = join(lab, "lab-host.toml");
  await Deno.writeTextFile(configPath, config);
  await sh("chown", [`0:${svc.gid}`, configPath]);
  await sh("chmod", ["0640", configPath]);
  await Deno.mkdir(dataRoot, { mode: 0o750 });
  await Deno.mkdir(join(dataRoot, "episodes"));
  await Deno.chmod(join(dataRoot, "episodes"), 0o2770);
  for (const sub of ["outbox", "shipped", "quarantine"]) {
    await Deno.mkdir(join(dataRoot, sub), { mode: 0o750 });
  }
  await sh("chown", ["-R", `${svc.uid}:${svc.gid}`, dataRoot]);
  return { dataRoot, configPath };
}

/** An episode written by the service user's producer (here: the service user itself). */
async function produce(dataRoot: string, id: string, svc: SystemUser, unstamped = false) {
  const dir = await makeEpisode(dataRoot, id, unstamped ? { meta: null } : {});
  await sh("chown", ["-R", `${svc.uid}:${svc.gid}`, dir]);
}

Deno.test(
  "every command run through sudo between two service passes leaves the service shipping",
  { ignore: !isRoot },
  async () => {
    const pki = await sharedPki();
    const server = await startFaultServer(pki, () => ({ status: 201 }));
    await using tmp = await tempDir();
    await Deno.chmod(tmp.path, 0o755);
    await using svc = await createSystemUser("c490s");
    try {
      await Deno.mkdir(join(tmp.path, "cli"));
      const cli = await portableCli(join(tmp.path, "cli"), svc);
      const { dataRoot, configPath } = await makeServiceLab(tmp.path, svc, server.url);
      const asService = (args: string[]) =>
        runAs(svc, [cli.binary, ...args, "--config", configPath]);
      const asRoot = (args: string[]) => runCli([...args, "--config", configPath]);

      // Right after install, before the service ever ran: sudo status creates nothing.
      await produce(dataRoot, "ep-1", svc);
      const early = await asRoot(["status"]);
      assertEquals(early.code, EXIT.ok, early.stderr);
      assertEquals(await notOwnedBy(dataRoot, svc.uid), [], "sudo status created files");

      const first = await asService(["--once"]);
      assertEquals(first.code, EXIT.ok, first.stderr);
      assertEquals(await names(join(dataRoot, "shipped")), ["ep-1"]);

      // Work for every command: a ready episode, an unstamped one, a quarantined one.
      await produce(dataRoot, "ep-2", svc);
      await produce(dataRoot, "ep-old", svc, true);
      await produce(dataRoot, "ep-q", svc);
      await Deno.rename(join(dataRoot, "episodes/ep-q"), join(dataRoot, "quarantine/ep-q"));
      await Deno.writeTextFile(join(dataRoot, "quarantine/ep-q", REASON_FILE), "{}\n");
      await sh("chown", ["-R", `${svc.uid}:${svc.gid}`, join(dataRoot, "quarantine")]);

      const reading = [
        ["status"],
        ["status", "--json"],
        ["check"],
        ["check", "--offline"],
        [
          "prune",
          "--dry-run",
        ],
        ["requeue", "--all", "--dry-run"],
        ["quarantine-unstamped", "--dry-run"],
      ];
      for (const args of reading) {
        const run = await asRoot(args);
        assert(run.code !== EXIT.noPerm && run.code !== EXIT.failure, `${args}: ${run.stderr}`);
        assertEquals(await notOwnedBy(dataRoot, svc.uid), [], `sudo ${args.join(" ")}`);
      }
      const writing = [["prune"], ["requeue", "ep-q"], ["quarantine-unstamped"], ["--once"]];
      for (const args of writing) {
        const run = await asRoot(args);
        assertEquals(run.code, EXIT.noPerm, `${args}: ${run.stderr}`);
        const lines = run.stderr.trim().split("\n");
        assertEquals(lines.length, 1, run.stderr);
        assert(
          lines[0]!.endsWith(
            `run it as the owner: sudo -u ${svc.name} cis490-ship ${
              args.join(" ")
            } --config ${configPath}`,
          ),
          lines[0],
        );
        assertMatch(
          lines[0]!,
          new RegExp(`belongs to ${svc.name} \\(uid ${svc.uid}\\), not to uid 0`),
        );
        assertEquals(await notOwnedBy(dataRoot, svc.uid), [], `sudo ${args.join(" ")}`);
      }
      // The service itself, started as root: refused at once. Judged by its first line, so that a
      // build that lets it run ("INFO started") fails here instead of running until killed.
      const daemon = new Deno.Command(Deno.execPath(), {
        args: cliCommand(["run", "--config", configPath]),
        clearEnv: true,
        env: {},
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const line = await firstLine(daemon.stderr);
      if (!line.includes("run it as the owner")) daemon.kill("SIGKILL");
      assertEquals((await daemon.status).code, EXIT.noPerm, line);
      assert(line.endsWith(`sudo -u ${svc.name} cis490-ship run --config ${configPath}`), line);
      assertEquals(await names(join(dataRoot, "shipped")), ["ep-1"], "nothing was pruned by root");
      const puts = () => server.requests.filter((r) => r.method === "PUT").length;
      assertEquals(puts(), 1, "root sent nothing");

      // The service ships on, and the commands root was refused work as the owner.
      const second = await asService(["--once"]);
      assertEquals(second.code, EXIT.ok, second.stderr);
      assertEquals(puts(), 2);
      assertEquals(await names(join(dataRoot, "shipped")), ["ep-1", "ep-2"]);
      for (const args of [["quarantine-unstamped"], ["requeue", "ep-q"], ["prune"]]) {
        const run = await asService(args);
        assertEquals(run.code, EXIT.ok, `${args}: ${run.stderr}`);
      }
      assertEquals(await names(join(dataRoot, "quarantine")), [".history", "ep-old"]);
      assertEquals(await names(join(dataRoot, "shipped")), []);
      const third = await asService(["--once"]);
      assertEquals(third.code, EXIT.ok, third.stderr);
      assertEquals(await names(join(dataRoot, "shipped")), ["ep-q"]);
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "status and check work on a read-only bind mount of the data root and create nothing",
  { ignore: !isRoot },
  async () => {
    const pki = await sharedPki();
    await using tmp = await tempDir();
    const dataRoot = join(tmp.path, "data");
    await makeEpisode(dataRoot, "ep-1");
    for (const sub of ["outbox", "shipped", "quarantine"]) await Deno.mkdir(join(dataRoot, sub));
    const configPath = join(tmp.path, "lab-host.toml");
    await Deno.writeTextFile(
      configPath,
      shipperConfig({ url: "https://127.0.0.1:9", dataRoot, pki }),
    );
    const before = await names(dataRoot);
    // The mount point is this run's own temporary directory: no two runs share it.
    await sh("mount", ["--bind", dataRoot, dataRoot]);
    try {
      await sh("mount", ["-o", "remount,ro,bind", dataRoot]);
      for (const args of [["status"], ["status", "--json"], ["check", "--offline"]]) {
        const run = await runCli([...args, "--config", configPath]);
        assertEquals(run.code, EXIT.ok, `${args}: ${run.stderr}`);
      }
      const check = await runCli(["check", "--config", configPath]);
      assert(![EXIT.failure, EXIT.noPerm].includes(check.code as 1), check.stderr);
    } finally {
      await sh("umount", [dataRoot]);
    }
    assertEquals(await names(dataRoot), before);
  },
);
