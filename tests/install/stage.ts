/**
 * Where install.sh runs in the tests, two ways:
 *
 * - staged: `--root DIR`, as an image build runs it. Nothing on the host may be called.
 * - live: the host's own paths, moved under a fake host directory by the path options, with
 *   stand-ins first on PATH for what would change the machine or need a running systemd
 *   (systemctl, useradd, groupadd, getent over a fake account database, chown, runuser, id).
 *
 * The stand-ins record every call (`id` and `sync` quietly), so a test can prove which commands
 * ran, and that none did under `--root`.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeCliWrapper } from "../../devkit/wrapper.ts";

/** install.sh at the top of the checkout. */
export const INSTALL_SH = fileURLToPath(new URL("../../install.sh", import.meta.url));

/** Every stand-in: exits 1 on `$STUB_FAIL`, and kills install.sh (-9) on a `$STUB_KILL` match. */
const GUARD = '[ "${STUB_FAIL:-}" != "$(basename "$0") $*" ] || exit 1\n' +
  '[ -z "${STUB_KILL:-}" ] || case "$(basename "$0") $*" in $STUB_KILL) kill -9 "$PPID" ;; esac\n';
const LOG_CALL = 'printf "%s\\n" "$(basename "$0") $*" >>"$STUB_LOG"\n';

/** The stand-ins: they record, and act only as far as install.sh needs to see an effect. */
const STUBS: Record<string, { quiet?: boolean; body: string }> = {
  // Keeps enabled/active as files in $STUB_STATE, so a second run sees the first one's work.
  systemctl: {
    body: `
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
  },
  // The host's account database is $STUB_STATE/etc/{passwd,group}; ids count down from 999.
  useradd: {
    body: `
gid=""; while [ $# -gt 1 ]; do [ "$1" = --gid ] && gid=$2; shift; done
gid=$(awk -F: -v n="$gid" '$1 == n { print $3 }' "$STUB_STATE/etc/group")
uid=$((1000 - $(wc -l <"$STUB_STATE/etc/passwd")))
echo "$1:x:$uid:$gid::/nonexistent:/usr/sbin/nologin" >>"$STUB_STATE/etc/passwd"`,
  },
  groupadd: {
    body: `
while [ $# -gt 1 ]; do shift; done
echo "$1:x:$((1000 - $(wc -l <"$STUB_STATE/etc/group"))):" >>"$STUB_STATE/etc/group"`,
  },
  getent: {
    body: `grep "^$2:" "$STUB_STATE/etc/$1" || exit 2`,
  },
  chown: { body: "" },
  // Runs the command as the caller: the test cannot switch users.
  runuser: {
    body: `
while [ "$1" != -- ]; do shift; done; shift
exec "$@"`,
  },
  // install.sh asks only "am I root?": $STUB_UID decides (default: yes).
  id: { quiet: true, body: `echo "\${STUB_UID:-0}"` },
  // Durability only; a stand-in so that a test can kill install.sh between copy and rename.
  sync: { quiet: true, body: "" },
};

/** Options for {@linkcode makeStage}. */
export interface StageOptions {
  /** The stand-ins to put on PATH; the others run for real. @default {every stand-in} */
  stubs?: string[];
}

/** A staging tree, a fake host, and what ran in them. */
export interface Stage extends AsyncDisposable {
  dir: string;
  /** The --root tree. */
  root: string;
  /** The fake host: live installs put every path under it (see {@linkcode Stage.live}). */
  host: string;
  /** The wrapper, as `--binary`. */
  binary: string;
  /** Where systemctl's stand-in keeps enabled/active, and the fake account database (etc/). */
  state: string;
  /** The path options that put a live install under `host`. */
  live: string[];
  /** Runs install.sh with the stand-ins first on PATH. */
  run(args: string[], options?: RunOptions): Promise<InstallRun>;
}

/** Options for {@linkcode Stage.run}. */
export interface RunOptions {
  /** One exact call (`"systemctl daemon-reload"`) whose stand-in exits 1. */
  fail?: string;
  /** A shell pattern of the call whose stand-in kills install.sh with SIGKILL. */
  kill?: string;
  /** Another copy of install.sh to run. */
  script?: string;
  /** What `id -u` says. @default {0} */
  uid?: number;
}

/** One install.sh run. */
export interface InstallRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The stand-ins' calls, in order, with `$ROOT`, `$HOST` and temporary names as `PID`. */
  calls: string[];
}

/** Makes a staging tree and a fake host, each with `etc/passwd` and `etc/group`. */
export async function makeStage(options: StageOptions = {}): Promise<Stage> {
  const dir = await Deno.makeTempDir({ prefix: "cis490-install-" });
  const root = join(dir, "root");
  const host = join(dir, "host");
  const stubs = join(dir, "stubs");
  const state = join(dir, "state");
  for (const d of [join(root, "etc"), host, stubs, join(state, "etc")]) {
    await Deno.mkdir(d, { recursive: true });
  }
  for (const etc of [join(root, "etc"), join(state, "etc")]) {
    await Deno.writeTextFile(join(etc, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    await Deno.writeTextFile(join(etc, "group"), "root:x:0:\n");
  }
  const chosen = options.stubs ?? Object.keys(STUBS);
  for (const name of chosen) {
    const stub = STUBS[name];
    if (!stub) throw new Error(`No stand-in "${name}"`);
    await Deno.writeTextFile(
      join(stubs, name),
      `#!/bin/sh\n${stub.quiet ? "" : LOG_CALL}${GUARD}${stub.body}\n`,
      { mode: 0o755 },
    );
  }
  const binary = join(dir, "cis490-ship");
  await writeCliWrapper(binary);
  const log = join(dir, "calls.log");
  const live = [
    ["--prefix", "/usr/local"],
    ["--config-dir", "/etc/cis490"],
    ["--data-root", "/var/lib/cis490/data"],
    ["--unit-dir", "/etc/systemd/system"],
  ].flatMap(([option, path]) => [option!, host + path]);
  return {
    dir,
    root,
    host,
    binary,
    state,
    live,
    async run(args, runOptions = {}) {
      await Deno.writeTextFile(log, "");
      const env: Record<string, string> = {
        PATH: `${stubs}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
        STUB_LOG: log,
        STUB_STATE: state,
        STUB_FAIL: runOptions.fail ?? "",
        STUB_KILL: runOptions.kill ?? "",
        STUB_UID: String(runOptions.uid ?? 0),
      };
      for (const name of ["HOME", "DENO_DIR"]) {
        const value = Deno.env.get(name);
        if (value !== undefined) env[name] = value;
      }
      const out = await new Deno.Command(runOptions.script ?? INSTALL_SH, {
        args,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      const calls = (await Deno.readTextFile(log)).split("\n").filter((l) => l !== "")
        .map((l) =>
          l.replaceAll(root, "$ROOT").replaceAll(host, "$HOST").replace(
            /install-\d+/g,
            "install-PID",
          )
        );
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
