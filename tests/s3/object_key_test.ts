/** objectKey() and objectMetadata(): the bucket layout shared by shipper and collectors. */
import { base64ToHex, objectKey, objectMetadata } from "../../src/upload/s3/object_key.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("objectKey() is <prefix>/<host_id>/<episode_id>.<ext>", () => {
  const e = {
    hostId: "lab-01",
    episodeId: "2026-01-01T00.00.00_run-1",
    compression: "zstd" as const,
  };
  assertEquals(objectKey("cis490/raw", e), "cis490/raw/lab-01/2026-01-01T00.00.00_run-1.tar.zst");
  assertEquals(
    objectKey("", { ...e, compression: "gzip" }),
    "lab-01/2026-01-01T00.00.00_run-1.tar.gz",
  );
  assertEquals(
    objectKey("p", { ...e, compression: "none" }),
    "p/lab-01/2026-01-01T00.00.00_run-1.tar",
  );
});

Deno.test("objectMetadata() carries host, episode, commit, digest, version; a subject escaped", () => {
  assertEquals(
    objectMetadata(
      { hostId: "h", episodeId: "e", commit: "c".repeat(40), sha256: "A".repeat(43) + "=" },
      { shipperVersion: "0.2.0", clientSubject: "CN=lab 01, O=Lab" },
    ),
    {
      "x-amz-meta-host-id": "h",
      "x-amz-meta-episode-id": "e",
      "x-amz-meta-commit": "c".repeat(40),
      "x-amz-meta-sha256": "A".repeat(43) + "=",
      "x-amz-meta-shipper-version": "0.2.0",
      "x-amz-meta-client-subject": "CN%3Dlab%2001%2C%20O%3DLab",
    },
  );
});

Deno.test("base64ToHex() gives the hex x-amz-content-sha256 wants", () => {
  const hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  assertEquals(base64ToHex("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), hex);
});
