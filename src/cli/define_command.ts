/**
 * One shape for every subcommand (deployctl's `subcommands/`): its options declared once, the
 * help generated from them, the arguments parsed against them, and what SIGINT and SIGTERM do.
 * A command file holds only its spec and a thin `run` that calls its domain. Pure.
 */
import {
  type CliCommand,
  type CommandIo,
  type Invocation,
  logOptionsOf,
  type OptionSpec,
  type OptionValues,
  parseCommandArgs,
  type SignalPolicy,
  UsageError,
} from "./args.ts";

/** The arguments of one command line, parsed against its options. */
export interface ParsedArgs {
  values: OptionValues;
  positionals: string[];
}

/** What a parsed command line runs. */
export interface CommandRun {
  run(io: CommandIo): Promise<number>;
  /** What SIGINT and SIGTERM do. @default {"abort"} */
  signals?: SignalPolicy;
}

/** A command, declared once: {@linkcode defineCommand} makes the parser and the help from it. */
export interface CommandSpec {
  name: string;
  /** One line for the main help. */
  summary: string;
  /** The usage line after "Usage: ". @default {"cis490-ship <name>" and the options} */
  usage?: string;
  /** What the command does: paragraphs for the help. */
  description: string;
  /** Its options; `--help` is added. Each `doc` becomes a help line. */
  options: Record<string, OptionSpec>;
  /** Whether it takes positional arguments. @default {false} */
  positionals?: boolean;
  /** Example command lines with an optional note each. */
  examples: readonly (readonly [string, string?])[];
  /** Reads the parsed arguments. @throws {UsageError} for arguments that do not fit together */
  parse(args: ParsedArgs, env: (name: string) => string | undefined): CommandRun;
}

function optionLabel(name: string, spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : "    ";
  return `${short}--${name}${spec.type === "string" ? ` ${spec.arg ?? "VALUE"}` : ""}`;
}

function columns(rows: readonly (readonly [string, string])[], indent = 2): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) =>
    right ? `${" ".repeat(indent)}${left.padEnd(width)}   ${right}` : `${" ".repeat(indent)}${left}`
  );
}

/** The usage line's default: the command and each option in brackets. */
function defaultUsage(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, o]) =>
    `[--${name}${o.type === "string" ? ` ${o.arg ?? "VALUE"}` : ""}]`
  );
  return ["cis490-ship", spec.name, ...options].join(" ");
}

/**
 * The help of a command, generated from its spec.
 * @example
 * ```ts
 * import { commandHelp } from "./define_command.ts";
 * commandHelp({
 *   name: "hello",
 *   summary: "says hello",
 *   description: "Says hello.",
 *   options: { loud: { type: "boolean", doc: "shout" } },
 *   examples: [["cis490-ship hello --loud"]],
 *   parse: () => ({ run: () => Promise.resolve(0) }),
 * }).startsWith("Usage: cis490-ship hello [--loud]"); // true
 * ```
 */
export function commandHelp(spec: CommandSpec): string {
  const options = columns([
    ...Object.entries(spec.options).map(([name, o]) =>
      [optionLabel(name, o), o.doc ?? ""] as const
    ),
    ["-h, --help", "show this help"],
  ]);
  const examples = columns(spec.examples.map(([line, note]) => [line, note ?? ""] as const));
  return [
    `Usage: ${spec.usage ?? defaultUsage(spec)}`,
    "",
    spec.description.trim(),
    "",
    "Options:",
    ...options,
    "",
    "Examples:",
    ...examples,
    "",
  ].join("\n");
}

/**
 * Makes a command from its spec: `parse` checks the arguments against the declared options
 * (`--help` anywhere returns "help"), reads `--log-format` and `-v` when declared, and names the
 * command in every usage error.
 */
export function defineCommand(spec: CommandSpec): CliCommand {
  const help = commandHelp(spec);
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    parse(args, env): Invocation | "help" {
      const parsed = parseCommandArgs(spec.name, args, spec.options, spec.positionals ?? false);
      if (parsed === "help") return "help";
      try {
        const log = "log-format" in spec.options
          ? logOptionsOf(parsed.values)
          : { logFormat: "text" as const, verbose: false };
        const command = spec.parse(parsed, env);
        return { ...log, signals: command.signals ?? "abort", run: command.run };
      } catch (error) {
        if (error instanceof UsageError && error.command === undefined) {
          throw new UsageError(error.message, spec.name);
        }
        throw error;
      }
    },
  };
}
