/**
 * Who this process is, and the names of numeric owners, under the binary's permission flags.
 *
 * Measured under exactly those flags (Deno 2.9.6, as root and as an unprivileged user):
 * `Deno.uid()`, `Deno.gid()`, `node:process` `getuid()`/`geteuid()`/`getgroups()`,
 * `node:os` `userInfo()` and `node:fs` `accessSync()` all throw "Requires sys access to "uid""
 * (they need `--allow-sys=uid,gid`); `/proc/self/status`, `/proc/self`, `/proc/<pid>` and
 * `/proc/thread-self` throw "Requires all access" (`--allow-all`). What needs no new flag: find(1),
 * the one program the binary may run, stats `/proc/self/` (its own process directory, owned by
 * its effective uid and gid, which it inherits from us) and prints `%U %G`: one spawn, 7 to 31 ms
 * measured (root and an unprivileged user, two busy cores), once per process. Names come from `/etc/passwd` and `/etc/group` read as files: Deno has no
 * NSS, and the shipper must not guess through one.
 */
import { FIND } from "../queue/non_utf8.ts";

/** The effective user and group of this process. */
export interface Identity {
  uid: number;
  gid: number;
}

let cached: Promise<Identity | null> | undefined;

/** Parses find's `%U %G` of `/proc/self/`. Pure. */
export function parseIdentity(text: string): Identity | null {
  const m = text.trim().match(/^(\d+) (\d+)$/);
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : null;
}

async function probe(): Promise<Identity | null> {
  try {
    // The trailing slash makes find stat the process directory, not the /proc/self symlink
    // (owned by root whoever reads it).
    const out = await new Deno.Command(FIND, {
      args: ["/proc/self/", "-maxdepth", "0", "-printf", "%U %G"],
      env: { LC_ALL: "C" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const found = out.success ? parseIdentity(new TextDecoder().decode(out.stdout)) : null;
    if (found) return found;
  } catch { /* no find(1), or no permission to run it: try the runtime's own call below */ }
  try {
    // Only with --allow-sys (the test runner has it; the binary does not).
    return { uid: Deno.uid() ?? -1, gid: Deno.gid() ?? -1 };
  } catch {
    return null;
  }
}

/**
 * The effective uid and gid of this process, learnt once; null when neither find(1) nor the
 * runtime can tell (callers then behave as before they knew).
 *
 * @example
 * ```ts
 * import { processIdentity } from "./identity.ts";
 * const me = await processIdentity(); // { uid: 999, gid: 999 } for the service user
 * ```
 */
export function processIdentity(): Promise<Identity | null> {
  cached ??= probe();
  return cached;
}

/** The name of `id` in the text of `/etc/passwd` or `/etc/group`, or null. Pure. */
export function nameInDatabase(text: string, id: number): string | null {
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 3 && fields[2] === String(id) && fields[0]) return fields[0];
  }
  return null;
}

/** Options for {@linkcode accountName}. */
export interface AccountNameOptions {
  /** Which database. @default {"passwd"} */
  database?: "passwd" | "group";
  /** Its path. @default {"/etc/passwd" or "/etc/group"} */
  path?: string;
}

/** The name of a numeric user (or group) from `/etc/passwd` (or `/etc/group`); null if absent. */
export async function accountName(
  id: number,
  options: AccountNameOptions = {},
): Promise<string | null> {
  const database = options.database ?? "passwd";
  try {
    return nameInDatabase(await Deno.readTextFile(options.path ?? `/etc/${database}`), id);
  } catch {
    return null;
  }
}
