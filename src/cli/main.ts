/**
 * argv → command → exit code. Nothing below this exits the process; main.ts does. Errors become
 * exit codes here, once: usage 2, config 78, another instance 75, not data_root's owner 77,
 * anything else 1.
 */
import { ConfigError } from "../config/config.ts";
import { createLogger, describeError } from "../log/log.ts";
import { LockHeldError } from "../queue/lock.ts";
import { NotOwnerError, sudoCommand } from "../fs/owner.ts";
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
  const onSignal = () => {
    logger.info("signal received: finishing current work, then stopping");
    controller.abort();
  };
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
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
      logger.error(error.message);
      return EXIT.config;
    }
    if (error instanceof LockHeldError) {
      logger.error(error.message);
      return EXIT.tempFail;
    }
    if (error instanceof NotOwnerError) {
      // sudo drops the environment: a config named by $CIS490_CONFIG is named on the line.
      const config = env("CIS490_CONFIG");
      const named = args.some((a) => /^(-c|--config)(=|$)/.test(a) || /^-c./.test(a));
      const rerun = config !== undefined && !named ? [...args, "--config", config] : args;
      logger.error(`${error.message}; run it as the owner: ${sudoCommand(error.owner, rerun)}`);
      return EXIT.noPerm;
    }
    logger.error(`unexpected failure: ${describeError(error)}`);
    return EXIT.failure;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}
