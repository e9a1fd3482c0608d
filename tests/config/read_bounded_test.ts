import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { readBounded, readBoundedText, ReadProblem } from "../../src/config/read_bounded.ts";
import { tempDir } from "../../devkit/fixtures.ts";

Deno.test("readBounded() reads a regular file up to its limit, and through a symlink", async () => {
  await using tmp = await tempDir();
  const file = join(tmp.path, "f");
  await Deno.writeTextFile(file, "x".repeat(100));
  await Deno.symlink(file, join(tmp.path, "link"));
  assertEquals((await readBounded(file, { limit: 100 })).length, 100);
  assertEquals(await readBoundedText(join(tmp.path, "link"), { limit: 100 }), "x".repeat(100));
  const error = await assertRejects(() => readBounded(file, { limit: 99 }), ReadProblem);
  assertEquals([error.reason, error.message], [
    "larger than 99 bytes",
    `"${file}" is larger than 99 bytes`,
  ]);
});

Deno.test("readBounded() refuses what is not a regular file before opening it", async () => {
  await using tmp = await tempDir();
  const fifo = join(tmp.path, "fifo");
  assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
  const binary = join(tmp.path, "binary");
  await Deno.writeFile(binary, new Uint8Array([0xff, 0xfe]));
  const cases: [() => Promise<unknown>, string][] = [
    [() => readBounded(fifo, { limit: 10 }), `"${fifo}" is not a regular file`],
    [() => readBounded("/dev/zero", { limit: 10 }), `"/dev/zero" is not a regular file`],
    [() => readBounded(tmp.path, { limit: 10 }), `"${tmp.path}" is not a regular file`],
    [
      () => readBounded(join(tmp.path, "none"), { limit: 10 }),
      `cannot read "${join(tmp.path, "none")}": file not found`,
    ],
    [
      () => readBounded(join(binary, "x"), { limit: 10 }),
      `cannot read "${join(binary, "x")}": file not found`,
    ],
    [() => readBoundedText(binary, { limit: 10 }), `"${binary}" is not UTF-8 text`],
  ];
  for (const [read, message] of cases) {
    assertEquals((await assertRejects(read, ReadProblem)).message, message);
  }
});
