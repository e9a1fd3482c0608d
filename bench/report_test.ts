import assert from "node:assert/strict";
import {
  failureLine,
  formatSeconds,
  formatSize,
  formatTable,
  median,
  parseBenchArgs,
  ROW_IDS,
  shippedCount,
  sizesFor,
  TARGETS,
  verdictOf,
} from "./report.ts";

Deno.test("parseBenchArgs() reads every flag, with defaults", () => {
  const cases: [string[], object][] = [
    [[], { quick: false, runs: 3, only: [...ROW_IDS], help: false }],
    [["--quick"], { quick: true, runs: 1, only: [...ROW_IDS], help: false }],
    [["--quick", "--runs", "2"], { quick: true, runs: 2, only: [...ROW_IDS], help: false }],
    [["--runs=5"], { quick: false, runs: 5, only: [...ROW_IDS], help: false }],
    // Row order is the table's, whatever the order given.
    [["--only", "rss,gzip"], { quick: false, runs: 3, only: ["gzip", "rss"], help: false }],
    [["--out", "x.json"], {
      quick: false,
      runs: 3,
      only: [...ROW_IDS],
      help: false,
      out: "x.json",
    }],
    [["-h"], { quick: false, runs: 3, only: [...ROW_IDS], help: true }],
  ];
  for (const [argv, want] of cases) assert.deepEqual(parseBenchArgs(argv), want, argv.join(" "));
});

Deno.test("parseBenchArgs() rejects unknown rows, flags and bad counts", () => {
  for (
    const [argv, msg] of [
      [["--only", "gzip,fast"], 'Unknown row: "fast"'],
      [["--runs", "0"], 'Invalid --runs: "0"'],
      [["--runs", "1.5"], 'Invalid --runs: "1.5"'],
      [["--runs"], 'Missing value: "--runs"'],
      [["--fast"], 'Unknown argument: "--fast"'],
    ] as const
  ) {
    assert.throws(
      () => parseBenchArgs(argv),
      (e) => e instanceof TypeError && e.message.startsWith(msg),
    );
  }
});

Deno.test("sizesFor() gives the issue's sizes in full mode", () => {
  const s = sizesFor(false);
  assert.deepEqual(
    [s.bigBytes, s.episodes, s.fileBytes, s.manyFiles, s.rssSmallBytes, s.rssBigBytes, s.backlog],
    [1024 ** 3, 500, 5000, 10_000, 64 * 1024 ** 2, 2 * 1024 ** 3, 5000],
  );
});

Deno.test("verdictOf() compares each measurement with its target", () => {
  const cases: [Parameters<typeof verdictOf>, string][] = [
    [[TARGETS.gzip, { kind: "ratio", ratio: 0.3 }], "pass"],
    [[TARGETS.gzip, { kind: "ratio", ratio: 0.31 }], "miss"],
    [[TARGETS.files, { kind: "ratio", ratio: NaN }], "n/a"],
    [[TARGETS.zstd, null], "n/a"],
    [[TARGETS.rss, { kind: "flat", smallMiB: 80, bigMiB: 90 }], "pass"],
    // Under the ceiling but not flat.
    [[TARGETS.rss, { kind: "flat", smallMiB: 40, bigMiB: 90 }], "miss"],
    // Flat but over the ceiling.
    [[TARGETS.rss, { kind: "flat", smallMiB: 100, bigMiB: 101 }], "miss"],
    [[TARGETS.backlog, { kind: "bounded", fds: 64, peakMiB: 120 }], "pass"],
    [[TARGETS.backlog, { kind: "bounded", fds: 65, peakMiB: 50 }], "miss"],
    [[TARGETS.backlog, { kind: "bounded", fds: 20, peakMiB: 121 }], "miss"],
    // A measurement of the wrong kind judges nothing.
    [[TARGETS.backlog, { kind: "ratio", ratio: 0.1 }], "n/a"],
  ];
  for (const [[target, m], want] of cases) {
    assert.deepEqual(verdictOf(target, m), want, JSON.stringify(m));
  }
});

Deno.test("median() takes the middle, the upper one for an even count", () => {
  assert.deepEqual(median([3, 1, 2]), 2);
  assert.deepEqual(median([4, 1, 3, 2]), 3);
  assert.deepEqual(median([]), NaN);
});

Deno.test("formatSeconds() and formatSize() read like the issue's table", () => {
  assert.deepEqual([0.12, 2.414, 23.61].map(formatSeconds), ["120 ms", "2.41 s", "23.6 s"]);
  assert.deepEqual(
    [1024 ** 3, 2 * 1024 ** 3, 64 * 1024 ** 2, 5000].map(formatSize),
    ["1 GiB", "2 GiB", "64 MiB", "5 KB"],
  );
});

Deno.test("formatTable() pads columns and escapes pipes in cells", () => {
  assert.deepEqual(
    formatTable(["a", "peer"], [["long", "tar | curl"]]),
    [
      "| a    | peer        |",
      "|------|-------------|",
      "| long | tar \\| curl |",
    ].join("\n"),
  );
});

Deno.test("shippedCount() reads the --once summary", () => {
  assert.deepEqual(shippedCount("shipped: 500 (ep-1, …)\nduplicate: 0\n"), 500);
  assert.deepEqual(shippedCount("nothing\n"), null);
});

Deno.test("failureLine() keeps the error of the last error line", () => {
  const log = [
    "2026-11-27T14:10:25.100Z INFO packing episode=ep-big",
    '2026-11-27T14:10:25.143Z ERROR episode failed locally; will retry episode=ep-big error="zstd packing is not built yet"',
    "",
  ].join("\n");
  assert.deepEqual(failureLine(log), "zstd packing is not built yet");
  assert.deepEqual(
    failureLine("2026-11-27T14:10:25.143Z ERROR disk on fire\n"),
    "ERROR disk on fire",
  );
  assert.deepEqual(failureLine("last words\n"), "last words");
  assert.deepEqual(failureLine(""), "no output");
});
