import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  createProgress,
  formatProgress,
  type ProgressView,
  RATE_WINDOW_MS,
  showsProgress,
} from "../../src/cli/progress.ts";
import { FakeTime } from "../support/fake_time.ts";

const MiB = 1048576;

Deno.test("formatProgress() shows the episode in flight, its bytes, rate and ETA, and the totals", () => {
  const view: ProgressView = {
    current: { episode: "ep-1", phase: "upload", doneBytes: 10 * MiB, totalBytes: 40 * MiB },
    others: 1,
    rate: 2 * MiB,
    etaS: 15,
    packedBytes: 80 * MiB,
    uploadedBytes: 10 * MiB,
  };
  assertEquals(
    formatProgress(view),
    "ep-1 upload 10.0 MiB/40.0 MiB 25% · 2.0 MiB/s · ETA 15s (+1 in flight) | packed 80.0 MiB, uploaded 10.0 MiB",
  );
  assertEquals(
    formatProgress({ ...view, current: null, others: 0 }),
    "packed 80.0 MiB, uploaded 10.0 MiB",
  );
  assertMatch(formatProgress({ ...view, rate: null, etaS: null }), / · -\/s · ETA - /);
  assertMatch(formatProgress({ ...view, etaS: 3725 }), /ETA 1h02m/);
  const narrow = formatProgress(view, 40);
  assertEquals(narrow.length, 39, "never wraps a 40-column terminal");
  assertMatch(narrow, /…$/);
});

Deno.test("showsProgress() only on a terminal and never under journald", () => {
  assertEquals(showsProgress(true, undefined), true);
  assertEquals(showsProgress(false, undefined), false);
  assertEquals(showsProgress(true, "8:1234"), false);
});

function progressAt(time: FakeTime) {
  const out: string[] = [];
  const line = createProgress({ write: (t) => out.push(t), now: time.now, columns: () => 200 });
  return { out, line };
}

Deno.test("createProgress() moves while one large episode packs and uploads, with a rate and an ETA from the clock", () => {
  const time = new FakeTime(0);
  const { out, line } = progressAt(time);
  line.update({ phase: "pack", episode: "ep-big", doneBytes: 0, totalBytes: 40 * MiB });
  time.t += 1000;
  line.update({ phase: "pack", episode: "ep-big", doneBytes: 20 * MiB, totalBytes: 40 * MiB });
  time.t += 1000;
  line.update({ phase: "pack", episode: "ep-big", doneBytes: 40 * MiB, totalBytes: 40 * MiB });
  line.update({ phase: "upload", episode: "ep-big", doneBytes: 0, totalBytes: 30 * MiB });
  time.t += 2000;
  line.update({ phase: "upload", episode: "ep-big", doneBytes: 10 * MiB, totalBytes: 30 * MiB });
  assertEquals(out, [
    "\r\x1b[Kep-big pack 0 B/40.0 MiB 0% · -/s · ETA - | packed 0 B, uploaded 0 B",
    "\r\x1b[Kep-big pack 20.0 MiB/40.0 MiB 50% · 20.0 MiB/s · ETA 1s | packed 20.0 MiB, uploaded 0 B",
    "\r\x1b[Kpacked 40.0 MiB, uploaded 0 B",
    "\r\x1b[Kep-big upload 0 B/30.0 MiB 0% · -/s · ETA - | packed 40.0 MiB, uploaded 0 B",
    "\r\x1b[Kep-big upload 10.0 MiB/30.0 MiB 33% · 5.0 MiB/s · ETA 4s | packed 40.0 MiB, uploaded 10.0 MiB",
  ]);
});

Deno.test("createProgress() redraws at most every intervalMs, but at once when a phase starts or ends", () => {
  const time = new FakeTime(0);
  const { out, line } = progressAt(time);
  line.update({ phase: "upload", episode: "a", doneBytes: 0, totalBytes: 100 });
  for (let i = 1; i < 10; i++) {
    time.t += 10;
    line.update({ phase: "upload", episode: "a", doneBytes: i, totalBytes: 100 });
  }
  assertEquals(out.length, 1, "nine updates within 100 ms draw nothing");
  time.t += 10;
  line.update({ phase: "upload", episode: "a", doneBytes: 10, totalBytes: 100 });
  assertEquals(out.length, 2);
  line.update({ phase: "upload", episode: "a", doneBytes: 100, totalBytes: 100 });
  assertEquals(out.length, 3);
});

Deno.test("createProgress() clears its line before a log line and draws it again after", () => {
  const time = new FakeTime(0);
  const { out, line } = progressAt(time);
  line.log("before anything");
  line.update({ phase: "upload", episode: "a", doneBytes: 0, totalBytes: 100 });
  out.length = 0;
  line.log("2026-01-01T00:00:00.000Z INFO packed episode=b");
  assertEquals(out, [
    "\r\x1b[K",
    "2026-01-01T00:00:00.000Z INFO packed episode=b\n",
    "\r\x1b[Ka upload 0 B/100 B 0% · -/s · ETA - | packed 0 B, uploaded 0 B",
  ]);
  out.length = 0;
  line.end();
  assertEquals(out, ["\r\x1b[K"]);
  line.end();
  assertEquals(out.length, 1, "cleared once");
});

Deno.test("createProgress() counts bytes once across a retry, closes a failed phase, and shows the oldest of two in flight", () => {
  const time = new FakeTime(0);
  const { out, line } = progressAt(time);
  line.update({ phase: "upload", episode: "a", doneBytes: 0, totalBytes: 100 });
  time.t += 200;
  line.update({ phase: "upload", episode: "b", doneBytes: 0, totalBytes: 50 });
  time.t += 200;
  line.update({ phase: "upload", episode: "a", doneBytes: 60, totalBytes: 100 });
  assertMatch(
    out.at(-1)!,
    /^\r.\[Ka upload 60 B\/100 B .*\(\+1 in flight\) \| .*uploaded 60 B$/,
  );
  time.t += 200;
  line.update({ phase: "upload", episode: "a", doneBytes: 60, totalBytes: 100, ended: true });
  assertMatch(out.at(-1)!, /^\r.\[Kb upload 0 B\/50 B/);
  time.t += 200;
  // The retry starts from 0: only bytes beyond what was counted add up.
  line.update({ phase: "upload", episode: "a", doneBytes: 0, totalBytes: 100 });
  line.update({ phase: "upload", episode: "a", doneBytes: 100, totalBytes: 100 });
  assertMatch(out.at(-1)!, /uploaded 160 B$/);
});

Deno.test("createProgress() measures the rate over the last RATE_WINDOW_MS, so a stall shows", () => {
  const time = new FakeTime(0);
  const { out, line } = progressAt(time);
  line.update({ phase: "upload", episode: "a", doneBytes: 0, totalBytes: 100 * MiB });
  time.t += 1000;
  line.update({ phase: "upload", episode: "a", doneBytes: 10 * MiB, totalBytes: 100 * MiB });
  assertMatch(out.at(-1)!, / 10\.0 MiB\/s /);
  time.t += RATE_WINDOW_MS * 2;
  line.update({ phase: "upload", episode: "a", doneBytes: 11 * MiB, totalBytes: 100 * MiB });
  // 1 MiB in the 10 s since the last sample before the window.
  assertMatch(out.at(-1)!, / 102\.4 KiB\/s · ETA 14m50s /);
});
