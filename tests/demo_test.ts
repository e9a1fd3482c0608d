import { assertEquals, assertMatch } from "./support/assert.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../devkit/fixtures.ts";

const DEMO = fileURLToPath(new URL("../demo/demo.ts", import.meta.url));

Deno.test("demo runs the whole system on loopback and says where every episode went", async () => {
  await using tmp = await tempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-run",
      DEMO,
      join(tmp.path, "demo-run"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, text + new TextDecoder().decode(out.stderr));
  assertMatch(text, /^ {3}out \| shipped: 3 \(ep-0001, ep-0002, ep-0003\)$/m);
  assertMatch(
    text,
    /^ {2}ep-0004-unstamped +→ quarantine\/ — preflight: meta\.json has no code_version\.commit/m,
  );
  assertMatch(text, /^ {2}ep-0005-running +→ episodes\/ \(left alone\)$/m);
  assertEquals(text.split("sha-256 matches its sidecar").length - 1, 3);
});
