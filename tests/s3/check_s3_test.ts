/** judgeS3Probe(): the probe's answers that a live store does not give on demand. */
import { judgeS3Probe } from "../../src/upload/s3/check_s3.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

const SETTINGS = { bucket: "episodes", endpoint: "https://rgw.lab:7480", prefix: "lab" };
const SENT = Date.UTC(2026, 0, 1);
const DATE = new Date(SENT).toUTCString();

function answer(status: number, code: string | null) {
  return {
    response: {
      status,
      headers: { date: DATE },
      body: code ? `<Error><Code>${code}</Code></Error>` : "",
    },
    sentAt: SENT,
  };
}

/** A step's verdict, with its class when it failed. */
const verdictOf = (s: { verdict: string; class?: string }) =>
  s.class ? `${s.verdict}:${s.class}` : s.verdict;

Deno.test("judgeS3Probe() without an answer: unreachable, the rest not checked", () => {
  const steps = judgeS3Probe({ error: "network failure" }, SETTINGS);
  assertEquals(steps.map(verdictOf), ["fail:transient", "skip", "skip"]);
  assertMatch(steps[0]?.message ?? "", /https:\/\/rgw.lab:7480 is not reachable: network failure/);
});

Deno.test("judgeS3Probe() with AccessDenied warns that duplicates cannot be recognised", () => {
  const steps = judgeS3Probe(answer(403, "AccessDenied"), SETTINGS);
  assertEquals(steps.map((s) => s.verdict), ["warn", "skip", "ok"]);
  assertMatch(steps[0]?.message ?? "", /grant s3:GetObject too/);
});

Deno.test("judgeS3Probe() with a store answering 503: unreachable, clock still judged", () => {
  const steps = judgeS3Probe(answer(503, "SlowDown"), SETTINGS);
  assertEquals(steps.map(verdictOf), ["fail:transient", "skip", "ok"]);
});

Deno.test("judgeS3Probe() with NoSuchKey: key, bucket and clock fine", () => {
  const steps = judgeS3Probe(answer(404, "NoSuchKey"), SETTINGS);
  assertEquals(steps.map((s) => s.verdict), ["ok", "ok", "ok"]);
  assertMatch(steps[2]?.message ?? "", /clock is 0 s ahead of the store's \(within a minute\)/);
});

Deno.test("judgeS3Probe() stopped by a signal: a stopped step naming it, the rest not checked", () => {
  const steps = judgeS3Probe({ stopped: true, by: "SIGINT" }, SETTINGS);
  assertEquals(steps.map((s) => [s.verdict, s.class ?? null]), [
    ["fail", "stopped"],
    ["skip", null],
    ["skip", null],
  ]);
  assertEquals(steps[0]?.message, "stopped by SIGINT before the store answered");
});
