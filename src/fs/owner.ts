/**
 * Only `data_root`'s owner changes `data_root`. The owner is the service user (install.sh gives it
 * the directory); a file another user creates there (root through `sudo`, mostly) would belong to
 * that user, and the service, which cannot read or replace it, would fail on it at every start.
 * Rather than chown every file after the fact (a crash between create and chown still leaves one
 * behind, and only root may chown), a command that would write refuses at once, before touching
 * anything, with one line naming the command to run instead. Reading commands (`status`, `check`,
 * every `--dry-run`) create nothing and work for anyone who can read.
 */
import { accountName, processIdentity } from "./identity.ts";

/** The user running a command is not the owner of the data root it would change. */
export class NotOwnerError extends Error {
  constructor(
    readonly dataRoot: string,
    /** The owner: its uid and, when `/etc/passwd` has it, its name. */
    readonly owner: { uid: number; name: string | null },
    readonly callerUid: number,
  ) {
    super(
      `"${dataRoot}" belongs to ${
        describeUser(owner)
      }, not to uid ${callerUid}: files this command created there would lock the service out`,
    );
    this.name = "NotOwnerError";
  }
}

function describeUser(user: { uid: number; name: string | null }): string {
  return user.name === null ? `uid ${user.uid}` : `${user.name} (uid ${user.uid})`;
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./=,:+@%-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line that runs `args` as the owner: `sudo -u <name> cis490-ship <args>`, the name
 * as `'#<uid>'` (sudo's syntax) when `/etc/passwd` has none. Pure.
 *
 * @example
 * ```ts
 * import { sudoCommand } from "./owner.ts";
 * sudoCommand({ uid: 999, name: "cis490" }, ["requeue", "--all"]);
 * // "sudo -u cis490 cis490-ship requeue --all"
 * ```
 */
export function sudoCommand(
  owner: { uid: number; name: string | null },
  args: readonly string[],
): string {
  const user = owner.name ?? `#${owner.uid}`;
  return ["sudo", "-u", user, "cis490-ship", ...args].map(shellWord).join(" ");
}

/**
 * Refuses when the user running this process does not own `dataRoot`.
 * @throws {NotOwnerError} naming the owner; main.ts turns it into one line and exit 77
 */
export async function requireOwner(dataRoot: string): Promise<void> {
  const info = Deno.statSync(dataRoot);
  const caller = await processIdentity();
  // An unknown caller (no find(1) and no --allow-sys) is let through, as before the guard.
  if (info.uid === null || caller === null || caller.uid === info.uid) return;
  throw new NotOwnerError(
    dataRoot,
    { uid: info.uid, name: await accountName(info.uid) },
    caller.uid,
  );
}
