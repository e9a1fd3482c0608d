/** The pure half of multipart uploads: parts, saved progress, the completed object's ETag. */
import { createHash } from "node:crypto";
import {
  multipartEtag,
  parseResume,
  partRange,
  planParts,
  resumeFits,
} from "../../src/upload/s3/multipart_plan.ts";
import { MAX_PARTS, MIN_PART_BYTES } from "../../src/upload/s3/settings.ts";
import { assertEquals } from "../support/assert.ts";

const MIB = 1024 * 1024;

Deno.test("planParts() cuts at the part size, the last part short", () => {
  const plan = planParts(5 * MIN_PART_BYTES + 1, MIN_PART_BYTES);
  assertEquals(plan, { partBytes: MIN_PART_BYTES, count: 6 });
  assertEquals(partRange(plan, 5 * MIN_PART_BYTES + 1, 6), {
    offset: 5 * MIN_PART_BYTES,
    length: 1,
  });
  assertEquals(partRange(plan, 5 * MIN_PART_BYTES + 1, 1), { offset: 0, length: MIN_PART_BYTES });
});

Deno.test("planParts() raises the part size (whole MiB) to stay within 10 000 parts", () => {
  const size = 100 * 1024 * MIB;
  const plan = planParts(size, 5 * MIB);
  assertEquals(plan.partBytes, 11 * MIB);
  assertEquals(plan.count <= MAX_PARTS, true);
  assertEquals(planParts(size + 1, 5 * MIB).count <= MAX_PARTS, true);
});

const GOOD = {
  v: 1,
  key: "lab/lab-01/e.tar.gz",
  sha256: "A".repeat(43) + "=",
  size: 10 * MIB,
  partBytes: 5 * MIB,
  uploadId: "2~abc",
  parts: [{ n: 1, etag: '"0123"', sha256: "ab" }],
};

Deno.test("parseResume() keeps a well-formed value and refuses anything else", () => {
  assertEquals(parseResume(GOOD), GOOD);
  for (
    const bad of [
      null,
      undefined,
      "x",
      { ...GOOD, v: 2 },
      { ...GOOD, uploadId: "" },
      { ...GOOD, size: -1 },
      { ...GOOD, partBytes: 0 },
      { ...GOOD, parts: [{ n: 0, etag: "x", sha256: "y" }] },
      { ...GOOD, parts: [{ n: 1, etag: 5, sha256: "y" }] },
      { ...GOOD, parts: "none" },
    ]
  ) {
    assertEquals(parseResume(bad), null, JSON.stringify(bad));
  }
});

Deno.test("resumeFits() refuses progress for another key, digest or size", () => {
  const resume = parseResume(GOOD)!;
  const expected = { key: GOOD.key, sha256: GOOD.sha256, size: GOOD.size };
  assertEquals(resumeFits(resume, expected), true);
  assertEquals(resumeFits(resume, { ...expected, key: "other/lab-01/e.tar.gz" }), false);
  assertEquals(resumeFits(resume, { ...expected, sha256: "B".repeat(43) + "=" }), false);
  assertEquals(resumeFits(resume, { ...expected, size: 1 }), false);
});

Deno.test("multipartEtag() is the MD5 of the parts' MD5s with the count, as S3 and RGW make it", () => {
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const parts = [md5("a"), md5("b")];
  const joined = Buffer.concat(parts.map((h) => Buffer.from(h, "hex")));
  const expected = `"${createHash("md5").update(joined).digest("hex")}-2"`;
  assertEquals(multipartEtag(parts.map((p) => `"${p}"`)), expected);
  assertEquals(multipartEtag(['"not-an-md5"']), null);
});
