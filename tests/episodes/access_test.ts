/**
 * accessProblem() as the shipper sees it: run by a real service user (made with useradd for this
 * run) under the binary's permission flags, on episodes a real producer wrote with its own umask.
 * Root only (users, ownership); the pure parts run everywhere.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { names, shipperConfig, tempDir } from "../../devkit/fixtures.ts";
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
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import { EXIT } from "../../src/cli/args.ts";
import { type AccessProblem, describeProblem, globQuote } from "../../src/episodes/access.ts";

Deno.test("globQuote() makes a path match only itself in find -path", () => {
  assertEquals(globQuote("/data/ep-[1]*?"), "/data/ep-\\[1\\]\\*\\?");
  assertEquals(globQuote("/data/ep-1"), "/data/ep-1");
});

Deno.test("describeProblem() names the path, what cannot be done and the command that fixes it", () => {
  const us = { user: "cis490", group: "cis490", label: "cis490 (uid 999)" };
  const dir = describeProblem({ kind: "dir", path: "/d/episodes/ep-1" }, 0, "/d/episodes/ep-1", us);
  assertEquals(dir.path, "/d/episodes/ep-1");
  assertMatch(dir.problem, /rewrites its "\.\." entry/);
  assertMatch(dir.fix, /^sudo setfacl -R -m u:cis490:rwX "\/d\/episodes\/ep-1" \(or: /);
  const file = describeProblem(
    { kind: "file", path: "/d/episodes/ep-1/a" },
    2,
    "/d/episodes/ep-1",
    us,
  );
  assertEquals(
    file.problem,
    `"/d/episodes/ep-1/a" is not readable by cis490 (uid 999), and 2 more paths in the episode`,
  );
  const parent = describeProblem({ kind: "parent", path: "/d/shipped" }, 0, "/d/episodes/ep-1", us);
  assertMatch(parent.fix, /^run install\.sh again, or: sudo chown cis490:cis490 "\/d\/shipped"/);
});

/** A data root as install.sh laid it out before it set a default ACL. */
async function dataRootFor(dir: string, svc: SystemUser): Promise<string> {
  const data = join(dir, "data");
  await Deno.mkdir(data, { mode: 0o750 });
  await Deno.mkdir(join(data, "episodes"));
  await Deno.chmod(join(data, "episodes"), 0o2770);
  for (const sub of ["outbox", "shipped", "quarantine"]) {
    await Deno.mkdir(join(data, sub), { mode: 0o750 });
  }
  await sh("chown", ["-R", `${svc.uid}:${svc.gid}`, data]);
  return data;
}

/** The producer writes an episode as a program would: mkdir, files, done.marker last. */
async function produce(producer: SystemUser, data: string, id: string, umask: number) {
  const dir = join(data, "episodes", id);
  const meta = JSON.stringify({ code_version: { commit: "0".repeat(40) } });
  const script = `mkdir -p "${dir}/data" && printf '%s' '${meta}' >"${dir}/meta.json" && ` +
    `printf 't,x\\n0,1\\n' >"${dir}/data/obs.csv" && ln -s /nonexistent "${dir}/link" && ` +
    `: >"${dir}/done.marker"`;
  const run = await runAs(producer, ["/bin/sh", "-c", script], { umask });
  assertEquals(run.code, 0, run.stderr);
  return dir;
}

/** Runs accessProblem() as `user`, under the binary's flags, for each episode directory. */
async function problemsAs(
  user: SystemUser,
  cliDir: string,
  data: string,
  dirs: string[],
): Promise<(AccessProblem | null)[]> {
  const script = join(cliDir, "app", "access_probe.ts");
  await Deno.writeTextFile(
    script,
    `import { accessProblem } from "./src/episodes/access.ts";\n` +
      `import { layoutOf } from "./src/layout.ts";\n` +
      `const [data, ...dirs] = Deno.args;\nconst out = [];\n` +
      `for (const dir of dirs) out.push(await accessProblem(dir, layoutOf(data!)));\n` +
      `console.log(JSON.stringify(out));\n`,
  );
  await Deno.chmod(script, 0o644);
  const run = await runAs(user, [
    join(cliDir, "deno"),
    "run",
    "--quiet",
    "--cached-only",
    ...PERMISSION_FLAGS,
    script,
    data,
    ...dirs,
  ], { env: { DENO_DIR: join(cliDir, "deno-dir"), DENO_NO_UPDATE_CHECK: "1" } });
  assertEquals(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

Deno.test(
  "accessProblem() finds, before any upload, the episodes a producer's umask 022 or 077 made unmovable or unreadable, and its fix works",
  { ignore: !isRoot },
  async () => {
    const pki = await sharedPki();
    const server = await startFaultServer(pki, () => ({ status: 201 }));
    await using tmp = await tempDir();
    await Deno.chmod(tmp.path, 0o755);
    await using svc = await createSystemUser("c490a");
    await using producer = await createSystemUser("c490q", { groups: [svc.name] });
    try {
      const cliDir = join(tmp.path, "cli");
      await Deno.mkdir(cliDir);
      const cli = await portableCli(cliDir, svc);
      const data = await dataRootFor(tmp.path, svc);
      const open = await produce(producer, data, "ep-002", 0o002);
      const umask022 = await produce(producer, data, "ep-022", 0o022);
      const umask077 = await produce(producer, data, "ep-077", 0o077);

      const [fine, moveless, unreadable] = await problemsAs(svc, cliDir, data, [
        open,
        umask022,
        umask077,
      ]);
      assertEquals(fine, null, "umask 002 (and a dangling symlink) is fine");
      const label = `${svc.name} \\(uid ${svc.uid}\\)`;
      assertEquals(moveless?.path, umask022);
      assertMatch(
        moveless!.problem,
        new RegExp(
          `^"${umask022}" is not readable, writable and searchable by ${label}; moving a directory`,
        ),
      );
      assertEquals(unreadable?.path, umask077);
      for (const problem of [moveless!, unreadable!]) {
        assert(
          problem.fix.startsWith(`sudo setfacl -R -m u:${svc.name}:rwX "${problem.path}"`),
          problem.fix,
        );
      }

      // Before the fix, the shipper as its user ships what it can and holds the rest, sending
      // nothing it could not then move, and says so with the fix (not "ready", not silence).
      const configPath = join(tmp.path, "lab-host.toml");
      const client = pki.client("lab-01");
      const files: Record<string, string> = {};
      for (const [name, from] of [["ca", pki.ca], ["cert", client.cert], ["key", client.key]]) {
        files[name!] = join(tmp.path, `${name}.pem`);
        await Deno.copyFile(from!, files[name!]!);
        await sh("chown", [`${svc.uid}:${svc.gid}`, files[name!]!]);
        await Deno.chmod(files[name!]!, 0o600);
      }
      const config = shipperConfig({ url: server.url, dataRoot: data, pki })
        .replace(/ca_bundle = .*\n/, `ca_bundle = "${files.ca}"\n`)
        .replace(/client_cert = .*\n/, `client_cert = "${files.cert}"\n`)
        .replace(/client_key = .*\n/, `client_key = "${files.key}"\n`);
      await Deno.writeTextFile(configPath, config);
      await sh("chown", [`${svc.uid}:${svc.gid}`, configPath]);
      const held = await runAs(svc, [cli.binary, "--once", "--config", configPath]);
      assertEquals(held.code, EXIT.ok, held.stderr);
      assertEquals(server.requests.map((r) => r.path.split("/").at(-1)), ["ep-002.tar.gz"]);
      assertEquals(await names(join(data, "shipped")), ["ep-002"]);
      for (const id of ["ep-022", "ep-077"]) {
        assertMatch(held.stdout, new RegExp(`held, needs an operator: ${id}: .*fix: sudo setfacl`));
        assertMatch(held.stderr, new RegExp(`episode held: .*episode=${id}`));
      }

      // The operator runs the fix as given (as root already: without "sudo").
      for (const problem of [moveless!, unreadable!]) {
        const command = problem.fix.slice("sudo ".length, problem.fix.indexOf(" (or: "));
        await sh("/bin/sh", ["-c", command]);
      }
      assertEquals(await problemsAs(svc, cliDir, data, [umask022, umask077]), [null, null]);

      // ...and the shipper, as its user, ships the other two and moves them.
      const pass = await runAs(svc, [cli.binary, "--once", "--config", configPath]);
      assertEquals(pass.code, EXIT.ok, pass.stderr);
      assertEquals(await names(join(data, "shipped")), ["ep-002", "ep-022", "ep-077"]);
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "accessProblem() is right where ACLs make the mode bits lie, and names a folder or sticky bit in the way",
  { ignore: !isRoot },
  async () => {
    await using tmp = await tempDir();
    await Deno.chmod(tmp.path, 0o755);
    await using svc = await createSystemUser("c490b");
    await using producer = await createSystemUser("c490r", { groups: [svc.name] });
    await using other = await createSystemUser("c490o");
    const cliDir = join(tmp.path, "cli");
    await Deno.mkdir(cliDir);
    await portableCli(cliDir, svc);
    const data = await dataRootFor(tmp.path, svc);

    // Mode 0600, not the service's group: a named-user ACL entry still lets it read and move.
    const granted = await produce(producer, data, "ep-granted", 0o077);
    await sh("chgrp", ["-R", String(producer.gid), granted]);
    await sh("setfacl", ["-R", "-m", `u:${svc.uid}:rwX`, granted]);
    // Mode 0660 with the service's group: but the owning group's ACL entry is ---, and the mask
    // (the group bits) only shows another group's rw. Unreadable, whatever the bits say.
    const denied = await produce(producer, data, "ep-denied", 0o007);
    const deniedFile = join(denied, "data/obs.csv");
    await sh("setfacl", ["-m", `g::---,g:${other.gid}:rw`, deniedFile]);
    assertEquals((await Deno.stat(deniedFile)).mode! & 0o070, 0o060, "the bits say group rw");

    assertEquals(await problemsAs(svc, cliDir, data, [granted]), [null]);
    const [problem] = await problemsAs(svc, cliDir, data, [denied]);
    assertEquals(problem?.path, deniedFile);
    assertMatch(problem!.problem, /is not readable by/);

    // A folder the episode must move into, not writable.
    await Deno.chmod(join(data, "shipped"), 0o550);
    const [parent] = await problemsAs(svc, cliDir, data, [granted]);
    assertEquals(parent?.path, join(data, "shipped"));
    assertMatch(parent!.problem, /no episode can move out of or into it$/);
    await Deno.chmod(join(data, "shipped"), 0o750);

    // episodes/ owned by root with the sticky bit (as /tmp is): only the owner of an episode may
    // move it. (Owned by the service user, the bit would not stop it.)
    await Deno.chown(join(data, "episodes"), 0, svc.gid);
    await Deno.chmod(join(data, "episodes"), 0o3770);
    const [sticky] = await problemsAs(svc, cliDir, data, [granted]);
    assertEquals(sticky?.path, join(data, "episodes"));
    assertMatch(sticky!.fix, /^sudo chmod -t /);
  },
);
