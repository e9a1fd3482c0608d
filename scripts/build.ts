/**
 * `deno task build`: compiles the single binary `dist/cis490-ship` with the permission flags from
 * src/permissions.ts (the same ones the CLI tests run main.ts under). Needs internet: `deno
 * compile` downloads its base runtime (denort) on first use.
 */
import { PERMISSION_FLAGS } from "../src/permissions.ts";

/** The `deno compile` arguments; exported so a test can hold them to the permission flags. */
export function buildArgs(output = "dist/cis490-ship", target?: string): string[] {
  return [
    "compile",
    ...PERMISSION_FLAGS,
    "--no-prompt",
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    "main.ts",
  ];
}

if (import.meta.main) {
  const target = Deno.args[0];
  const args = buildArgs(undefined, target);
  console.log(`deno ${args.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
  Deno.exit(code);
}
