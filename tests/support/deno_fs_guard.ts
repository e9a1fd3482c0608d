/**
 * Proves a code path does all its file I/O through an injected `Fs`: while the guard is held,
 * every file system function of the `Deno` namespace records its call and throws. A call that
 * the code under test swallows (`.catch(() => null)`) is still recorded, so a test asserts
 * `calls` is empty rather than relying on an exception reaching it.
 */

/** The file system functions of the `Deno` namespace (those present in this Deno are patched). */
const NAMES = [
  "open",
  "create",
  "readFile",
  "readTextFile",
  "writeFile",
  "writeTextFile",
  "readDir",
  "lstat",
  "stat",
  "mkdir",
  "remove",
  "rename",
  "chmod",
  "chown",
  "copyFile",
  "link",
  "symlink",
  "readLink",
  "realPath",
  "truncate",
  "utime",
  "makeTempDir",
  "makeTempFile",
].flatMap((name) => [name, `${name}Sync`]);

/** A held guard: the calls seen so far; disposing it puts Deno's functions back. */
export interface DenoFsGuard extends Disposable {
  calls: string[];
}

/**
 * Replaces Deno's file system functions until the guard is disposed.
 * @example
 * ```ts
 * import { guardDenoFs } from "./deno_fs_guard.ts";
 * using guard = guardDenoFs();
 * // … run the code under test with an in-memory Fs …
 * guard.calls; // [] when it touched the disk only through that Fs
 * ```
 */
export function guardDenoFs(): DenoFsGuard {
  const deno = Deno as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  const calls: string[] = [];
  for (const name of NAMES) {
    const original = deno[name];
    if (typeof original !== "function") continue;
    saved.set(name, original);
    deno[name] = (...args: unknown[]) => {
      calls.push(`Deno.${name}(${JSON.stringify(args[0])})`);
      throw new Error(`Deno.${name} called while the Deno file system is guarded`);
    };
  }
  return {
    calls,
    [Symbol.dispose]() {
      for (const [name, original] of saved) deno[name] = original;
    },
  };
}
