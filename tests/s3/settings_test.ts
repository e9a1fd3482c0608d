/** s3SettingsProblems(): what the loader refuses, one line each. */
import {
  MIN_PART_BYTES,
  S3_DEFAULTS,
  type S3Settings,
  s3SettingsProblems,
} from "../../src/upload/s3/settings.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

const VALID: S3Settings = {
  endpoint: "https://rgw.lab.example:7480",
  bucket: "episodes",
  prefix: "cis490/ship",
  region: S3_DEFAULTS.region,
  pathStyle: true,
  credentials: { accessKeyId: "a", secretAccessKey: "s" },
  tls: {},
  verifyTls: true,
  partBytes: S3_DEFAULTS.partBytes,
  multipartThresholdBytes: S3_DEFAULTS.multipartThresholdBytes,
  requestTimeoutMs: 60_000,
};

Deno.test("s3SettingsProblems() accepts the defaults and an empty prefix", () => {
  assertEquals(s3SettingsProblems(VALID), []);
  assertEquals(s3SettingsProblems({ ...VALID, prefix: "" }), []);
});

Deno.test("s3SettingsProblems() names each bad setting", () => {
  const cases: [Partial<S3Settings>, RegExp][] = [
    [{ endpoint: "rgw:7480" }, /^endpoint: "rgw:7480" must start with https:\/\/ or http:\/\//],
    [{ endpoint: "https://rgw/episodes" }, /^endpoint: .* scheme, host and port only/],
    [{ bucket: "Episodes" }, /^bucket: "Episodes" is not a valid bucket name/],
    [{ bucket: "ab" }, /^bucket: "ab"/],
    [{ prefix: "/lab" }, /^prefix: "\/lab" must be segments/],
    [{ prefix: "lab/" }, /^prefix: "lab\/"/],
    [{ prefix: "a b" }, /^prefix: "a b"/],
    [{ partBytes: MIN_PART_BYTES - 1 }, /^part size: 5242879 is outside S3's/],
    [{ multipartThresholdBytes: MIN_PART_BYTES }, /^multipart threshold: 5242880 must be between/],
  ];
  for (const [change, pattern] of cases) {
    const problems = s3SettingsProblems({ ...VALID, ...change });
    assertEquals(problems.length, 1, JSON.stringify(problems));
    assertMatch(problems[0] ?? "", pattern);
  }
});
