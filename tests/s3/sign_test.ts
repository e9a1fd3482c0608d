/** signRequest() against the worked examples of AWS's Signature V4 documentation for S3. */
import { signRequest } from "../../src/upload/s3/sign.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

// The documentation's example key and time (Amazon S3 API reference, "Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk").
const KEYS = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const NOW = Date.UTC(2013, 4, 24);
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function signature(authorization: string | undefined): string {
  return authorization?.match(/Signature=([0-9a-f]{64})/)?.[1] ?? "";
}

Deno.test("signRequest() matches AWS's PUT Object example", () => {
  const signed = signRequest(
    {
      method: "PUT",
      host: "examplebucket.s3.amazonaws.com",
      path: "/test%24file.text",
      headers: {
        date: "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
      },
    },
    KEYS,
    { region: "us-east-1", now: NOW },
  );
  assertEquals(
    signature(signed.headers.authorization),
    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
  );
  assertMatch(
    signed.headers.authorization ?? "",
    /SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,/,
  );
  assertEquals(signed.headers["x-amz-date"], "20130524T000000Z");
});

Deno.test("signRequest() matches AWS's GET Bucket lifecycle example (a valueless query)", () => {
  const signed = signRequest(
    {
      method: "GET",
      host: "examplebucket.s3.amazonaws.com",
      path: "/?lifecycle",
      headers: { "x-amz-content-sha256": EMPTY },
    },
    KEYS,
    { region: "us-east-1", now: NOW },
  );
  assertEquals(
    signature(signed.headers.authorization),
    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
  );
});

Deno.test("signRequest() matches AWS's GET Bucket (list objects) example (a sorted query)", () => {
  const signed = signRequest(
    {
      method: "GET",
      host: "examplebucket.s3.amazonaws.com",
      path: "/?max-keys=2&prefix=J",
      headers: { "x-amz-content-sha256": EMPTY },
    },
    KEYS,
    { region: "us-east-1", now: NOW },
  );
  assertEquals(
    signature(signed.headers.authorization),
    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
  );
});

Deno.test("signRequest() signs with the clock it is given, not the machine's", () => {
  const a = signRequest(
    { method: "HEAD", host: "h", path: "/b/k", headers: { "x-amz-content-sha256": EMPTY } },
    KEYS,
    { region: "us-east-1", now: NOW },
  );
  assertEquals(a.headers["x-amz-date"], "20130524T000000Z");
  assertMatch(
    a.headers.authorization ?? "",
    /Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\//,
  );
});
