/** argv → a command to run. Pure: no I/O, no exits. */
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_PATH } from "../config/config.ts";

/** Exit codes (SPEC §5), the one place they are defined. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** EX_TEMPFAIL: `--once` left episodes queued; or another instance holds the data root. */
  tempFail: 75,
  /** EX_CONFIG: configuration error, or the collector refused our credentials or URL. */
  config: 78,
} as const;

/** Log line format. */
export type LogFormat = "text" | "json";

/** What the command line asks for. */
export type Command =
  | { kind: "help"; topic: "main" | "run" | "collector" }
  | { kind: "version" }
  | { kind: "run"; configPath: string; once: boolean; logFormat: LogFormat; verbose: boolean }
  | { kind: "collector"; configPath: string; logFormat: LogFormat; verbose: boolean };

/** A command line that cannot be understood (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parses the command line. @throws {UsageError} */
export function parseCommandLine(
  args: readonly string[],
  env: (name: string) => string | undefined,
): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        once: { type: "boolean" },
        "log-format": { type: "string" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0] ?? "invalid arguments");
  }
  const { values, positionals } = parsed;
  const [subcommand, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (subcommand !== undefined && subcommand !== "run" && subcommand !== "collector") {
    throw new UsageError(`unknown command "${subcommand}"`);
  }
  if (values.version) return { kind: "version" };
  if (values.help) return { kind: "help", topic: subcommand ?? "main" };
  const logFormat = values["log-format"] ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`--log-format must be "text" or "json", got "${logFormat}"`);
  }
  const verbose = values.verbose ?? false;
  if (subcommand === "collector") {
    if (values.once) throw new UsageError("--once does not apply to collector");
    if (!values.config) throw new UsageError("collector needs --config PATH");
    return { kind: "collector", configPath: values.config, logFormat, verbose };
  }
  const configPath = values.config ?? env("CIS490_CONFIG") ?? DEFAULT_CONFIG_PATH;
  return { kind: "run", configPath, once: values.once ?? false, logFormat, verbose };
}
