import { assertEquals, assertMatch } from "../support/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import { unpackTar } from "modern-tar";
import {
  END_OF_ARCHIVE,
  entryHeader,
  padding,
  paxRecord,
  type TarEntryHeader,
  writeOctal,
} from "../../src/pack/_tar.ts";

function archive(entries: [TarEntryHeader, Uint8Array?][]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [header, body] of entries) {
    parts.push(entryHeader(header));
    if (body) parts.push(body, padding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

Deno.test("entryHeader() output is read back exactly by modern-tar, an independent reader", async () => {
  const body = new TextEncoder().encode("hello tar");
  const deep = `ep/${"d".repeat(150)}/${"f".repeat(90)}.txt`; // fits prefix + name
  const huge = `ep/${"x".repeat(120)}/${"y".repeat(120)}/${"z".repeat(120)}.bin`; // needs PAX path
  const unicode = "ep/données/Ωmega-ü.csv";
  const mtime = 1_700_000_000;
  const entries: [TarEntryHeader, Uint8Array?][] = [
    [{ name: "ep/", type: "directory", size: 0, mode: 0o755, mtime }],
    [{ name: "ep/a.txt", type: "file", size: body.length, mode: 0o640, mtime }, body],
    [{ name: deep, type: "file", size: body.length, mode: 0o644, mtime }, body],
    [{ name: huge, type: "file", size: body.length, mode: 0o644, mtime }, body],
    [{ name: unicode, type: "file", size: body.length, mode: 0o644, mtime }, body],
    [{
      name: "ep/link",
      type: "symlink",
      size: 0,
      mode: 0o777,
      mtime,
      linkname: "/".repeat(1) + "t".repeat(150),
    }],
  ];
  const read = await unpackTar(archive(entries), { strict: true });
  assertEquals(
    read.map((
      e,
    ) => [e.header.name, e.header.type, e.header.size, e.header.mode, e.header.uid, e.header.gid]),
    [
      ["ep/", "directory", 0, 0o755, 0, 0],
      ["ep/a.txt", "file", 9, 0o640, 0, 0],
      [deep, "file", 9, 0o644, 0, 0],
      [huge, "file", 9, 0o644, 0, 0],
      [unicode, "file", 9, 0o644, 0, 0],
      ["ep/link", "symlink", 0, 0o777, 0, 0],
    ],
  );
  assertEquals(read[5]?.header.linkname, "/" + "t".repeat(150));
  assertEquals(read[1]?.header.mtime?.getTime(), mtime * 1000);
  assertEquals(
    read.slice(1, 5).map((e) => new TextDecoder().decode(e.data)),
    Array(4).fill("hello tar"),
  );
  for (const e of read) {
    assertEquals(e.header.uname ?? "", "");
    assertEquals(e.header.gname ?? "", "");
  }
});

Deno.test("entryHeader() moves sizes past 8 GiB into a PAX size record", () => {
  const header = entryHeader({
    name: "ep/big",
    type: "file",
    size: 2 ** 33 + 1,
    mode: 0o644,
    mtime: 0,
  });
  assertEquals(header.length, 3 * 512);
  assertMatch(new TextDecoder().decode(header.subarray(512, 1024)), /^\d+ size=8589934593\n/);
  assertEquals(new TextDecoder().decode(header.subarray(1024 + 124, 1024 + 135)), "00000000000");
});

Deno.test("paxRecord() counts its own length across digit boundaries", () => {
  for (
    const value of [
      "a",
      "x".repeat(90),
      "x".repeat(94),
      "x".repeat(95),
      "x".repeat(990),
      "é".repeat(40),
    ]
  ) {
    const record = paxRecord("path", value);
    assertEquals(
      new TextEncoder().encode(record).length,
      Number(record.split(" ")[0]),
      record.slice(0, 12),
    );
  }
});

Deno.test("writeOctal() refuses values the field cannot hold instead of truncating", () => {
  const block = new Uint8Array(512);
  for (const value of [-1, 0o100000000000, 1.5, Number.NaN]) {
    assertThrows(() => writeOctal(block, 136, 12, value), RangeError);
  }
  writeOctal(block, 136, 12, 0o77777777777);
  assertEquals(new TextDecoder().decode(block.subarray(136, 147)), "77777777777");
});

Deno.test("entryHeader() moves times outside 1970–2242 into a PAX mtime record", () => {
  for (const mtime of [-315619200, 0o77777777777 + 1]) {
    const header = entryHeader({ name: "ep/t", type: "file", size: 1, mode: 0o644, mtime });
    assertEquals(header.length, 3 * 512);
    assertMatch(
      new TextDecoder().decode(header.subarray(512, 1024)),
      new RegExp(`^\\d+ mtime=${mtime}\\n`),
    );
    assertEquals(new TextDecoder().decode(header.subarray(1024 + 136, 1024 + 147)), "00000000000");
  }
  assertEquals(
    entryHeader({ name: "ep/t", type: "file", size: 1, mode: 0o644, mtime: 0o77777777777 }).length,
    512,
  );
});
