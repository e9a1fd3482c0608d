import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { COMMIT, makeEpisode, names, shipperConfig } from "../../devkit/fixtures.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { makeStage, modeOf, snapshot, type Stage } from "./stage.ts";

const DATA = "/var/lib/cis490/data";
const CONFIG = "/etc/cis490/lab-host.toml";
const UNIT = "/etc/systemd/system/cis490-ship.service";
const WANTS = "/etc/systemd/system/multi-user.target.wants/cis490-ship.service";
const BIN = "/usr/local/bin/cis490-ship";
const SHARE = "/usr/local/share/cis490-ship";

/** A live install on a host where the account is missing: looked up, created, looked up. */
const LIVE_USER_CALLS = [
  "getent group cis490",
  "groupadd --system cis490",
  "getent group cis490",
  "getent passwd cis490",
  "useradd --system --gid cis490 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin --comment cis490-ship episode shipper cis490",
  "getent passwd cis490",
];
const LOOKUPS = ["getent group cis490", "getent passwd cis490"];
const CHECK = "runuser -u cis490 -- $HOST/usr/local/bin/cis490-ship check --offline --config " +
  "$HOST/etc/cis490/lab-host.toml";
const DRAIN = "runuser -u cis490 -- $HOST/usr/local/bin/cis490-ship quarantine-unstamped " +
  "--config $HOST/etc/cis490/lab-host.toml";
const IS_ENABLED = "systemctl is-enabled --quiet cis490-ship.service";
const IS_ACTIVE = "systemctl is-active --quiet cis490-ship.service";

/** Writes an operator's config (data root on the fake host) before install.sh runs. */
async function seedConfig(stage: Stage, change: (text: string) => string = (t) => t) {
  const pki = await sharedPki();
  const text = shipperConfig({ dataRoot: stage.host + DATA, url: "https://127.0.0.1:9", pki });
  await Deno.mkdir(join(stage.host, "etc/cis490"), { recursive: true });
  await Deno.writeTextFile(stage.host + CONFIG, change(text), { mode: 0o640 });
  return change(text);
}

/** A pre-stamp backlog: two unstamped episodes and one stamped. */
async function seedBacklog(stage: Stage) {
  const data = stage.host + DATA;
  await makeEpisode(data, "ep-old-1", { meta: { seed: 1 } });
  await makeEpisode(data, "ep-old-2", { meta: null });
  await makeEpisode(data, "ep-new", { meta: COMMIT });
}

function withoutChown(calls: string[]): string[] {
  return calls.filter((c) => !c.startsWith("chown "));
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

async function installLive(stage: Stage, args: string[] = []) {
  return await stage.run([...stage.live, "--binary", stage.binary, ...args]);
}

// --- staged (--root): an image build ----------------------------------------------------------

Deno.test("install.sh --root stages a first install without calling or resolving anything on the host", async () => {
  await using stage = await makeStage();
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  // Only chown ran (the stand-in), inside the tree, by number: the account exists only there.
  assertEquals(withoutChown(run.calls), []);
  for (const call of run.calls) assertMatch(call, /^chown (-h )?\d+:\d+ -- \$ROOT\//);
  assert(run.calls.includes("chown 999:999 -- $ROOT/var/lib/cis490/data"), run.calls.join("\n"));
  assert(run.calls.includes("chown 0:999 -- $ROOT/etc/cis490"), run.calls.join("\n"));
  const r = stage.root;
  assertMatch(
    await Deno.readTextFile(r + "/etc/passwd"),
    /^cis490:x:999:999:cis490-ship episode shipper:\/nonexistent:\/usr\/sbin\/nologin$/m,
  );
  assertMatch(await Deno.readTextFile(r + "/etc/group"), /^cis490:x:999:$/m);
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
  assertMatch(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  // Enabled as systemctl enable would: the symlink names the unit's path on the booted system.
  assertEquals(await Deno.readLink(r + WANTS), UNIT);
  assertEquals(await names(r + SHARE), ["docs", "install.sh", "packaging"]);
  assertMatch(run.stdout, /\[7\/9\] validate the config\n {4}skipped/);
  assertMatch(run.stdout, /left to first boot: edit \/etc\/cis490\/lab-host\.toml before/);
  assert(!run.stdout.includes("systemctl start"), run.stdout);
});

Deno.test("install.sh --root with an operator's config prints each step it leaves to the first boot", async () => {
  await using stage = await makeStage();
  const pki = await sharedPki();
  await Deno.mkdir(stage.root + "/etc/cis490", { recursive: true });
  await Deno.writeTextFile(
    stage.root + CONFIG,
    shipperConfig({ dataRoot: DATA, url: "https://127.0.0.1:9", pki }),
  );
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(withoutChown(run.calls), []);
  const later = run.stdout.split("\n").filter((l) => l.includes("left to first boot:"));
  assertEquals(later, [
    "    left to first boot: validate the config as the service user: runuser -u cis490 -- /usr/local/bin/cis490-ship check --offline --config /etc/cis490/lab-host.toml",
    "    left to first boot: drain unstamped episodes as the service user: runuser -u cis490 -- /usr/local/bin/cis490-ship quarantine-unstamped --config /etc/cis490/lab-host.toml",
    "    left to first boot: systemd starts cis490-ship.service",
  ]);
});

Deno.test("install.sh --root by a user who is not root leaves the owners to the first boot, one line each", async () => {
  await using stage = await makeStage();
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary], { uid: 1000 });
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.calls, []);
  const later = run.stdout.split("\n").filter((l) => l.includes("left to first boot: chown"));
  assertEquals(later.length, 3, run.stdout);
  assertMatch(
    later[0]!,
    /chown 0:999 \/etc\/cis490 \/etc\/cis490\/lab-host\.toml \(owners need root/,
  );
  assertMatch(
    later[1]!,
    /chown 999:999 \/var\/lib\/cis490\/data \/var\/lib\/cis490\/data\/episodes .*\/quarantine \(/,
  );
  assertMatch(later[2]!, /chown -R -h 999:999 \/var\/lib\/cis490\/data\/outbox /);
});

Deno.test("install.sh --root gives episodes/ a default ACL for the service user and group by number", async () => {
  await using stage = await makeStage();
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  const out = await new Deno.Command("getfacl", {
    args: ["-n", "-c", "-p", "-E", stage.root + DATA + "/episodes"],
    stdout: "piped",
  }).output();
  const acl = new TextDecoder().decode(out.stdout).split("\n");
  for (const entry of ["default:user:999:rwx", "default:group:999:rwx", "default:other::---"]) {
    assert(acl.includes(entry), `${entry} in:\n${acl.join("\n")}`);
  }
  assertEquals(await modeOf(stage.root + DATA + "/episodes"), "2770");
});

/** The 64-byte ELF header of an aarch64 executable: enough for the kernel to refuse it here. */
function foreignElf(): Uint8Array {
  const header = new Uint8Array(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const view = new DataView(header.buffer);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 0xb7, true); // EM_AARCH64
  view.setUint32(20, 1, true);
  return header;
}

/** Whether this machine refuses to run that header (no binfmt_misc emulator takes it). */
async function refusesForeignElf(): Promise<boolean> {
  if (Deno.build.arch === "aarch64") return false;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "arm"), foreignElf(), { mode: 0o755 });
    const out = await new Deno.Command("bash", {
      args: ["-c", `"$0" --version`, join(dir, "arm")],
      stderr: "null",
    }).output();
    return out.code === 126;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "install.sh --root stages a binary for another architecture, leaving its --version to the first boot",
  ignore: !(await refusesForeignElf()),
  fn: async () => {
    await using stage = await makeStage();
    const arm = join(stage.dir, "cis490-ship-aarch64-unknown-linux-gnu");
    await Deno.writeFile(arm, foreignElf(), { mode: 0o755 });
    const run = await stage.run(["--root", stage.root, "--binary", arm]);
    assertEquals(run.code, 0, run.stderr);
    assertMatch(
      run.stdout,
      /left to first boot: check the binary runs: \/usr\/local\/bin\/cis490-ship --version/,
    );
    assertEquals(await Deno.readFile(stage.root + BIN), foreignElf());
    // Live, a binary that cannot run stops the install at step 1.
    const live = await stage.run([...stage.live, "--binary", arm]);
    assertEquals(live.code, 1);
    assertMatch(live.stderr, /step 1\/9 \(check\) failed: ".*--version" exited 126/);
  },
});

Deno.test("install.sh --root re-run keeps a unit the image builder disabled disabled", async () => {
  await using stage = await makeStage();
  assertEquals((await stage.run(["--root", stage.root, "--binary", stage.binary])).code, 0);
  await Deno.remove(stage.root + WANTS);
  const run = await stage.run(["--root", stage.root, "--binary", stage.binary]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(await exists(stage.root + WANTS), false);
  assertMatch(run.stdout, /cis490-ship\.service: disabled in the tree, left disabled/);
  assertEquals(withoutChown(run.calls), []);
});

Deno.test("install.sh --root stages a unit that systemd-analyze verify accepts in the tree", async () => {
  await using stage = await makeStage();
  assertEquals((await stage.run(["--root", stage.root, "--binary", stage.binary])).code, 0);
  // What an image has beside our files: kill(1) for ExecReload= and systemd's own units.
  await Deno.mkdir(stage.root + "/bin", { recursive: true });
  await Deno.copyFile("/bin/kill", stage.root + "/bin/kill");
  await Deno.mkdir(stage.root + "/usr/lib/systemd", { recursive: true });
  const copy = await new Deno.Command("cp", {
    args: ["-a", "/usr/lib/systemd/system", stage.root + "/usr/lib/systemd/"],
  }).output();
  assert(copy.success, "copy systemd's units");
  const out = await new Deno.Command("systemd-analyze", {
    args: ["verify", "--man=no", `--root=${stage.root}`, UNIT],
    env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  assertEquals((d.decode(out.stdout) + d.decode(out.stderr)).trim(), "");
  assertEquals(out.code, 0);
});

Deno.test("install.sh --root --uninstall removes the symlink and the unit in the tree, calling nothing", async () => {
  await using stage = await makeStage();
  assertEquals((await stage.run(["--root", stage.root, "--binary", stage.binary])).code, 0);
  const run = await stage.run(["--root", stage.root, "--uninstall"]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.calls, []);
  for (const gone of [WANTS, UNIT, BIN, SHARE]) {
    assertEquals(await exists(stage.root + gone), false, gone);
  }
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
  assertEquals(await exists(stage.root + WANTS), false, "--no-start enables nothing");
});

// --- live: this host, with stand-ins for what changes the machine ----------------------------

Deno.test("install.sh first install creates the account, enables the unit and leaves the template unstarted", async () => {
  await using stage = await makeStage();
  const run = await installLive(stage);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(withoutChown(run.calls), [
    ...LIVE_USER_CALLS,
    "systemctl daemon-reload",
    IS_ENABLED,
    IS_ACTIVE,
    "systemctl enable cis490-ship.service",
  ]);
  assert(run.calls.includes("chown 999:999 -- $HOST/var/lib/cis490/data"), run.calls.join("\n"));
  assertMatch(run.stdout, /systemctl start cis490-ship\.service/);
});

Deno.test("install.sh with an operator's config validates it, drains the unstamped backlog and starts", async () => {
  await using stage = await makeStage();
  const config = await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  await seedBacklog(stage);
  const run = await installLive(stage);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(withoutChown(run.calls), [
    ...LIVE_USER_CALLS,
    "systemctl daemon-reload",
    CHECK,
    DRAIN,
    IS_ENABLED,
    IS_ACTIVE,
    "systemctl enable --now cis490-ship.service",
  ]);
  assertEquals(await Deno.readTextFile(stage.host + CONFIG), config);
  assertEquals(await modeOf(stage.host + CONFIG), "640");
  assertEquals(await names(stage.host + DATA + "/episodes"), ["ep-new"]);
  assertEquals(await names(stage.host + DATA + "/quarantine"), ["ep-old-1", "ep-old-2"]);
  const reason = JSON.parse(
    await Deno.readTextFile(stage.host + DATA + "/quarantine/ep-old-1/quarantine_reason.json"),
  );
  assertEquals(reason.source, "drain");
});

Deno.test("install.sh run twice changes nothing the second time but restarting the enabled unit", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  await seedBacklog(stage);
  const first = await installLive(stage);
  assertEquals(first.code, 0, first.stderr);
  const before = await snapshot(stage.host);
  const second = await installLive(stage);
  assertEquals(second.code, 0, second.stderr);
  assertEquals(await snapshot(stage.host), before);
  assertEquals(withoutChown(second.calls), [
    ...LOOKUPS,
    CHECK,
    DRAIN,
    IS_ENABLED,
    "systemctl restart cis490-ship.service",
  ]);
});

Deno.test("install.sh re-run leaves a unit the operator disabled disabled, and says so", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  assertEquals((await installLive(stage)).code, 0);
  // systemctl disable --now cis490-ship.service
  await Deno.remove(join(stage.state, "enabled"));
  await Deno.remove(join(stage.state, "active"));
  const run = await installLive(stage);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(withoutChown(run.calls).slice(-2), [IS_ENABLED, IS_ACTIVE]);
  assertMatch(
    run.stdout,
    /cis490-ship\.service: disabled by the operator, left disabled and stopped \(to start it: systemctl enable --now cis490-ship\.service\)/,
  );
  assertEquals(await exists(join(stage.state, "enabled")), false);
});

Deno.test("install.sh upgrade replaces the binary by rename and restarts the enabled unit (seed bug 2)", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  assertEquals((await installLive(stage)).code, 0);
  const old = await Deno.stat(stage.host + BIN);
  const upgrade = join(stage.dir, "cis490-ship-v2");
  await Deno.writeTextFile(upgrade, (await Deno.readTextFile(stage.binary)) + "# v2\n", {
    mode: 0o755,
  });
  const run = await stage.run([...stage.live, "--binary", upgrade]);
  assertEquals(run.code, 0, run.stderr);
  const now = await Deno.stat(stage.host + BIN);
  assert(now.ino !== old.ino, "not replaced by rename");
  assertMatch(await Deno.readTextFile(stage.host + BIN), /# v2\n$/);
  assertEquals(run.calls.at(-1), "systemctl restart cis490-ship.service");
  assertEquals(await names(stage.host + "/usr/local/bin"), ["cis490-ship"]);
});

Deno.test("install.sh killed between copying the binary and renaming it leaves no temporary file after the next run", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  assertEquals((await installLive(stage)).code, 0);
  const upgrade = join(stage.dir, "cis490-ship-v2");
  await Deno.writeTextFile(upgrade, (await Deno.readTextFile(stage.binary)) + "# v2\n", {
    mode: 0o755,
  });
  const killed = await stage.run([...stage.live, "--binary", upgrade], {
    kill: "sync -- */.cis490-ship.install-*",
  });
  assertEquals(killed.code, 137, killed.stderr);
  const left = (await names(stage.host + "/usr/local/bin")).filter((n) => n !== "cis490-ship");
  assertEquals(left.length, 1, "the kill left the temporary copy");
  assertMatch(left[0]!, /^\.cis490-ship\.install-\d+$/);
  const next = await stage.run([...stage.live, "--binary", upgrade]);
  assertEquals(next.code, 0, next.stderr);
  assertEquals(await names(stage.host + "/usr/local/bin"), ["cis490-ship"]);
  assertMatch(
    next.stdout,
    /\.cis490-ship\.install-\d+: removed \(left by an install\.sh that was killed\)/,
  );
  assertMatch(await Deno.readTextFile(stage.host + BIN), /# v2\n$/);
});

Deno.test("install.sh restarts a running unit that is not enabled", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  await Deno.writeTextFile(join(stage.state, "active"), "");
  const run = await installLive(stage);
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
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  assertEquals((await installLive(stage)).code, 0);
  const before = await snapshot(stage.host);
  const script = stage.host + SHARE + "/install.sh";
  for (const args of [[], ["--binary", stage.host + BIN]]) {
    const run = await stage.run([...stage.live, ...args], { script });
    assertEquals(run.code, 0, run.stderr);
    assertMatch(run.stdout, /usr\/local\/bin\/cis490-ship: is the source itself, not copied/);
    assertMatch(run.stdout, /cis490-ship\/install.sh: is the source itself, not copied/);
    assertEquals(run.calls.at(-1), "systemctl restart cis490-ship.service");
    assertEquals(await snapshot(stage.host), before);
  }
});

Deno.test("install.sh stops at a failing step and names the step and the command", async () => {
  await using stage = await makeStage();
  const run = await stage.run([...stage.live, "--binary", stage.binary], {
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
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  await Deno.writeTextFile(join(stage.state, "enabled"), "");
  const run = await installLive(stage);
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
  const run = await installLive(stage);
  assertEquals(run.code, 1);
  assertMatch(run.stderr, /step 1\/9 \(check\) failed: ".*cis490-ship --version" exited 3/);
  assertEquals(run.calls, []);
});

Deno.test("install.sh adopts a host the Python shipper ran on: its tarballs are removed or kept aside, never trusted", async () => {
  await using stage = await makeStage();
  await seedConfig(stage);
  const data = stage.host + DATA;
  await makeEpisode(data, "ep-a");
  await makeEpisode(data, "ep-b");
  await Deno.rename(join(data, "episodes/ep-b"), join(data, "shipped-ep-b"));
  await Deno.mkdir(join(data, "shipped"), { recursive: true });
  await Deno.rename(join(data, "shipped-ep-b"), join(data, "shipped/ep-b"));
  await Deno.mkdir(join(data, "outbox"), { recursive: true });
  for (const name of ["ep-a.tar.gz", "ep-b.tar.gz", "ep-gone.tar.gz", "ep-ours.tar.gz"]) {
    await Deno.writeTextFile(join(data, "outbox", name), `python tarball ${name}\n`);
  }
  // One of ours (a state file beside it) and a file nobody knows stay.
  await makeEpisode(data, "ep-ours");
  await Deno.writeTextFile(join(data, "outbox/ep-ours.state.json"), "{}\n");
  await Deno.writeTextFile(join(data, "outbox/notes.txt"), "kept\n");
  const run = await installLive(stage, ["--no-start"]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(await names(join(data, "outbox")), [
    "ep-ours.state.json",
    "ep-ours.tar.gz",
    "notes.txt",
  ]);
  assertEquals(await names(join(data, "legacy-outbox")), ["ep-gone.tar.gz"]);
  assertMatch(
    run.stdout,
    /outbox\/ep-a\.tar\.gz: left by an earlier shipper, removed, not sent: cis490-ship packs episodes\/ep-a again/,
  );
  assertMatch(run.stdout, /outbox\/ep-b\.tar\.gz: .*removed, not sent: its episode already left/);
  assertMatch(run.stdout, /ep-gone\.tar\.gz: .*kept in .*\/legacy-outbox\//);
  // Whatever is not the service's is re-owned (the stand-in records it): by number, not name.
  const reown = run.calls.filter((c) => c.startsWith("chown -h 999:999 -- "));
  assert(
    reown.some((c) => c.includes("$HOST/var/lib/cis490/data/shipped/ep-b/meta.json")),
    reown.join("\n"),
  );
  assertMatch(run.stdout, /files in outbox\/, shipped\/, quarantine\/ re-owned to cis490:cis490/);
});

Deno.test("install.sh --uninstall removes the binary, unit and script and keeps data and config", async () => {
  await using stage = await makeStage();
  const config = await seedConfig(stage);
  await Deno.mkdir(stage.host + DATA, { recursive: true });
  await seedBacklog(stage);
  assertEquals((await installLive(stage)).code, 0);
  const run = await stage.run([...stage.live, "--uninstall"]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.calls, [
    IS_ENABLED,
    "systemctl disable --now cis490-ship.service",
    "systemctl daemon-reload",
  ]);
  for (const gone of [BIN, UNIT, SHARE]) {
    assertEquals(await exists(stage.host + gone), false, gone);
  }
  assertEquals(await Deno.readTextFile(stage.host + CONFIG), config);
  assertEquals(await names(stage.host + DATA + "/episodes"), ["ep-new"]);
  assertEquals(await names(stage.host + DATA + "/quarantine"), ["ep-old-1", "ep-old-2"]);
  const again = await stage.run([...stage.live, "--uninstall"]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(again.calls, []);
});

Deno.test("install.sh --uninstall names the user the unit was installed for (--user other)", async () => {
  await using stage = await makeStage();
  assertEquals((await installLive(stage, ["--user", "other"])).code, 0);
  const run = await stage.run([...stage.live, "--uninstall"]);
  assertEquals(run.code, 0, run.stderr);
  assertMatch(run.stdout, /kept: .*, user other$/m);
  assert(!run.stdout.includes("user cis490"), run.stdout);
});

Deno.test("install.sh --help says what needs root; an unknown option is a usage error", async () => {
  await using stage = await makeStage();
  const help = await stage.run(["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /^Usage: install.sh/);
  assertMatch(help.stdout, /What needs root: without --root, everything/);
  assertMatch(help.stdout, /With\n--root, nothing but setting the owners/);
  const bad = await stage.run(["--frobnicate"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /unknown argument "--frobnicate"/);
  const relative = await stage.run(["--data-root", "var/lib"]);
  assertEquals(relative.code, 2);
});
