import { assertEquals } from "../support/assert.ts";
import { createLogger, describeError } from "../../src/log/log.ts";

const NOW = () => Date.parse("2026-11-27T10:00:00Z");

Deno.test("createLogger() writes one text line per event, quoting values with spaces", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: NOW });
  log.info("shipped", { episode: "ep-1", reason: "two words", skip: undefined });
  log.debug("hidden");
  assertEquals(lines, ['2026-11-27T10:00:00.000Z INFO shipped episode=ep-1 reason="two words"']);
});

Deno.test("createLogger() prefixes journald priorities and writes JSON when asked", () => {
  const lines: string[] = [];
  const journal = createLogger({ write: (l) => lines.push(l), journald: true });
  journal.error("boom");
  journal.warn("hmm", { n: 1 });
  const json = createLogger({ write: (l) => lines.push(l), format: "json", now: NOW });
  json.info("shipped", { episode: "ep-1" });
  assertEquals(lines, [
    "<3>boom",
    "<4>hmm n=1",
    '{"ts":"2026-11-27T10:00:00.000Z","level":"info","msg":"shipped","episode":"ep-1"}',
  ]);
});

Deno.test("createLogger() never prints a registered secret", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), format: "json" });
  log.redact("tok-123");
  log.error("collector said Bearer tok-123 is wrong", { echo: "tok-123" });
  assertEquals(lines.some((l) => l.includes("tok-123")), false);
  assertEquals(lines[0]?.includes("[redacted]"), true);
});

Deno.test("describeError() follows the cause chain", () => {
  const inner = Object.assign(new Error("connect refused"), { code: "ECONNREFUSED" });
  assertEquals(
    describeError(new Error("upload failed", { cause: inner })),
    "upload failed: connect refused (ECONNREFUSED)",
  );
});

Deno.test("describeError() never describes an error as empty", () => {
  assertEquals(
    describeError(Object.assign(new Error(""), { code: "ENOSPC" })),
    "Error (ENOSPC)",
  );
  assertEquals(describeError(new DOMException("", "AbortError")), "AbortError");
  assertEquals(describeError({ message: "plain object", code: "EIO" }), "plain object (EIO)");
  assertEquals(describeError(""), "");
});

Deno.test("describeError() keeps the OS message of a Deno error and its code", async () => {
  const error = await Deno.open("/nonexistent/x").catch((e) => e);
  assertEquals(
    describeError(new Error('Cannot write tarball "/x"', { cause: error })),
    `Cannot write tarball "/x": ${error.message} (ENOENT)`,
  );
});
