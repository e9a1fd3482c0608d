/**
 * A staging tree for install.sh: a `--root` directory, stand-ins for the system commands first on
 * PATH (they record every call), and the "binary": the two-line wrapper around main.ts.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeCliWrapper } from "../../devkit/wrapper.ts";

/** install.sh at the top of the checkout. */
export const INSTALL_SH = fileURLToPath(new URL("../../install.sh", import.meta.url));

const LOG_CALL = 'printf "%s\\n" "$(basename "$0") $*" >>"$STUB_LOG"\n' +
  '[ "${STUB_FAIL:-}" != "$(basename "$0") $*" ] || exit 1\n';

/** The stand-ins: they record, and act only as far as install.sh needs to see an effect. */
const STUBS: Record<string, string> = {
  // Keeps enabled/active as files in $STUB_STATE, so a second run sees the first one's work.
  systemctl: `
cmd=$1; shift
case "$cmd" in
  is-enabled) [ -e "$STUB_STATE/enabled" ] ;;
  is-active) [ -e "$STUB_STATE/active" ] ;;
  enable) touch "$STUB_STATE/enabled"; [ "$1" != --now ] || touch "$STUB_STATE/active" ;;
  disable) rm -f "$STUB_STATE/enabled"; [ "$1" != --now ] || rm -f "$STUB_STATE/active" ;;
  restart|start) touch "$STUB_STATE/active" ;;
  daemon-reload) ;;
  *) echo "systemctl stand-in: $cmd?" >&2; exit 1 ;;
esac`,
  // Add the account to --prefix DIR's files, as the real ones do.
  useradd: `
prefix=""; while [ $# -gt 1 ]; do [ "$1" = --prefix ] && prefix=$2; shift; done
echo "$1:x:999:999::/nonexistent:/usr/sbin/nologin" >>"$prefix/etc/passwd"`,
  groupadd: `
prefix=""; while [ $# -gt 1 ]; do [ "$1" = --prefix ] && prefix=$2; shift; done
echo "$1:x:999:" >>"$prefix/etc/group"`,
  chown: "",
  // Runs the command as the caller: the test cannot switch users.
  runuser: `
while [ "$1" != -- ]; do shift; done; shift
exec "$@"`,
};

/** A staging tree and what ran in it. */
export interface Stage extends AsyncDisposable {
  dir: string;
  /** The --root tree. */
  root: string;
  /** The wrapper, as `--binary`. */
  binary: string;
  /** Where systemctl's stand-in keeps enabled/active. */
  state: string;
  /** Runs install.sh with the stand-ins first on PATH; `fail` makes one exact call exit 1. */
  run(args: string[], options?: { fail?: string; script?: string }): Promise<InstallRun>;
}

/** One install.sh run. */
export interface InstallRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The stand-ins' calls, in order, `--root` shown as `$ROOT` and temporary names as `PID`. */
  calls: string[];
}

/** Makes a staging tree with `etc/passwd` and `etc/group` and a wrapper binary. */
export async function makeStage(): Promise<Stage> {
  const dir = await Deno.makeTempDir({ prefix: "cis490-install-" });
  const root = join(dir, "root");
  const stubs = join(dir, "stubs");
  const state = join(dir, "state");
  for (const d of [join(root, "etc"), stubs, state]) await Deno.mkdir(d, { recursive: true });
  await Deno.writeTextFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  await Deno.writeTextFile(join(root, "etc/group"), "root:x:0:\n");
  for (const [name, body] of Object.entries(STUBS)) {
    await Deno.writeTextFile(join(stubs, name), `#!/bin/sh\n${LOG_CALL}${body}\n`, {
      mode: 0o755,
    });
  }
  const binary = join(dir, "cis490-ship");
  await writeCliWrapper(binary);
  const log = join(dir, "calls.log");
  return {
    dir,
    root,
    binary,
    state,
    async run(args, options = {}) {
      await Deno.writeTextFile(log, "");
      const env: Record<string, string> = {
        PATH: `${stubs}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
        STUB_LOG: log,
        STUB_STATE: state,
        STUB_FAIL: options.fail ?? "",
      };
      for (const name of ["HOME", "DENO_DIR"]) {
        const value = Deno.env.get(name);
        if (value !== undefined) env[name] = value;
      }
      const out = await new Deno.Command(options.script ?? INSTALL_SH, {
        args,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      const calls = (await Deno.readTextFile(log)).split("\n").filter((l) => l !== "")
        .map((l) => l.replaceAll(root, "$ROOT").replace(/install-\d+/g, "install-PID"));
      return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr), calls };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Every path under `dir` with its type, mode, size, mtime, inode and bytes: "nothing changed". */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string, rel: string) => {
    const st = await Deno.lstat(path);
    const kind = st.isDirectory ? "d" : st.isSymlink ? "l" : "f";
    const bytes = st.isFile ? new TextDecoder().decode(await Deno.readFile(path)) : "";
    out.set(
      rel,
      [kind, st.mode?.toString(8), st.size, st.mtime?.getTime(), st.ino, bytes].join(" "),
    );
    if (st.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        await walk(join(path, entry.name), `${rel}/${entry.name}`);
      }
    }
  };
  await walk(dir, "");
  return out;
}

/** A file's permission bits, octal. */
export async function modeOf(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o7777).toString(8);
}
