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
  /** What it runs, for failure messages: `cis490-ship collector --config …`. */
  name: string;
  /** Resolves with the first stdout line; rejects when the process ends before printing one. */
  firstLine: Promise<string>;
  /** All stderr, once the process ended. */
  stderr: Promise<string>;
  /** Its stderr so far. */
  stderrSoFar(): string;
  /**
   * Why it misbehaved while a test waits on it, or null: it exited (before `stop()`), or it logged
   * an ERROR line (unless spawned with `expectErrors`).
   */
  problem(): string | null;
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode spawnCli}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  /** ERROR lines are part of what the test checks, not a failure of the wait. @default {false} */
  expectErrors?: boolean;
}

/** Processes started by {@linkcode spawnCli} and not yet stopped: what waits watch. */
const running = new Set<CliProcess>();

/** The CLI processes started and not stopped by the test; `waitFor()` fails when one misbehaves. */
export function runningCliProcesses(): readonly CliProcess[] {
  return [...running];
}

/** A log line at ERROR level, in the text, journald or JSON format. */
const ERROR_LINE = /^(?:<3>)?\S+ ERROR .*$|^\{.*"level":"error".*$/m;

/** Starts the CLI and keeps it running; waits in tests/support/wait.ts watch it until `stop()`. */
export function spawnCli(args: string[], options: SpawnOptions = {}): CliProcess {
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
    // A reader released by hand: leaving a for-await loop would cancel stdout, and a child that
    // prints more would die of a broken pipe.
    const reader = child.stdout.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        reader.releaseLock();
        // Keep draining so the child never blocks on a full pipe.
        child.stdout.pipeTo(new WritableStream()).catch(() => {});
        return text.slice(0, nl);
      }
    }
    const status = await child.status;
    throw new Error(`process ended (code ${status.code}) before printing a line`);
  })();
  // Not every process prints a line (the daemon does not): that is only an error if awaited.
  firstLine.catch(() => {});
  let log = "";
  const stderr = (async () => {
    const errDecoder = new TextDecoder();
    for await (const chunk of child.stderr) log += errDecoder.decode(chunk, { stream: true });
    return log;
  })();
  let exit: Deno.CommandStatus | null = null;
  child.status.then((status) => (exit = status));
  const proc: CliProcess = {
    child,
    name: `cis490-ship ${args.join(" ")}`,
    firstLine,
    stderr,
    stderrSoFar: () => log,
    problem() {
      if (exit) return `exited with code ${exit.code}${exit.signal ? ` (${exit.signal})` : ""}`;
      const error = options.expectErrors ? null : ERROR_LINE.exec(log);
      return error ? `logged an error: ${error[0]}` : null;
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      running.delete(proc);
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const status = await child.status;
      await firstLine.catch(() => {});
      await stderr;
      return status;
    },
  };
  running.add(proc);
  return proc;
}
