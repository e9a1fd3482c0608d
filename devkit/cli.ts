/**
 * Runs the CLI as the binary would run: `main.ts` under exactly the permission flags that
 * `deno task build` bakes in.
 */
import { fileURLToPath } from "node:url";
import { PERMISSION_FLAGS } from "../src/permissions.ts";

/** Absolute path of main.ts. */
export const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What a CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The argv that runs the CLI with the build's permission flags. */
export function cliCommand(args: string[]): string[] {
  return ["run", "--quiet", ...PERMISSION_FLAGS, MAIN, ...args];
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: cliCommand(args),
    env: options.env ?? {},
    clearEnv: true,
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A CLI process left running (the collector, a daemon). */
export interface CliProcess {
  child: Deno.ChildProcess;
  /** Resolves with the first stdout line. */
  firstLine: Promise<string>;
  /** All stderr, once the process ended. */
  stderr: Promise<string>;
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts the CLI and keeps it running. */
export function spawnCli(
  args: string[],
  options: { env?: Record<string, string> } = {},
): CliProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliCommand(args),
    env: options.env ?? {},
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  const firstLine = (async () => {
    let text = "";
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        // Keep draining so the child never blocks on a full pipe.
        child.stdout.pipeTo(new WritableStream()).catch(() => {});
        return text.slice(0, nl);
      }
    }
    throw new Error("process ended before printing a line");
  })();
  // Not every process prints a line (the daemon does not): that is only an error if awaited.
  firstLine.catch(() => {});
  const stderr = new Response(child.stderr).text();
  return {
    child,
    firstLine,
    stderr,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const status = await child.status;
      await firstLine.catch(() => {});
      await stderr;
      return status;
    },
  };
}
