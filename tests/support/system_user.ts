/**
 * Real users for the tests that walk the operator's path (root only): a service user and producers
 * made with useradd under a name unique to the run, removed afterwards; a copy of the CLI any of
 * them can run (the Deno binary, main.ts and the npm cache, which may live under root's 0700
 * home); and running a command as one of them with its own umask.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";

/** Whether this test process may create users and switch to them. */
export const isRoot: boolean = Deno.uid() === 0;

const ROOT_DIR = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** A user made for one test. */
export interface SystemUser extends AsyncDisposable {
  name: string;
  uid: number;
  gid: number;
}

/** What a command run as a user did. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; its stdout, or an error with its stderr when it fails. */
export async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${d.decode(out.stderr)}`);
  return d.decode(out.stdout);
}

function uniqueName(prefix: string): string {
  // useradd caps names at 32 characters; 8 random hex digits keep two runs apart.
  return `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
}

/** Options for {@linkcode createSystemUser}. */
export interface CreateUserOptions {
  /** Supplementary groups (names). @default {[]} */
  groups?: string[];
}

/** Creates a system user with its own group; disposing removes both. */
export async function createSystemUser(
  prefix: string,
  options: CreateUserOptions = {},
): Promise<SystemUser> {
  const name = uniqueName(prefix);
  const groups = options.groups ?? [];
  await sh("useradd", [
    "--system",
    "--user-group",
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    "/usr/sbin/nologin",
    ...(groups.length > 0 ? ["--groups", groups.join(",")] : []),
    name,
  ]);
  const uid = Number((await sh("id", ["-u", name])).trim());
  const gid = Number((await sh("id", ["-g", name])).trim());
  return {
    name,
    uid,
    gid,
    async [Symbol.asyncDispose]() {
      await sh("userdel", [name]).catch(() => {});
      await sh("groupdel", [name]).catch(() => {});
    },
  };
}

/** The CLI as any user can run it: a wrapper script, like the installed binary. */
export interface PortableCli {
  /** An executable that runs main.ts under the binary's permission flags. */
  binary: string;
}

/**
 * Copies what `deno run main.ts` needs into `dir` (made 0755, owned by `owner`): the runtime, the
 * sources and the npm cache. `owner` also gets the cache: Deno writes its own caches there.
 */
export async function portableCli(dir: string, owner: SystemUser): Promise<PortableCli> {
  const deno = join(dir, "deno");
  await Deno.copyFile(Deno.execPath(), deno);
  const app = join(dir, "app");
  await Deno.mkdir(app);
  for (const entry of ["main.ts", "deno.json", "deno.lock", "src"]) {
    await sh("cp", ["-r", join(ROOT_DIR, entry), app]);
  }
  const denoDir = join(dir, "deno-dir");
  const cache = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
  await Deno.mkdir(denoDir);
  await sh("cp", ["-r", join(cache, "npm"), denoDir]);
  await sh("chown", ["-R", `${owner.uid}:${owner.gid}`, denoDir]);
  await sh("chmod", ["-R", "go+rX", dir]);
  const binary = join(dir, "cis490-ship");
  const argv = [deno, "run", "--quiet", "--cached-only", ...PERMISSION_FLAGS, join(app, "main.ts")]
    .map((w) => `'${w}'`).join(" ");
  // Root (install.sh's --version) keeps its own cache, so it never leaves root-owned files in
  // the service user's.
  await Deno.writeTextFile(
    binary,
    `#!/bin/sh\n[ "$(id -u)" = 0 ] || export DENO_DIR='${denoDir}'\n` +
      `export DENO_NO_UPDATE_CHECK=1\nexec ${argv} "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.chmod(binary, 0o755);
  return { binary };
}

/** Options for {@linkcode runAs}. */
export interface RunAsOptions {
  /** The umask the command runs with. @default {0o022} */
  umask?: number;
  /** Environment (cleared otherwise). @default {{}} */
  env?: Record<string, string>;
}

/** Runs `argv` as `user` (its groups included, as a login would have them). */
export async function runAs(
  user: SystemUser,
  argv: string[],
  options: RunAsOptions = {},
): Promise<RunResult> {
  const umask = (options.umask ?? 0o022).toString(8).padStart(3, "0");
  const out = await new Deno.Command("setpriv", {
    args: [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      "--init-groups",
      "/bin/sh",
      "-c",
      `umask ${umask} && exec "$@"`,
      "sh",
      ...argv,
    ],
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...options.env },
    clearEnv: true,
    cwd: "/",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}
