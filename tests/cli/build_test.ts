import { assertEquals } from "../support/assert.ts";
import { buildArgs } from "../../scripts/build.ts";
import { cliCommand, MAIN } from "../../devkit/cli.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";

Deno.test("buildArgs() bakes in exactly the permission flags the CLI tests run under", () => {
  const build = buildArgs("out");
  const flags = build.filter((a) => a.startsWith("--allow-") || a.startsWith("--deny-"));
  assertEquals(flags, [...PERMISSION_FLAGS]);
  const test = cliCommand(["--once"]);
  assertEquals(test.filter((a) => a.startsWith("--allow-") || a.startsWith("--deny-")), flags);
  assertEquals(build.at(-1), "main.ts");
  assertEquals(test.includes(MAIN), true);
  assertEquals(flags.includes("--allow-all") || flags.includes("-A"), false);
  assertEquals(
    flags.some((f) => f.startsWith("--allow-run") || f.startsWith("--allow-ffi")),
    false,
  );
});
