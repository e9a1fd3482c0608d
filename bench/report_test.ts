import assert from "node:assert/strict";
import {
  failureLine,
  formatSeconds,
  formatSize,
  formatTable,
  median,
  parseBenchArgs,
  pick,
  shippedCount,
  tableOf,
  type Target,
  verdictOf,
} from "./report.ts";
import { JOBS } from "./jobs.ts";

const ROW_IDS = ["floor", "gzip", "zstd", "rss"];

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
  for (const [argv, want] of cases) {
    assert.deepEqual(parseBenchArgs(argv, ROW_IDS), want, argv.join(" "));
  }
});

Deno.test("parseBenchArgs() rejects unknown rows, flags and bad counts", () => {
  for (
    const [argv, msg] of [
      [["--only", "gzip,fast"], 'Unknown job: "fast"'],
      [["--runs", "0"], 'Invalid --runs: "0"'],
      [["--runs", "1.5"], 'Invalid --runs: "1.5"'],
      [["--runs"], 'Missing value: "--runs"'],
      [["--fast"], 'Unknown argument: "--fast"'],
    ] as const
  ) {
    assert.throws(
      () => parseBenchArgs(argv, ROW_IDS),
      (e) => e instanceof TypeError && e.message.startsWith(msg),
    );
  }
});

Deno.test("pick() takes the full or the quick sizes", () => {
  assert.deepEqual(pick(false, { full: 1, quick: 2 }), 1);
  assert.deepEqual(pick(true, { full: 1, quick: 2 }), 2);
});

Deno.test("JOBS have unique ids, and --only accepts every one of them", () => {
  const ids = JOBS.map((j) => j.id);
  assert.deepEqual(new Set(ids).size, ids.length);
  assert.deepEqual(parseBenchArgs(["--only", ids.join(",")], ids).only, ids);
});

Deno.test("verdictOf() compares each measurement with its target", () => {
  const ratio: Target = { kind: "ratio", max: 0.3 };
  const ceiling: Target = { kind: "ceiling", maxMB: 80 };
  const bounded: Target = { kind: "bounded", maxFds: 64, maxMB: 90 };
  const bytes: Target = { kind: "bytes", max: 1 };
  const cases: [Parameters<typeof verdictOf>, string][] = [
    [[ratio, { kind: "ratio", ratio: 0.3 }], "pass"],
    [[ratio, { kind: "ratio", ratio: 0.31 }], "miss"],
    [[ratio, { kind: "ratio", ratio: NaN }], "n/a"],
    [[ratio, null], "n/a"],
    [[ceiling, { kind: "ceiling", peakMB: 80 }], "pass"],
    [[ceiling, { kind: "ceiling", peakMB: 80.1 }], "miss"],
    [[bounded, { kind: "bounded", fds: 64, peakMB: 90 }], "pass"],
    [[bounded, { kind: "bounded", fds: 65, peakMB: 50 }], "miss"],
    [[bounded, { kind: "bounded", fds: 20, peakMB: 91 }], "miss"],
    [[bytes, { kind: "bytes", ratio: 0.98 }], "pass"],
    [[bytes, { kind: "bytes", ratio: 1.02 }], "miss"],
    [[{ kind: "none" }, { kind: "ratio", ratio: 0.1 }], "n/a"],
    // A measurement of the wrong kind judges nothing.
    [[bounded, { kind: "ratio", ratio: 0.1 }], "n/a"],
  ];
  for (const [[target, m], want] of cases) {
    assert.deepEqual(verdictOf(target, m), want, JSON.stringify(m));
  }
});

Deno.test("tableOf() puts the error in the verdict when nothing was measured", () => {
  const table = tableOf([{
    id: "zstd",
    workload: "1 GiB",
    ours: "n/a",
    peer: "",
    ratio: null,
    target: "≤ 1.8×",
    verdict: "n/a",
    context: "",
    error: "exit 1",
    data: {},
  }]);
  assert.match(
    table.split("\n")[2]!,
    /^\| zstd \| 1 GiB +\| n\/a +\| +\| — +\| ≤ 1\.8× \| n\/a: exit 1 \|/,
  );
});

Deno.test("median() takes the middle, the upper one for an even count", () => {
  assert.deepEqual(median([3, 1, 2]), 2);
  assert.deepEqual(median([4, 1, 3, 2]), 3);
  assert.deepEqual(median([]), NaN);
});

Deno.test("formatSeconds() and formatSize() read like the issue's table", () => {
  assert.deepEqual([0.12, 2.414, 23.61].map(formatSeconds), ["120 ms", "2.41 s", "23.6 s"]);
  assert.deepEqual(
    [1024 ** 3, 2 * 1024 ** 3, 64 * 1024 ** 2, 5000, 273].map(formatSize),
    ["1 GiB", "2 GiB", "64 MiB", "5 KB", "273 B"],
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
