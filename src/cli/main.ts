/**
 * argv → command → exit code. Nothing below this exits the process; main.ts does. Errors become
 * exit codes here, once: usage 2, config 78, another instance 75, anything else 1.
 */
import { ConfigError } from "../config/config.ts";
import { createLogger, describeError } from "../log/log.ts";
import { LockHeldError } from "../queue/lock.ts";
import { versionLine } from "../version.ts";
import { EXIT, UsageError } from "./args.ts";
import { type CommandLine, parseCommandLine } from "./commands.ts";

const encoder = new TextEncoder();

/** Runs the command line `args`; returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const env = (name: string) => Deno.env.get(name);
  const stdout = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  let line: CommandLine;
  try {
    line = parseCommandLine(args, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const name = error.command ? `cis490-ship ${error.command}` : "cis490-ship";
    Deno.stderr.writeSync(
      encoder.encode(`${name}: ${error.message}\nRun "${name} --help" for usage.\n`),
    );
    return EXIT.usage;
  }
  if (line.kind === "version") {
    stdout(versionLine());
    return EXIT.ok;
  }
  if (line.kind === "help") {
    Deno.stdout.writeSync(encoder.encode(line.text));
    return EXIT.ok;
  }
  const { invocation } = line;
  const logger = createLogger({
    format: invocation.logFormat,
    journald: Boolean(env("JOURNAL_STREAM")),
    debug: invocation.verbose,
  });
  const controller = new AbortController();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  // An AbortError whose message is the signal's name: a command exits 130 or 143 by it.
  const listeners = signals.map((s) => {
    const listener = () => {
      logger.info("signal received: finishing current work, then stopping");
      controller.abort(new DOMException(s, "AbortError"));
    };
    Deno.addSignalListener(s, listener);
    return [s, listener] as const;
  });
  try {
    const onHangup = (listener: () => void) => {
      Deno.addSignalListener("SIGHUP", listener);
      return () => Deno.removeSignalListener("SIGHUP", listener);
    };
    return await invocation.run({
      logger,
      stdout,
      signal: controller.signal,
      env,
      now: Date.now,
      onHangup,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.lines) logger.error(line);
      return EXIT.config;
    }
    if (error instanceof LockHeldError) {
      logger.error(error.message);
      return EXIT.tempFail;
    }
    logger.error(`unexpected failure: ${describeError(error)}`);
    return EXIT.failure;
  } finally {
    for (const [s, listener] of listeners) Deno.removeSignalListener(s, listener);
  }
}
