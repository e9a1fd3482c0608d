import { assertEquals, assertMatch } from "../support/assert.ts";
import { EXIT, parseCommandLine, UsageError } from "../../src/cli/args.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/config/config.ts";

const noEnv = () => undefined;

Deno.test("parseCommandLine() defaults the config to $CIS490_CONFIG, then the system path", () => {
  assertEquals(parseCommandLine([], noEnv), {
    kind: "run",
    configPath: DEFAULT_CONFIG_PATH,
    once: false,
    logFormat: "text",
    verbose: false,
  });
  const env = (n: string) => (n === "CIS490_CONFIG" ? "/tmp/x.toml" : undefined);
  assertEquals(parseCommandLine(["--once"], env), {
    kind: "run",
    configPath: "/tmp/x.toml",
    once: true,
    logFormat: "text",
    verbose: false,
  });
  assertEquals(
    (parseCommandLine(["--config", "/a.toml", "--once"], env) as { configPath: string }).configPath,
    "/a.toml",
  );
});

Deno.test("parseCommandLine() reads the collector, help and version forms", () => {
  assertEquals(
    parseCommandLine(["collector", "--config", "c.toml", "--log-format", "json"], noEnv),
    {
      kind: "collector",
      configPath: "c.toml",
      logFormat: "json",
      verbose: false,
    },
  );
  assertEquals(parseCommandLine(["--help"], noEnv), { kind: "help", topic: "main" });
  assertEquals(parseCommandLine(["collector", "--help"], noEnv), {
    kind: "help",
    topic: "collector",
  });
  assertEquals(parseCommandLine(["--version"], noEnv), { kind: "version" });
});

Deno.test("parseCommandLine() rejects what it does not understand", () => {
  const cases: [string[], RegExp][] = [
    [["--onse"], /Unknown option '--onse'/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["collector"], /collector needs --config PATH/],
    [["--log-format", "xml"], /--log-format must be "text" or "json"/],
    [["run", "extra"], /unexpected argument "extra"/],
  ];
  for (const [args, pattern] of cases) {
    try {
      parseCommandLine(args, noEnv);
      throw new Error(`accepted ${args.join(" ")}`);
    } catch (error) {
      assertEquals(error instanceof UsageError, true, String(error));
      assertMatch((error as Error).message, pattern);
    }
  }
  assertEquals(EXIT.usage, 2);
});
