import { assertEquals } from "../support/assert.ts";
import { classifyStatus, parseRetryAfter } from "../../src/upload/classify.ts";

Deno.test("classifyStatus() follows every row of the SPEC §4 table", () => {
  const rows: [number[], string][] = [
    [[200, 201, 204], "stored"],
    [[409], "duplicate"],
    [[400, 410, 412, 413, 415, 422, 402, 406, 411, 418, 451], "refused"],
    [[401, 403, 407], "credentials"],
    [[404, 405, 301, 302, 307, 308], "misconfigured"],
    [[408, 425, 429, 500, 502, 503, 504, 599], "transient"],
  ];
  for (const [statuses, expected] of rows) {
    for (const status of statuses) assertEquals(classifyStatus(status), expected, `HTTP ${status}`);
  }
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.parse("2026-11-27T10:00:00Z");
  assertEquals(parseRetryAfter("120", now), 120_000);
  assertEquals(parseRetryAfter(" 0 ", now), 0);
  assertEquals(parseRetryAfter("Fri, 27 Nov 2026 10:01:00 GMT", now), 60_000);
  assertEquals(parseRetryAfter("Fri, 27 Nov 2026 09:00:00 GMT", now), 0);
  assertEquals(parseRetryAfter("soon", now), null);
  assertEquals(parseRetryAfter(undefined, now), null);
});
