import { assertEquals } from "../support/assert.ts";
import { scrubSecrets } from "../../src/upload/scrub.ts";

Deno.test("scrubSecrets() removes every occurrence, and a secret cut off at the end", () => {
  const token = "tok-s3cret-abcdef";
  assertEquals(
    scrubSecrets(`authorization: Bearer ${token}\nagain ${token}`, [token]),
    "authorization: Bearer [redacted]\nagain [redacted]",
  );
  assertEquals(scrubSecrets(`Bearer ${token.slice(0, 8)}`, [token]), "Bearer [redacted]");
  assertEquals(scrubSecrets("a tok", [token]), "a tok", "a short common prefix is ordinary text");
  assertEquals(scrubSecrets("nothing here", ["", token]), "nothing here");
});
