/** The pass's bound on garbage, and the binary's flags that give it gc(). */
import { assertEquals } from "./support/assert.ts";
import { GarbageBound } from "../src/gc.ts";
import { PERMISSION_FLAGS } from "../src/permissions.ts";

Deno.test("GarbageBound collects once the heap grew by its slack, then measures from there", () => {
  let held = 10;
  let collections = 0;
  const bound = new GarbageBound(4, {
    held: () => held,
    gc: () => {
      collections++;
      held = 11; // What survived.
    },
  });
  held = 14;
  assertEquals(bound.check(), false, "grown by exactly the slack: no collection yet");
  held = 15;
  assertEquals(bound.check(), true);
  assertEquals(collections, 1);
  held = 15;
  assertEquals(bound.check(), false, "measured from what survived (11), not from the start (10)");
  held = 16;
  assertEquals(bound.check(), true);
  assertEquals(collections, 2);
});

Deno.test("GarbageBound does nothing where the runtime offers no gc()", () => {
  let held = 0;
  const bound = new GarbageBound(1, { held: () => held, gc: undefined });
  held = 100;
  assertEquals(bound.check(), false);
});

Deno.test("the binary's flags expose gc() to the pass", async () => {
  const script = "data:application/javascript,console.log(typeof globalThis.gc)";
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSION_FLAGS, script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assertEquals(new TextDecoder().decode(out.stdout).trim(), "function");
});
