import { assertEquals, assertMatch } from "../support/assert.ts";
import { configPathOf, EXIT, parseCommandArgs, UsageError } from "../../src/cli/args.ts";
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
    ["requeue", "--all"],
    ["prune", "--dry-run", "-c", "c.toml"],
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
    [["prune", "--json"], /^Unknown option '--json'/, "prune"],
    [["requeue", "--json", "--all"], /^Unknown option '--json'/, "requeue"],
    [["status", "-v"], /^Unknown option '-v'/, "status"],
    [["run", "--dry-run"], /^Unknown option '--dry-run'/, "run"],
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
