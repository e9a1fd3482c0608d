import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { COMMIT, makeEpisode, names, shipperConfig } from "../../devkit/fixtures.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { makeStage, modeOf, snapshot, type Stage } from "./stage.ts";

const DATA = "/var/lib/cis490/data";
const CONFIG = "/etc/cis490/lab-host.toml";
const UNIT = "/etc/systemd/system/cis490-ship.service";
const BIN = "/usr/local/bin/cis490-ship";
const SHARE = "/usr/local/share/cis490-ship";

const USER_CALLS = [
  "groupadd --system --prefix $ROOT cis490",
  "useradd --system --gid cis490 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin --comment cis490-ship episode shipper --prefix $ROOT cis490",
];
const DIR_CHOWNS = [
  "chown cis490:cis490 -- $ROOT/var/lib/cis490/data",
  "chown cis490:cis490 -- $ROOT/var/lib/cis490/data/episodes",
  "chown cis490:cis490 -- $ROOT/var/lib/cis490/data/outbox",
  "chown cis490:cis490 -- $ROOT/var/lib/cis490/data/shipped",
  "chown cis490:cis490 -- $ROOT/var/lib/cis490/data/quarantine",
];
const CHECK = "runuser -u cis490 -- $ROOT/usr/local/bin/cis490-ship check --offline --config " +
  "$ROOT/etc/cis490/lab-host.toml";
const DRAIN = "runuser -u cis490 -- $ROOT/usr/local/bin/cis490-ship quarantine-unstamped " +
  "--config $ROOT/etc/cis490/lab-host.toml";
const IS_ENABLED = "systemctl is-enabled --quiet cis490-ship.service";
const IS_ACTIVE = "systemctl is-active --quiet cis490-ship.service";

/** Writes an operator's config (data root inside the staging tree) before install.sh runs. */
async function seedConfig(stage: Stage, change: (text: string) => string = (t) => t) {
  const pki = await sharedPki();
  const text = shipperConfig({ dataRoot: stage.root + DATA, url: "https://127.0.0.1:9", pki });
  await Deno.mkdir(join(stage.root, "etc/cis490"), { recursive: true });
  await Deno.writeTextFile(stage.root + CONFIG, change(text), { mode: 0o640 });
  return change(text);
}

/** A pre-stamp backlog: two unstamped episodes and one stamped. */
async function seedBacklog(stage: Stage) {
  const data = stage.root + DATA;
  await makeEpisode(data, "ep-old-1", { meta: { seed: 1 } });
  await makeEpisode(data, "ep-old-2", { meta: null });
  await makeEpisode(data, "ep-new", { meta: COMMIT });
}

function withoutChown(calls: string[]): string[] {
  return calls.filter((c) => !c.startsWith("chown "));
}

Deno.test("install.sh first install into --root writes files, modes and owners with the exact commands", async () => {
  await using stage = await makeStage();
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.calls, [
    ...USER_CALLS,
    "chown root:cis490 -- $ROOT/etc/cis490",
    "chown root:cis490 -- $ROOT/etc/cis490/.lab-host.toml.install-PID",
    ...DIR_CHOWNS,
    "systemctl daemon-reload",
    IS_ENABLED,
    IS_ACTIVE,
    "systemctl enable cis490-ship.service",
  ]);
  const r = stage.root;
  assertEquals(await Deno.readTextFile(r + BIN), await Deno.readTextFile(stage.binary));
  assertEquals(await modeOf(r + BIN), "755");
  assertEquals(await modeOf(r + "/etc/cis490"), "750");
  assertEquals(await modeOf(r + CONFIG), "640");
  assertMatch(await Deno.readTextFile(r + CONFIG), /^data_root = "\/var\/lib\/cis490\/data"$/m);
  assertEquals(await modeOf(r + DATA), "750");
  assertEquals(await modeOf(r + DATA + "/episodes"), "2770");
  for (const sub of ["outbox", "shipped", "quarantine"]) {
    assertEquals(await modeOf(`${r}${DATA}/${sub}`), "750");
  }
  assertEquals(await modeOf(r + UNIT), "644");
  const unit = await Deno.readTextFile(r + UNIT);
  assertMatch(
    unit,
    /^ExecStart=\/usr\/local\/bin\/cis490-ship --config \/etc\/cis490\/lab-host.toml$/m,
  );
  assertMatch(unit, /^ReadWritePaths=\/var\/lib\/cis490\/data$/m);
  assertEquals(await names(r + SHARE), ["docs", "install.sh", "packaging"]);
  assertMatch(run.stdout, /\[7\/9\] validate the config\n {4}skipped/);
  assertMatch(run.stdout, /systemctl start cis490-ship\.service/);
});

Deno.test("install.sh options move the binary, config, data root and user, in the unit too", async () => {
  await using stage = await makeStage();
  const run = await stage.run([
    "--root",
    stage.root,
    "--binary",
    stage.binary,
    "--prefix",
    "/opt/cis490",
    "--config-dir",
    "/etc/ship",
    "--data-root",
    "/srv/episodes",
    "--user",
    "shipper",
    "--no-start",
  ]);
  assertEquals(run.code, 0, run.stderr);
  const unit = await Deno.readTextFile(stage.root + UNIT);
  assertMatch(
    unit,
    /^ExecStart=\/opt\/cis490\/bin\/cis490-ship --config \/etc\/ship\/lab-host.toml$/m,
  );
  assertMatch(unit, /^User=shipper$/m);
  assertMatch(unit, /^Group=shipper$/m);
  assertMatch(unit, /^ReadWritePaths=\/srv\/episodes$/m);
  assertMatch(
    await Deno.readTextFile(stage.root + "/etc/ship/lab-host.toml"),
    /^data_root = "\/srv\/episodes"$/m,
  );
  assertEquals(await names(stage.root + "/srv/episodes"), [
    "episodes",
    "outbox",
    "quarantine",
    "shipped",
  ]);
  assert(run.calls.every((c) => !c.startsWith("systemctl enable")), run.calls.join("\n"));
});

Deno.test("install.sh with an operator's config validates it, drains the unstamped backlog and starts", async () => {
  await using stage = await makeStage();
  const config = await seedConfig(stage);
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  await seedBacklog(stage);
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(withoutChown(run.calls), [
    ...USER_CALLS,
    "systemctl daemon-reload",
    CHECK,
    DRAIN,
    IS_ENABLED,
    IS_ACTIVE,
    "systemctl enable --now cis490-ship.service",
  ]);
  assertEquals(await Deno.readTextFile(stage.root + CONFIG), config);
  assertEquals(await modeOf(stage.root + CONFIG), "640");
  assertEquals(await names(stage.root + DATA + "/episodes"), ["ep-new"]);
  assertEquals(await names(stage.root + DATA + "/quarantine"), ["ep-old-1", "ep-old-2"]);
  const reason = JSON.parse(
    await Deno.readTextFile(stage.root + DATA + "/quarantine/ep-old-1/quarantine_reason.json"),
  );
  assertEquals(reason.source, "drain");
});

Deno.test("install.sh run twice changes nothing the second time but restarting the enabled unit", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  await seedBacklog(stage);
  const first = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(first.code, 0, first.stderr);
  const before = await snapshot(stage.root);
  const second = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(second.code, 0, second.stderr);
  assertEquals(await snapshot(stage.root), before);
  assertEquals(withoutChown(second.calls), [
    CHECK,
    DRAIN,
    IS_ENABLED,
    "systemctl restart cis490-ship.service",
  ]);
});

Deno.test("install.sh upgrade replaces the binary by rename and restarts the enabled unit (seed bug 2)", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  assertEquals((await stage.run(["--root", stage.root, "--binary", stage.binary])).code, 0);
  const old = await Deno.stat(stage.root + BIN);
  const upgrade = join(stage.dir, "cis490-ship-v2");
  await Deno.writeTextFile(upgrade, (await Deno.readTextFile(stage.binary)) + "# v2\n", {
    mode: 0o755,
  });
  const run = await stage.run(["--root", stage.root, "--binary", upgrade]);
  assertEquals(run.code, 0, run.stderr);
  const now = await Deno.stat(stage.root + BIN);
  assert(now.ino !== old.ino, "not replaced by rename");
  assertMatch(await Deno.readTextFile(stage.root + BIN), /# v2\n$/);
  assertEquals(run.calls.at(-1), "systemctl restart cis490-ship.service");
  assertEquals(await names(stage.root + "/usr/local/bin"), ["cis490-ship"]);
});

Deno.test("install.sh restarts a running unit that is not enabled", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  await Deno.writeTextFile(join(stage.state, "active"), "");
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.calls.slice(-3), [
    IS_ENABLED,
    IS_ACTIVE,
    "systemctl restart cis490-ship.service",
  ]);
});

Deno.test("install.sh re-run from the installed directory with the installed binary works (seed bug 1)", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  assertEquals((await stage.run(["--root", stage.root, "--binary", stage.binary])).code, 0);
  const before = await snapshot(stage.root);
  const script = stage.root + SHARE + "/install.sh";
  for (const args of [[], ["--binary", stage.root + BIN]]) {
    const run = await stage.run(["--root", stage.root, ...args], { script });
    assertEquals(run.code, 0, run.stderr);
    assertMatch(run.stdout, /usr\/local\/bin\/cis490-ship: is the source itself, not copied/);
    assertMatch(run.stdout, /cis490-ship\/install.sh: is the source itself, not copied/);
    assertEquals(run.calls.at(-1), "systemctl restart cis490-ship.service");
    assertEquals(await snapshot(stage.root), before);
  }
});

Deno.test("install.sh stops at a failing step and names the step and the command", async () => {
  await using stage = await makeStage();
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary], {
    fail: "systemctl daemon-reload",
  });
  assertEquals(run.code, 1);
  assertMatch(run.stderr, /step 6\/9 \(unit\) failed: "systemctl daemon-reload" exited 1/);
  assertEquals(run.calls.at(-1), "systemctl daemon-reload");
  assert(!run.stdout.includes("[7/9]"), run.stdout);
});

Deno.test("install.sh stops at validation on a broken config: no drain, no restart", async () => {
  await using stage = await makeStage();
  await seedConfig(
    stage,
    (t) => t.replace(/^client_key = .*$/m, 'client_key = "/nonexistent.key"'),
  );
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  await Deno.writeTextFile(join(stage.state, "enabled"), "");
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 78);
  assertMatch(
    run.stderr,
    /step 7\/9 \(validate the config\) failed: ".*check --offline.*" exited 78/,
  );
  assertEquals(run.calls.at(-1), CHECK);
});

Deno.test("install.sh stops at the check when the binary does not run", async () => {
  await using stage = await makeStage();
  await Deno.writeTextFile(stage.binary, "#!/bin/sh\nexit 3\n");
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 1);
  assertMatch(run.stderr, /step 1\/9 \(check\) failed: ".*cis490-ship --version" exited 3/);
  assertEquals(run.calls, []);
});

Deno.test("install.sh --uninstall removes the binary, unit and script and keeps data and config", async () => {
  await using stage = await makeStage();
  const config = await seedConfig(stage);
  await Deno.mkdir(stage.root + DATA, { recursive: true });
  await seedBacklog(stage);
  assertEquals((await stage.run(["--root", stage.root, "--binary", stage.binary])).code, 0);
  const run = await stage.run(["--root", stage.root, "--uninstall"]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.calls, [
    IS_ENABLED,
    "systemctl disable --now cis490-ship.service",
    "systemctl daemon-reload",
  ]);
  for (const gone of [BIN, UNIT, SHARE]) {
    assertEquals(await Deno.stat(stage.root + gone).then(() => true, () => false), false, gone);
  }
  assertEquals(await Deno.readTextFile(stage.root + CONFIG), config);
  assertEquals(await names(stage.root + DATA + "/episodes"), ["ep-new"]);
  assertEquals(await names(stage.root + DATA + "/quarantine"), ["ep-old-1", "ep-old-2"]);
  const again = await stage.run(["--root", stage.root, "--uninstall"]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(again.calls, []);
});

Deno.test("install.sh --help prints usage; an unknown option is a usage error", async () => {
  await using stage = await makeStage();
  const help = await stage.run(["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /^Usage: install.sh/);
  const bad = await stage.run(["--frobnicate"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /unknown argument "--frobnicate"/);
  const relative = await stage.run(["--data-root", "var/lib"]);
  assertEquals(relative.code, 2);
});
