import { assertEquals, assertMatch } from "./assert.ts";
import { guardDenoFs } from "./deno_fs_guard.ts";

Deno.test("guardDenoFs() records every Deno file call, even a swallowed one, until disposed", async () => {
  const original = Deno.lstat;
  {
    using guard = guardDenoFs();
    await Promise.resolve().then(() => Deno.lstat("/")).catch(() => null);
    let thrown: unknown = null;
    try {
      Deno.readDirSync("/");
    } catch (error) {
      thrown = error;
    }
    assertMatch(String(thrown), /Deno\.readDirSync called while the Deno file system is guarded/);
    assertEquals(guard.calls, ['Deno.lstat("/")', 'Deno.readDirSync("/")']);
  }
  assertEquals(Deno.lstat, original);
  assertEquals((await Deno.lstat("/")).isDirectory, true);
});
