/** classifyS3Answer() and friends: the store's answers in the outcome table's classes. */
import {
  classifyS3Answer,
  classifyS3Failure,
  clockSkewMs,
  describeS3Answer,
  describeSkew,
  type S3Response,
} from "../../src/upload/s3/classify_s3.ts";
import { UploadError } from "../../src/upload/put.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

const SENT = Date.UTC(2026, 0, 1, 12, 0, 0);
const CTX = { sentAt: SENT, bucket: "episodes", endpoint: "https://rgw.lab:7480" };

function error(status: number, code: string, headers: Record<string, string> = {}): S3Response {
  return {
    status,
    headers: { date: new Date(SENT).toUTCString(), ...headers },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message></Message>` +
      `<RequestId>tx1</RequestId></Error>`,
  };
}

Deno.test("classifyS3Answer() sorts every error code the issue names", () => {
  const table: [number, string, string][] = [
    [403, "SignatureDoesNotMatch", "credentials"],
    [403, "InvalidAccessKeyId", "credentials"],
    [403, "AccessDenied", "credentials"],
    [403, "RequestTimeTooSkewed", "clock"],
    [404, "NoSuchBucket", "misconfigured"],
    [503, "SlowDown", "transient"],
    [500, "InternalError", "transient"],
    [400, "EntityTooLarge", "refused"],
    [400, "XAmzContentSHA256Mismatch", "repack"],
    [400, "BadDigest", "repack"],
    [400, "IncompleteBody", "repack"],
    [400, "RequestTimeout", "transient"],
    [400, "AuthorizationHeaderMalformed", "misconfigured"],
    [301, "PermanentRedirect", "misconfigured"],
    [400, "InvalidArgument", "refused"],
  ];
  for (const [status, code, cls] of table) {
    assertEquals(classifyS3Answer(error(status, code), CTX).class, cls, code);
  }
});

Deno.test("classifyS3Answer() honours Retry-After on SlowDown", () => {
  const answer = classifyS3Answer(error(503, "SlowDown", { "retry-after": "7" }), CTX);
  assertEquals(answer, {
    class: "transient",
    status: 503,
    said: "HTTP 503 Service Unavailable: SlowDown (request tx1)",
    retryAfterMs: 7000,
  });
});

Deno.test("classifyS3Answer() names the skew of RequestTimeTooSkewed from the store's Date", () => {
  const store = new Date(SENT + 20 * 60_000 + 3000).toUTCString();
  const answer = classifyS3Answer(error(403, "RequestTimeTooSkewed", { date: store }), CTX);
  assertEquals(answer.class, "clock");
  assertMatch((answer as { cause: string }).cause, /clock is 20 min 3 s behind the store's/);
});

Deno.test("classifyS3Answer() reads a bare 403 (a HEAD) with a far clock as the clock", () => {
  const head = (date: string): S3Response => ({ status: 403, headers: { date }, body: "" });
  const far = classifyS3Answer(head(new Date(SENT - 3600_000).toUTCString()), CTX);
  assertEquals(far.class, "clock");
  assertMatch((far as { cause: string }).cause, /1 h 0 min 0 s ahead of the store's/);
  assertEquals(classifyS3Answer(head(new Date(SENT).toUTCString()), CTX).class, "credentials");
});

Deno.test("classifyS3Answer(): 2xx stored, 412 a duplicate of unknown digest, 200 with an error body is not stored", () => {
  assertEquals(classifyS3Answer({ status: 200, headers: {}, body: "" }, CTX), {
    class: "stored",
    status: 200,
  });
  assertEquals(classifyS3Answer(error(412, "PreconditionFailed"), CTX), {
    class: "duplicate",
    status: 412,
    digest: null,
  });
  // CompleteMultipartUpload may answer 200 and put the error in the body.
  assertEquals(classifyS3Answer(error(200, "InternalError"), CTX).class, "transient");
});

Deno.test("classifyS3Answer(): no S3 error document on a 404 means the URL is not an S3 store", () => {
  const answer = classifyS3Answer(
    { status: 404, headers: {}, body: "<html>Not Found</html>" },
    CTX,
  );
  assertEquals(answer.class, "misconfigured");
  assertMatch((answer as { cause: string }).cause, /check receiver.url/);
});

Deno.test("classifyS3Failure(): our abort, a refused client certificate, the network", () => {
  assertEquals(classifyS3Failure(new UploadError("aborted", "aborted")), { class: "aborted" });
  assertEquals(classifyS3Failure(new UploadError("x", "credentials")).class, "credentials");
  assertEquals(
    classifyS3Failure(new UploadError("cannot verify the collector's TLS certificate", "tls")),
    {
      class: "transient",
      status: 0,
      said: "cannot verify the store's TLS certificate",
      retryAfterMs: null,
    },
  );
});

Deno.test("describeSkew() and clockSkewMs() word the clock both ways", () => {
  assertEquals(describeSkew(2000), "2 s behind");
  assertEquals(describeSkew(-(20 * 60 + 3) * 1000), "20 min 3 s ahead of");
  assertEquals(clockSkewMs(new Date(SENT + 5000).toUTCString(), SENT), 5000);
  assertEquals(clockSkewMs(undefined, SENT), null);
  assertEquals(clockSkewMs("not a date", SENT), null);
});

Deno.test("describeS3Answer() quotes status, code, message and request id", () => {
  assertEquals(
    describeS3Answer({
      status: 404,
      headers: {},
      body: "<Error><Code>NoSuchBucket</Code><Message>gone &amp; away</Message></Error>",
    }),
    "HTTP 404 Not Found: NoSuchBucket gone & away",
  );
});
