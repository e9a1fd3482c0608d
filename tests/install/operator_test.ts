/**
 * install.sh on a real host, as an operator runs it (root only; ignored otherwise): a service user
 * and a producer made with useradd for this run, real getent, chown, setfacl and runuser (only
 * systemctl is a stand-in: no systemd runs here). The host ran the Python shipper before: its
 * leftovers are adopted. Producers write with umask 022 and 077; root runs commands through sudo;
 * install.sh runs again; the service ships everything throughout.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { makeEpisode, names, shipperConfig } from "../../devkit/fixtures.ts";
import { runCli } from "../../devkit/cli.ts";
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
import { makeStage } from "./stage.ts";

const DATA = "/var/lib/cis490/data";
const CONFIG_DIR = "/etc/cis490";
const PYTHON_UID = 3_999_998;

/** Paths under `dir` not owned by `uid`. */
async function notOwnedBy(dir: string, uid: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string) => {
    const st = await Deno.lstat(path);
    if (st.uid !== uid) out.push(`${path.slice(dir.length)} (uid ${st.uid})`);
    if (st.isDirectory) {
      for await (const e of Deno.readDir(path)) {
        await walk(join(path, e.name));
      }
    }
  };
  await walk(dir);
  return out;
}

/** The producer writes an episode as a program would: mkdir, files, done.marker last. */
async function produce(producer: SystemUser, data: string, id: string, umask: number) {
  const dir = join(data, "episodes", id);
  const meta = JSON.stringify({ code_version: { commit: "0".repeat(40) } });
  const script = `mkdir -p "${dir}/data" && printf '%s' '${meta}' >"${dir}/meta.json" && ` +
    `printf 't,x\\n0,1\\n' >"${dir}/data/obs.csv" && : >"${dir}/done.marker"`;
  const run = await runAs(producer, ["/bin/sh", "-c", script], { umask });
  assertEquals(run.code, 0, run.stderr);
}

Deno.test(
  "install.sh on a host the Python shipper ran on: producers with umask 022 and 077 ship, sudo locks nothing out, a re-run passes",
  { ignore: !isRoot },
  async () => {
    const pki = await sharedPki();
    const server = await startFaultServer(pki, () => ({ status: 201 }));
    await using stage = await makeStage({ stubs: ["systemctl"] });
    await using svc = await createSystemUser("c490i");
    await using producer = await createSystemUser("c490p", { groups: [svc.name] });
    try {
      for (const dir of [stage.dir, stage.host]) await Deno.chmod(dir, 0o755);
      await Deno.mkdir(join(stage.dir, "cli"));
      const cli = await portableCli(join(stage.dir, "cli"), svc);
      const data = stage.host + DATA;
      const configDir = stage.host + CONFIG_DIR;
      const config = join(configDir, "lab-host.toml");

      // The operator's config and credentials, readable by the service group.
      await Deno.mkdir(configDir, { recursive: true });
      const client = pki.client("lab-01");
      for (
        const [from, to] of [[pki.ca, "ca.pem"], [client.cert, "client.pem"], [
          client.key,
          "client.key",
        ]]
      ) {
        await Deno.copyFile(from!, join(configDir, to!));
        await sh("chown", [`0:${svc.gid}`, join(configDir, to!)]);
        await Deno.chmod(join(configDir, to!), 0o640);
      }
      const text = shipperConfig({ url: server.url, dataRoot: data, pki })
        .replace(/ca_bundle = .*\n/, `ca_bundle = "${configDir}/ca.pem"\n`)
        .replace(/client_cert = .*\n/, `client_cert = "${configDir}/client.pem"\n`)
        .replace(/client_key = .*\n/, `client_key = "${configDir}/client.key"\n`) +
        "upload_concurrency = 1\nbackoff_seconds = [0.01]\n\n[retention]\nkeep_local_for_days = 0\n";
      await Deno.writeTextFile(config, text, { mode: 0o640 });
      await sh("chown", [`0:${svc.gid}`, config]);

      // What the Python shipper (another uid) left: a tarball of an episode still in episodes/,
      // a shipped and a quarantined episode.
      await makeEpisode(data, "ep-py");
      await makeEpisode(data, "ep-old");
      await makeEpisode(data, "ep-bad");
      await Deno.mkdir(join(data, "outbox"));
      await Deno.mkdir(join(data, "shipped"));
      await Deno.mkdir(join(data, "quarantine"));
      await Deno.rename(join(data, "episodes/ep-old"), join(data, "shipped/ep-old"));
      await Deno.rename(join(data, "episodes/ep-bad"), join(data, "quarantine/ep-bad"));
      await Deno.writeTextFile(join(data, "quarantine/ep-bad", REASON_FILE), "{}\n");
      const pythonBytes = "bytes the Python shipper packed\n";
      await Deno.writeTextFile(join(data, "outbox/ep-py.tar.gz"), pythonBytes);
      await sh("chown", ["-R", `${PYTHON_UID}:${PYTHON_UID}`, data]);
      // Its episodes: the producer's, group-writable (the Python shipper had to move them too).
      await sh("chown", ["-R", `${producer.uid}:${svc.gid}`, join(data, "episodes/ep-py")]);
      await sh("chmod", ["-R", "g+rwX", join(data, "episodes/ep-py")]);

      const install = () => stage.run([...stage.live, "--user", svc.name, "--binary", cli.binary]);
      const first = await install();
      assertEquals(first.code, 0, first.stderr + first.stdout);
      for (const sub of ["outbox", "shipped", "quarantine"]) {
        assertEquals(await notOwnedBy(join(data, sub), svc.uid), [], `${sub}/ re-owned`);
      }
      assertEquals(await names(join(data, "outbox")), [], "the Python tarball is not trusted");

      await produce(producer, data, "ep-022", 0o022);
      await produce(producer, data, "ep-077", 0o077);
      const asService = (args: string[]) => runAs(svc, [cli.binary, ...args, "--config", config]);
      const pass = await asService(["--once"]);
      assertEquals(pass.code, EXIT.ok, pass.stderr);
      assertEquals(await names(join(data, "shipped")), ["ep-022", "ep-077", "ep-old", "ep-py"]);
      const puts = server.requests.filter((r) => r.method === "PUT");
      assertEquals(puts.map((r) => r.path.split("/").at(-1)).sort(), [
        "ep-022.tar.gz",
        "ep-077.tar.gz",
        "ep-py.tar.gz",
      ]);
      assert(puts.every((r) => r.bodyBytes !== pythonBytes.length), "ep-py was packed again");

      // The operator, through sudo: reading works, writing is refused, nothing is left behind.
      const asRoot = (args: string[]) => runCli([...args, "--config", config]);
      assertEquals((await asRoot(["status"])).code, EXIT.ok);
      for (const args of [["prune"], ["--once"], ["requeue", "ep-bad"]]) {
        assertEquals((await asRoot(args)).code, EXIT.noPerm, args.join(" "));
      }
      const rerun = await install();
      assertEquals(rerun.code, 0, rerun.stderr + rerun.stdout);

      // The service ships on; what the Python shipper left is its own to prune and requeue.
      await produce(producer, data, "ep-after", 0o022);
      const after = await asService(["--once"]);
      assertEquals(after.code, EXIT.ok, after.stderr);
      assert((await names(join(data, "shipped"))).includes("ep-after"));
      for (const args of [["prune"], ["requeue", "ep-bad"]]) {
        const run = await asService(args);
        assertEquals(run.code, EXIT.ok, `${args}: ${run.stderr}`);
      }
      assertEquals(await names(join(data, "shipped")), []);
      assertEquals(await names(join(data, "episodes")), ["ep-bad"]);
    } finally {
      await server.close();
    }
  },
);
