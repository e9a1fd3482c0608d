/** Every command, the main help, and argv → the command to run. Pure. */
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";
import { VERSION } from "../version.ts";
import { type CliCommand, type Invocation, UsageError } from "./args.ts";
import { CHECK_COMMAND } from "./check.ts";
import { COLLECTOR_COMMAND } from "./collector.ts";
import { CONFIRM_COMMAND } from "./confirm.ts";
import { PRUNE_COMMAND } from "./prune.ts";
import { QUARANTINE_UNSTAMPED_COMMAND } from "./quarantine_unstamped.ts";
import { REQUEUE_COMMAND } from "./requeue.ts";
import { RUN_COMMAND } from "./run.ts";
import { STATUS_COMMAND } from "./status.ts";

/** The commands, in help order. */
export const COMMANDS: readonly CliCommand[] = [
  RUN_COMMAND,
  STATUS_COMMAND,
  CHECK_COMMAND,
  QUARANTINE_UNSTAMPED_COMMAND,
  REQUEUE_COMMAND,
  PRUNE_COMMAND,
  CONFIRM_COMMAND,
  COLLECTOR_COMMAND,
];

/** `cis490-ship --help`. */
export const MAIN_HELP =
  `cis490-ship ${VERSION}: ships finished experiment episodes to the collector over mutual TLS

Usage:
  cis490-ship [--config PATH] [--once]     ship episodes (a service; --once: one pass, then exit)
  cis490-ship <command> [options]
  cis490-ship --version | --help | <command> --help

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(22)} ${c.summary}`).join("\n")}

Every command but collector reads the shipper config: --config PATH, else $CIS490_CONFIG, else
${DEFAULT_CONFIG_PATH}.

Exit codes:
  0   success; the service or the collector stopped on SIGTERM/SIGINT
  1   unexpected failure; requeue refused or did not find an episode;
      confirm found no mark
  2   usage error
  75  --once left episodes queued (transient failures, backoff); another
      cis490-ship holds the data root; check cannot reach the collector
  77  the command would change the data root and you do not own it (sudo):
      run it as the owner, as the message says (sudo -u <owner> cis490-ship …)
  78  configuration error, or the collector refused our credentials or URL
  130 stopped by Ctrl-C (SIGINT); 143 stopped by SIGTERM (every command but
      the service and the collector, which stop gracefully with 0)

Examples:
  cis490-ship --once
  cis490-ship --once --dry-run
  cis490-ship status
  cis490-ship requeue --all --dry-run
`;

/** What the command line asks for. */
export type CommandLine =
  | { kind: "version" }
  | { kind: "help"; text: string }
  | { kind: "invoke"; command: string; invocation: Invocation };

/** Parses the command line. @throws {UsageError} */
export function parseCommandLine(
  args: readonly string[],
  env: (name: string) => string | undefined,
): CommandLine {
  const [first, ...rest] = args;
  const named = COMMANDS.find((c) => c.name === first);
  if (!named) {
    if (first === "--version" || first === "-V") {
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
      return { kind: "version" };
    }
    if (first === "--help" || first === "-h") return { kind: "help", text: MAIN_HELP };
    if (first !== undefined && !first.startsWith("-")) {
      throw new UsageError(`unknown command "${first}"`);
    }
  }
  const command = named ?? RUN_COMMAND;
  let parsed;
  try {
    parsed = command.parse(named ? rest : args, env);
  } catch (error) {
    // `cis490-ship --onse` is about the main usage, not a command the user did not name.
    if (error instanceof UsageError && !named) throw new UsageError(error.message);
    throw error;
  }
  return parsed === "help"
    ? { kind: "help", text: command.help }
    : { kind: "invoke", command: command.name, invocation: parsed };
}
