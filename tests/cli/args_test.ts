import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  configPathOf,
  EXIT,
  parseCommandArgs,
  signalExitCode,
  UsageError,
} from "../../src/cli/args.ts";
import { COMMANDS, MAIN_HELP, parseCommandLine } from "../../src/cli/commands.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/config/config.ts";

const noEnv = () => undefined;

function usageError(args: string[]): UsageError {
  try {
    parseCommandLine(args, noEnv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`accepted ${args.join(" ")}`);
}

Deno.test("configPathOf() prefers --config, then $CIS490_CONFIG, then the system path", () => {
  const env = (n: string) => (n === "CIS490_CONFIG" ? "/tmp/x.toml" : undefined);
  assertEquals(configPathOf({}, noEnv), DEFAULT_CONFIG_PATH);
  assertEquals(configPathOf({}, env), "/tmp/x.toml");
  assertEquals(configPathOf({ config: "/a.toml" }, env), "/a.toml");
});

Deno.test("parseCommandLine() runs the shipper with no command, or with run", () => {
  for (const args of [["--once", "-v"], ["run", "--once", "-v"]]) {
    const line = parseCommandLine(args, noEnv);
    assertEquals(line.kind, "invoke");
    if (line.kind !== "invoke") return;
    assertEquals(line.command, "run");
    assertEquals(line.invocation.verbose, true);
    assertEquals(line.invocation.logFormat, "text");
  }
  const json = parseCommandLine(["--log-format", "json"], noEnv);
  assertEquals(json.kind === "invoke" && json.invocation.logFormat, "json");
});

Deno.test("parseCommandLine() reads help and version forms", () => {
  assertEquals(parseCommandLine(["--version"], noEnv), { kind: "version" });
  assertEquals(parseCommandLine(["--help"], noEnv), { kind: "help", text: MAIN_HELP });
  for (const command of COMMANDS) {
    assertEquals(parseCommandLine([command.name, "--help"], noEnv), {
      kind: "help",
      text: command.help,
    });
    assertMatch(command.help, /^Usage: cis490-ship /);
    assertMatch(command.help, /\nExamples:\n {2}cis490-ship /, `${command.name} has examples`);
    const summary = command.summary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assertMatch(MAIN_HELP, new RegExp(`\\n {2}${command.name} +${summary}\\n`));
  }
});

Deno.test("parseCommandLine() accepts each command's own options", () => {
  const ok = [
    ["status", "--json", "--config", "c.toml"],
    ["check", "--offline"],
    ["check", "--json", "--offline"],
    ["quarantine-unstamped", "--dry-run", "--json"],
    ["requeue", "ep-1", "ep-2", "--dry-run"],
    ["requeue", "--all", "--json"],
    ["prune", "--dry-run", "-c", "c.toml"],
    ["prune", "--json"],
    ["confirm", "--all", "--dry-run", "--json"],
    ["--once", "--dry-run"],
    ["collector", "--config", "c.toml", "--log-format", "json"],
  ];
  for (const args of ok) assertEquals(parseCommandLine(args, noEnv).kind, "invoke", args.join(" "));
});

Deno.test("parseCommandLine() rejects options where they mean nothing, naming the command", () => {
  const cases: [string[], RegExp, string | undefined][] = [
    [["--onse"], /^Unknown option '--onse'/, undefined],
    [["frobnicate"], /^unknown command "frobnicate"$/, undefined],
    [["collector"], /^needs --config PATH$/, "collector"],
    [["--log-format", "xml"], /^--log-format must be "text" or "json", got "xml"$/, undefined],
    [["run", "extra"], /^unexpected argument "extra"$/, "run"],
    [["status", "--dry-run"], /^Unknown option '--dry-run'/, "status"],
    [["prune", "--all"], /^Unknown option '--all'/, "prune"],
    [["status", "-v"], /^Unknown option '-v'/, "status"],
    [["run", "--dry-run"], /^--dry-run goes with --once$/, "run"],
    [["--dry-run"], /^--dry-run goes with --once$/, undefined],
    [["confirm"], /^give names or --all$/, "confirm"],
    [["requeue"], /^give episode ids or --all$/, "requeue"],
    [["requeue", "--all", "ep-1"], /^give episode ids or --all, not both$/, "requeue"],
    [["prune", "ep-1"], /^unexpected argument "ep-1"$/, "prune"],
  ];
  for (const [args, pattern, command] of cases) {
    const error = usageError(args);
    assertMatch(error.message, pattern, args.join(" "));
    assertEquals(error.command, command, args.join(" "));
  }
  assertEquals(EXIT.usage, 2);
});

Deno.test("parseCommandArgs() returns help for -h and --help", () => {
  assertEquals(parseCommandArgs("x", ["-h"], {}), "help");
  assertEquals(parseCommandArgs("x", ["--help"], { json: { type: "boolean" } }), "help");
});

Deno.test("parseCommandLine() gives the service and the collector a graceful stop, every other command an abort", () => {
  const policy = (args: string[]) => {
    const line = parseCommandLine(args, noEnv);
    // Main's default for a command that does not say: abort.
    return line.kind === "invoke" ? line.invocation.signals ?? "abort" : null;
  };
  assertEquals(policy([]), "graceful");
  assertEquals(policy(["run"]), "graceful");
  assertEquals(policy(["collector", "-c", "c.toml"]), "graceful");
  for (
    const args of [["--once"], ["status"], ["check"], ["prune"], ["requeue", "--all"], [
      "quarantine-unstamped",
    ], ["confirm", "--all"]]
  ) assertEquals(policy(args), "abort", args.join(" "));
  assertEquals(signalExitCode("SIGINT"), 130);
  assertEquals(signalExitCode("SIGTERM"), 143);
});

Deno.test("every command's help lists each of its options with what it does", () => {
  // check builds its help by hand (until it is declared with defineCommand too).
  for (const command of COMMANDS.filter((c) => c.name !== "check")) {
    const options = command.help.split("\nOptions:\n")[1]?.split("\n\n")[0] ?? "";
    for (const line of options.split("\n")) {
      assertMatch(line, /^ {2}(-\w, | {4})--[\w-]+( [A-Z|]+)? {3,}\S/, `${command.name}: ${line}`);
    }
    assertMatch(options, /--help +show this help/, command.name);
  }
  assertMatch(COMMANDS.find((c) => c.name === "prune")!.help, /^ {6}--json {3,}print the report/m);
});
