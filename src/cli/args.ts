/**
 * The command line's shared vocabulary: exit codes, usage errors, each command's shape, and the
 * option parsing every command uses. Pure: no I/O, no exits.
 */
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";
import type { Logger } from "../log/log.ts";

/** Exit codes (SPEC §5), the one place they are defined. */
export const EXIT = {
  ok: 0,
  /** Unexpected failure; or `requeue` refused an episode. */
  failure: 1,
  usage: 2,
  /** EX_TEMPFAIL: `--once` left episodes queued; another instance holds the data root; `check` cannot reach the collector. */
  tempFail: 75,
  /** EX_CONFIG: configuration error, or the collector refused our credentials or URL. */
  config: 78,
  /** Stopped by SIGINT (128 + 2), as shells report it. */
  interrupted: 130,
  /** Stopped by SIGTERM (128 + 15). */
  terminated: 143,
} as const;

/** Log line format. */
export type LogFormat = "text" | "json";

/** A command line that cannot be understood (exit 2). */
export class UsageError extends Error {
  /** `command`: the subcommand whose usage was wrong, for the "--help" hint. */
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What a command gets from `main.ts`. */
export interface CommandIo {
  logger: Logger;
  /** One line on stdout. */
  stdout: (line: string) => void;
  /** Aborted on SIGTERM/SIGINT; its reason is an AbortError whose message names the signal. */
  signal: AbortSignal;
  env: (name: string) => string | undefined;
  /** @default {Date.now} in main.ts */
  now: () => number;
  /** Registers a SIGHUP listener; returns its removal. */
  onHangup?: (listener: () => void) => () => void;
}

/** A parsed command line, ready to run. */
export interface Invocation {
  logFormat: LogFormat;
  verbose: boolean;
  run(io: CommandIo): Promise<number>;
}

/** One subcommand: its name, help, and parser. */
export interface CliCommand {
  name: string;
  /** One line for the main help. */
  summary: string;
  /** `<command> --help`, with examples. */
  help: string;
  /** @throws {UsageError} */
  parse(args: readonly string[], env: (name: string) => string | undefined): Invocation | "help";
}

/** An option of a command, as `node:util` parseArgs takes it. */
export type OptionSpec = { type: "string" | "boolean"; short?: string };

/** Values of parsed options. */
export type OptionValues = Record<string, string | boolean | undefined>;

/** The options every shipper command takes. */
export const CONFIG_OPTION: Record<string, OptionSpec> = {
  config: { type: "string", short: "c" },
};
/** `--log-format` and `-v`, for the long-running commands. */
export const LOG_OPTIONS: Record<string, OptionSpec> = {
  "log-format": { type: "string" },
  verbose: { type: "boolean", short: "v" },
};

/**
 * Parses one command's arguments against its own options (plus `--help`). Returns "help" when
 * help was asked for. @throws {UsageError}
 */
export function parseCommandArgs(
  command: string,
  args: readonly string[],
  options: Record<string, OptionSpec>,
  allowPositionals = false,
): { values: OptionValues; positionals: string[] } | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: { ...options, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    const first = (error as Error).message.split("\n")[0] ?? "invalid arguments";
    throw new UsageError(first.replace(/\. To specify a positional.*$/, ""), command);
  }
  const values = parsed.values as OptionValues;
  if (values.help) return "help";
  if (!allowPositionals && parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`, command);
  }
  return { values, positionals: parsed.positionals };
}

/** `--config`, else `$CIS490_CONFIG`, else the system path. */
export function configPathOf(
  values: OptionValues,
  env: (name: string) => string | undefined,
): string {
  const given = values.config;
  return typeof given === "string" ? given : env("CIS490_CONFIG") ?? DEFAULT_CONFIG_PATH;
}

/** `--log-format` and `-v`. @throws {UsageError} */
export function logOptionsOf(values: OptionValues): { logFormat: LogFormat; verbose: boolean } {
  const logFormat = values["log-format"] ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`--log-format must be "text" or "json", got "${logFormat}"`);
  }
  return { logFormat, verbose: values.verbose === true };
}
