/**
 * The stand-in for the compiled binary until one can be built: a two-line shell script that runs
 * `main.ts` under exactly the permission flags `deno task build` bakes in.
 */
import { cliCommand } from "./cli.ts";

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=,:+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The wrapper's text: a shebang and one `exec deno run … main.ts "$@"`. */
export function cliWrapperScript(): string {
  const argv = [Deno.execPath(), ...cliCommand([])].map(shellQuote).join(" ");
  return `#!/bin/sh\nexec ${argv} "$@"\n`;
}

/** Writes the wrapper to `path`, executable (0755). */
export async function writeCliWrapper(path: string): Promise<void> {
  await Deno.writeTextFile(path, cliWrapperScript(), { mode: 0o755 });
  await Deno.chmod(path, 0o755);
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("usage: deno run -A devkit/wrapper.ts PATH");
    Deno.exit(2);
  }
  await writeCliWrapper(path);
  console.log(`wrote ${path}`);
}
