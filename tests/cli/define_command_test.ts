import { assertEquals } from "../support/assert.ts";
import { commandHelp, defineCommand } from "../../src/cli/define_command.ts";
import { CONFIG_OPTION, LOG_OPTIONS, UsageError } from "../../src/cli/args.ts";

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error("expected a usage error");
}

const SPEC = {
  name: "demo",
  summary: "does a demo",
  description: "\nDoes a demo.\n",
  options: {
    ...CONFIG_OPTION,
    count: { type: "string" as const, arg: "N", doc: "how many" },
    loud: { type: "boolean" as const, doc: "shout" },
  },
  examples: [["cis490-ship demo --loud", "shout"], ["cis490-ship demo --count 2"]] as const,
  parse: ({ values }: { values: Record<string, unknown> }) => {
    if (values.count === "0") throw new UsageError("--count must be positive");
    return { run: () => Promise.resolve(values.loud ? 1 : 0) };
  },
};

Deno.test("commandHelp() generates the usage line, the options and the examples from the spec", () => {
  assertEquals(
    commandHelp(SPEC),
    `Usage: cis490-ship demo [--config PATH] [--count N] [--loud]

Does a demo.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --count N       how many
      --loud          shout
  -h, --help          show this help

Examples:
  cis490-ship demo --loud      shout
  cis490-ship demo --count 2
`,
  );
});

Deno.test("defineCommand() parses against the declared options, names itself in usage errors, and defaults to abort", async () => {
  const command = defineCommand(SPEC);
  assertEquals(command.parse(["--help"], () => undefined), "help");
  const invocation = command.parse(["--loud"], () => undefined);
  if (invocation === "help") throw new Error("not help");
  assertEquals([invocation.signals, invocation.logFormat, invocation.verbose], [
    "abort",
    "text",
    false,
  ]);
  assertEquals(await invocation.run({} as never), 1);
  const unknown = usageError(() => command.parse(["--json"], () => undefined));
  assertEquals(unknown.command, "demo");
  const bad = usageError(() => command.parse(["--count", "0"], () => undefined));
  assertEquals([bad.message, bad.command], ["--count must be positive", "demo"]);
  const logs = defineCommand({ ...SPEC, options: { ...SPEC.options, ...LOG_OPTIONS } });
  const json = logs.parse(["--log-format", "json", "-v"], () => undefined);
  assertEquals(json !== "help" && [json.logFormat, json.verbose], ["json", true]);
});
