import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { configKey } from "../../src/config/keys.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { EXIT } from "../../src/cli/args.ts";

const UNIT = fileURLToPath(new URL("../../packaging/cis490-ship.service", import.meta.url));
const DOC = fileURLToPath(new URL("../../docs/install.md", import.meta.url));

/** The unit's `Key=value` settings (last one wins), comments skipped. */
function settings(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Za-z]+)=(.*)$/);
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

/** A copy of the unit whose ExecStart names an executable that exists, as verify requires. */
async function unitCopy(dir: string): Promise<string> {
  const exe = join(dir, "cis490-ship");
  await Deno.writeTextFile(exe, "#!/bin/sh\n", { mode: 0o755 });
  const text = (await Deno.readTextFile(UNIT))
    .replace(/^ExecStart=\S+/m, `ExecStart=${exe}`);
  const path = join(dir, "cis490-ship.service");
  await Deno.writeTextFile(path, text);
  return path;
}

async function analyze(args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command("systemd-analyze", {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout) + d.decode(out.stderr) };
}

Deno.test("cis490-ship.service holds the settings issue 7 asks for", async () => {
  const s = settings(await Deno.readTextFile(UNIT));
  const one = (key: string) => s.get(key)?.at(-1);
  assertEquals(one("Restart"), "always");
  // Neither a config error nor a data root the user does not own is fixed by restarting.
  assertEquals(one("RestartPreventExitStatus"), `${EXIT.noPerm} ${EXIT.config}`);
  // systemctl reload sends the SIGHUP the shipper reloads its config on.
  assertEquals(one("ExecReload"), "/bin/kill -HUP $MAINPID");
  assertEquals(one("User"), "cis490");
  assertEquals(one("Group"), "cis490");
  assertEquals(one("ProtectSystem"), "strict");
  assertEquals(one("ReadWritePaths"), "/var/lib/cis490/data");
  for (const key of ["ProtectHome", "PrivateTmp", "PrivateDevices", "NoNewPrivileges"]) {
    assertEquals(one(key), "yes", key);
  }
  for (const key of ["ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs"]) {
    assertEquals(one(key), "yes", key);
  }
  assertEquals(one("RestrictAddressFamilies"), "AF_INET AF_INET6 AF_UNIX");
  assert(s.has("SystemCallFilter"));
  assertEquals(one("CapabilityBoundingSet"), "");
  assertEquals(s.has("MemoryDenyWriteExecute"), false);
  assertMatch(await Deno.readTextFile(UNIT), /^#LoadCredential=bearer-token:\S+$/m);
});

Deno.test("cis490-ship.service TimeoutStopSec is above the largest shipper.stop_grace_s", async () => {
  const timeout = Number(settings(await Deno.readTextFile(UNIT)).get("TimeoutStopSec")?.at(-1));
  const max = configKey("shipper.stop_grace_s").numberRange?.max;
  assert(max !== undefined && timeout > max, `TimeoutStopSec ${timeout} <= ${max}`);
});

Deno.test("cis490-ship.service passes systemd-analyze verify", async () => {
  await using dir = await tempDir();
  const { code, out } = await analyze(["verify", "--man=no", await unitCopy(dir.path)]);
  assertEquals(out.trim(), "");
  assertEquals(code, 0);
});

Deno.test("cis490-ship.service scores at most 2.5 in systemd-analyze security, as docs/install.md says", async () => {
  const { code, out } = await analyze(["security", "--offline=true", "--threshold=25", UNIT]);
  const score = out.match(/Overall exposure level for cis490-ship\.service: ([0-9.]+) (\w+)/);
  assert(score !== null, out);
  assertEquals(code, 0, out);
  assert(Number(score[1]) <= 2.5, `exposure ${score[1]}`);
  const doc = await Deno.readTextFile(DOC);
  assert(doc.includes(`exposure level ${score[1]} ${score[2]}`), `docs/install.md: ${score[1]}`);
});

Deno.test("install.sh passes shellcheck", async () => {
  const script = fileURLToPath(new URL("../../install.sh", import.meta.url));
  const out = await new Deno.Command("shellcheck", { args: [script], stdout: "piped" }).output();
  assertEquals(new TextDecoder().decode(out.stdout), "");
  assertEquals(out.code, 0);
});
