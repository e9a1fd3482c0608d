/**
 * The command line's shared vocabulary: exit codes, usage errors, each command's shape, and the
 * option parsing every command uses. Pure: no I/O, no exits.
 */
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import type { ProgressEvent } from "../queue/progress.ts";

/** Exit codes (README, "Command line"), the one place they are defined. */
export const EXIT = {
  ok: 0,
  /** Unexpected failure; or `requeue` refused an episode. */
  failure: 1,
  usage: 2,
  /** EX_TEMPFAIL: `--once` left episodes queued; another instance holds the data root; `check` cannot reach the collector. */
  tempFail: 75,
  /** EX_NOPERM: a command that would change `data_root`, run by a user who does not own it. */
  noPerm: 77,
  /** EX_CONFIG: configuration error, or the collector refused our credentials or URL. */
  config: 78,
  /** Stopped by SIGINT (Ctrl-C): 128 + 2, as a shell reports it. */
  interrupted: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  terminated: 143,
} as const;

/** The signals every command answers; SIGHUP is the service's reload. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** The exit code of a command stopped by `signal`. */
export function signalExitCode(signal: StopSignal): number {
  return signal === "SIGINT" ? EXIT.interrupted : EXIT.terminated;
}

/**
 * What SIGINT and SIGTERM do to a command. `abort`: its signal aborts at once and the process
 * exits 130 / 143 as soon as the command has unwound, within {@linkcode ABORT_DEADLINE_MS} even
 * if it is blocked (every data move survives kill -9, so stopping between two steps is safe).
 * `graceful` (the service): no new work, an upload in flight gets `stop_grace_s`, exit 0.
 */
export type SignalPolicy = "abort" | "graceful";

/**
 * How long an aborted command may take to unwind before the process exits anyway. It bounds a
 * wait nothing can cancel (a flock(2) another process holds); well under the second an operator
 * expects after Ctrl-C.
 */
export const ABORT_DEADLINE_MS = 500;

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

/** `NAME... | --all`: the names given, or "all"; both or neither is a usage error. */
export function namesOrAll(all: boolean, names: string[], noun: string): string[] | "all" {
  if (all && names.length > 0) throw new UsageError(`give ${noun} or --all, not both`);
  if (!all && names.length === 0) throw new UsageError(`give ${noun} or --all`);
  return all ? "all" : names;
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
  /** Draws progress on a terminal; absent under journald or into a pipe. */
  onProgress?: (event: ProgressEvent) => void;
}

/** A parsed command line, ready to run. */
export interface Invocation {
  logFormat: LogFormat;
  verbose: boolean;
  /** What SIGINT and SIGTERM do. @default {"abort"} */
  signals?: SignalPolicy;
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

/**
 * An option of a command: what `node:util` parseArgs needs, and what its help line says.
 * `arg` names the value of a string option in the help (`PATH`).
 */
export type OptionSpec = { type: "string" | "boolean"; short?: string; arg?: string; doc?: string };

/** Values of parsed options. */
export type OptionValues = Record<string, string | boolean | undefined>;

/** The options every shipper command takes. */
export const CONFIG_OPTION: Record<string, OptionSpec> = {
  config: {
    type: "string",
    short: "c",
    arg: "PATH",
    doc: `shipper config (default: $CIS490_CONFIG, else ${DEFAULT_CONFIG_PATH})`,
  },
};
/** `--log-format` and `-v`, for the long-running commands. */
export const LOG_OPTIONS: Record<string, OptionSpec> = {
  "log-format": {
    type: "string",
    arg: "FMT",
    doc: "text (default) or json; one line per event on stderr",
  },
  verbose: { type: "boolean", short: "v", doc: "also log debug lines" },
};
/** `--json`, for the commands with a report. */
export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: "boolean", doc: "print the report as one JSON document (version 1)" },
};
/** `--dry-run`, for the commands that change something. */
export const DRY_RUN_OPTION: Record<string, OptionSpec> = {
  "dry-run": { type: "boolean", doc: "print the plan, change nothing" },
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
  // parseArgs takes only what it knows; the help fields stay here.
  const known = Object.fromEntries(
    Object.entries(options).map((
      [name, o],
    ) => [name, o.short === undefined ? { type: o.type } : { type: o.type, short: o.short }]),
  );
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: { ...known, help: { type: "boolean", short: "h" } },
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
