import { assertEquals } from "../support/assert.ts";
import { formatProgress, progressReporter, showsProgress } from "../../src/cli/progress.ts";

Deno.test("formatProgress() counts episodes and MiB, and what is in flight", () => {
  assertEquals(
    formatProgress({ done: 0, inFlight: 1, bytesDone: 0 }),
    "uploaded 0 episodes (0.0 MiB), 1 in flight",
  );
  assertEquals(
    formatProgress({ done: 1, inFlight: 0, bytesDone: 3 * 1048576 }),
    "uploaded 1 episode (3.0 MiB)",
  );
});

Deno.test("showsProgress() only on a terminal and never under journald", () => {
  assertEquals(showsProgress(true, undefined), true);
  assertEquals(showsProgress(false, undefined), false);
  assertEquals(showsProgress(true, "8:1234"), false);
});

Deno.test("progressReporter() rewrites one line and clears it at the end", () => {
  const out: string[] = [];
  const r = progressReporter((t) => out.push(t));
  r.onUpload({ bytes: 1048576, done: false });
  r.onUpload({ bytes: 1048576, done: true });
  r.end();
  assertEquals(out, [
    "\r\x1b[Kuploaded 0 episodes (0.0 MiB), 1 in flight",
    "\r\x1b[Kuploaded 1 episode (1.0 MiB)",
    "\r\x1b[K",
  ]);
});
