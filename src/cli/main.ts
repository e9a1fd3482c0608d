/** argv → command → exit code. Nothing below this exits the process; main.ts does. */
import { createLogger, describeError } from "../log/log.ts";
import { VERSION } from "../version.ts";
import { type Command, EXIT, parseCommandLine, UsageError } from "./args.ts";
import { HELP } from "./help.ts";
import { runShipper } from "./run.ts";
import { runCollector } from "./collector.ts";

const encoder = new TextEncoder();

/** Runs the command line `args`; returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const env = (name: string) => Deno.env.get(name);
  const stdout = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  let command: Command;
  try {
    command = parseCommandLine(args, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    Deno.stderr.writeSync(
      encoder.encode(`cis490-ship: ${error.message}\nRun "cis490-ship --help" for usage.\n`),
    );
    return EXIT.usage;
  }
  if (command.kind === "version") {
    stdout(`cis490-ship ${VERSION}`);
    return EXIT.ok;
  }
  if (command.kind === "help") {
    Deno.stdout.writeSync(encoder.encode(HELP[command.topic]));
    return EXIT.ok;
  }
  const logger = createLogger({
    format: command.logFormat,
    journald: Boolean(env("JOURNAL_STREAM")),
    debug: command.verbose,
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
    const io = { logger, stdout, signal: controller.signal, env, onHangup };
    return command.kind === "collector"
      ? await runCollector({ configPath: command.configPath }, io)
      : await runShipper({ configPath: command.configPath, once: command.once }, io);
  } catch (error) {
    logger.error(`unexpected failure: ${describeError(error)}`);
    return EXIT.failure;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}
