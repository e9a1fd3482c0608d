/**
 * `deno task demo`: the whole system on one machine, in ./demo-run/. A throwaway PKI (openssl),
 * the reference collector on loopback, a seed-format lab-host config, sample episodes (stamped,
 * unstamped, incomplete, badly named), one real `cis490-ship --once` run as a child process under
 * the binary's permission flags, and a summary of where every episode went.
 */
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { makePki } from "../devkit/pki.ts";
import { runCli, spawnCli } from "../devkit/cli.ts";
import { COMMIT, makeEpisode, names, shipperConfig, writeConfig } from "../devkit/fixtures.ts";
import { layoutOf } from "../src/queue/layout.ts";

const root = resolve(Deno.args[0] ?? "demo-run");
const say = (line = "") => console.log(line);

await Deno.remove(root, { recursive: true }).catch(() => {});
await Deno.mkdir(root, { recursive: true });
say(`cis490-ship demo in ${root}`);

const pki = await makePki(join(root, "pki"), ["lab-demo"]);
say(
  "1. made a throwaway PKI with openssl: CA, collector certificate, client certificate CN=lab-demo",
);

const storeDir = join(root, "collector-store");
const collectorConfig = join(root, "collector.toml");
await Deno.writeTextFile(
  collectorConfig,
  `listen = "127.0.0.1:0"
store_dir = "${storeDir}"

[tls]
cert = "${pki.serverCert}"
key = "${pki.serverKey}"
client_ca = "${pki.ca}"
`,
);
const collector = spawnCli(["collector", "--config", collectorConfig]);
let url: string;
try {
  url = (await collector.firstLine).replace(/^listening on /, "");
} catch {
  console.error(await collector.stderr);
  Deno.exit(1);
}
say(`2. started the reference collector (mutual TLS) at ${url}`);

const dataRoot = join(root, "lab-host", "data");
await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
const config = await writeConfig(
  join(root, "lab-host"),
  shipperConfig({ dataRoot, url, pki, hostId: "lab-demo" }),
);
say(`3. wrote a seed-format config: ${config}`);

const episodes: [string, string][] = [
  ["ep-0001", "stamped"],
  ["ep-0002", "stamped"],
  ["ep-0003", "stamped"],
  ["ep-0004-unstamped", "meta.json without code_version.commit"],
  ["ep-0005-running", "no done.marker yet"],
  ["ep 0006 bad name", "name with spaces"],
];
for (const [id, kind] of episodes) {
  await makeEpisode(dataRoot, id, {
    meta: kind === "meta.json without code_version.commit" ? { code_version: {}, seed: 4 } : COMMIT,
    complete: kind !== "no done.marker yet",
    files: {
      "obs/observations.csv": Array.from({ length: 2000 }, (_, i) => `${i},${Math.sin(i)}`).join(
        "\n",
      ),
      "config/run.yaml": `episode: ${id}\n`,
    },
  });
}
say(
  `4. created ${episodes.length} episodes: ${
    episodes.map(([id, kind]) => `${id} (${kind})`).join(", ")
  }`,
);

say(`5. ran: cis490-ship --once --config ${config}`);
const run = await runCli(["--once", "--config", config]);
for (const line of run.stderr.trim().split("\n")) say(`   log | ${line}`);
for (const line of run.stdout.trim().split("\n")) say(`   out | ${line}`);
say(`   exit code ${run.code}`);

say(`6. ran: cis490-ship status --config ${config}`);
const status = await runCli(["status", "--config", config]);
for (const line of status.stdout.trim().split("\n")) say(`   out | ${line}`);

await collector.stop();
say("7. stopped the collector");
say();
say("Where every episode went:");
const layout = layoutOf(dataRoot);
for (
  const [where, dir] of [["shipped/", layout.shipped], ["quarantine/", layout.quarantine], [
    "episodes/ (left alone)",
    layout.episodes,
  ]] as const
) {
  for (const id of await names(dir)) {
    let note = "";
    if (where === "quarantine/") {
      const reason = JSON.parse(await Deno.readTextFile(join(dir, id, "quarantine_reason.json")));
      note = ` — ${reason.source}: ${reason.reason}`;
    }
    say(`  ${id.padEnd(20)} → ${where}${note}`);
  }
}
say();
say(`Collector store (${storeDir}):`);
const hostDir = join(storeDir, "lab-demo");
for (const name of (await names(hostDir)).filter((n) => !n.endsWith(".json"))) {
  const bytes = await Deno.readFile(join(hostDir, name));
  const sidecar = JSON.parse(await Deno.readTextFile(join(hostDir, `${name}.json`)));
  const digest = createHash("sha256").update(bytes).digest("base64");
  say(
    `  lab-demo/${name}  ${bytes.length} bytes  sha-256 ${
      digest === sidecar.sha256 ? "matches" : "DOES NOT MATCH"
    } its sidecar  client ${sidecar.client_certificate_subject}`,
  );
}
say();
say(`Everything is kept in ${root} to look at; run again to start fresh.`);

const shipped = await names(layout.shipped);
const ok = run.code === 0 && shipped.length === 3 && (await names(hostDir)).length === 6;
if (!ok) {
  console.error("demo: the run did not end as expected");
  Deno.exit(1);
}
