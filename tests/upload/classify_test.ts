import { assert, assertEquals } from "../support/assert.ts";
import {
  answerText,
  classifyAnswer,
  classifyFailure,
  classifyStatus,
  describeAnswer,
  failureAnswer,
  parseRetryAfter,
  responseAnswer,
} from "../../src/upload/classify.ts";

/** nginx's own error page, as `ssl_verify_client on` sends it. */
const nginxPage = (status: string, text: string) =>
  `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n<center><h1>${status}</h1></center>\r\n<center>${text}</center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n`;

Deno.test("classifyStatus() follows every row of the table of docs/protocol.md", () => {
  const rows: [number[], string][] = [
    [[200, 201, 204], "stored"],
    [[409], "duplicate"],
    [[400, 410, 412, 413, 415, 422, 402, 406, 411, 418, 451], "refused"],
    [[401, 403, 407, 495, 496], "credentials"],
    [[404, 405, 421, 426, 431, 494, 497, 301, 302, 307, 308], "misconfigured"],
    [[408, 425, 429, 500, 502, 503, 504, 599], "transient"],
  ];
  for (const [statuses, expected] of rows) {
    for (const status of statuses) assertEquals(classifyStatus(status), expected, `HTTP ${status}`);
  }
});

Deno.test("classifyAnswer() reads what a 400 is about: the connection or the episode", () => {
  const rows: [string, string][] = [
    [nginxPage("400 Bad Request", "The SSL certificate error"), "credentials"],
    [nginxPage("400 Bad Request", "No required SSL certificate was sent"), "credentials"],
    [
      nginxPage("400 Bad Request", "The plain HTTP request was sent to HTTPS port"),
      "misconfigured",
    ],
    [nginxPage("400 Bad Request", "Request Header Or Cookie Too Large"), "misconfigured"],
    ["client certificate expired\n", "credentials"],
    ["X-CIS490-Code-Commit is missing. Remediation: update the lab host", "refused"],
    [nginxPage("400 Bad Request", "Bad Request"), "refused"],
    ["", "refused"],
  ];
  for (const [body, expected] of rows) {
    assertEquals(classifyAnswer({ status: 400, body, headers: {} }).class, expected, body);
  }
  // Body rules are for 400s; a 422 that mentions certificates is still about the episode.
  assertEquals(
    classifyAnswer({ status: 422, body: "The SSL certificate error", headers: {} }).class,
    "refused",
  );
  const cert = classifyAnswer({
    status: 400,
    body: nginxPage("400 Bad Request", "No required SSL certificate was sent"),
    headers: {},
  });
  assertEquals(
    cert.cause,
    "the collector requires a TLS client certificate and none was sent: check receiver.client_cert",
  );
  assertEquals(
    classifyAnswer({ status: 301, body: "", headers: { location: "https://new/" } }).cause,
    'the collector redirects to "https://new/": set receiver.url to the final address',
  );
});

Deno.test("classifyFailure() names a handshake refused over our certificate as credentials", () => {
  const rows: [string, string, boolean, string][] = [
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "received fatal alert: UnknownCA", true, "credentials"],
    [
      "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
      "received fatal alert: CertificateExpired",
      true,
      "credentials",
    ],
    [
      "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
      "received fatal alert: CertificateRequired",
      false,
      "credentials",
    ],
    [
      "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
      "received fatal alert: BadCertificate",
      true,
      "credentials",
    ],
    ["", "received fatal alert: CertificateUnknown", true, "credentials"],
    [
      "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
      "received fatal alert: HandshakeFailure",
      false,
      "credentials",
    ],
    ["", "received fatal alert: ProtocolVersion", true, "tls"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate", true, "tls"],
    ["", "invalid peer certificate: UnknownIssuer", true, "tls"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match", true, "tls"],
    ["ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:9", true, "network"],
    ["ECONNRESET", "socket hang up", true, "network"],
    ["ETIMEDOUT", "connect ETIMEDOUT", true, "timeout"],
  ];
  for (const [code, message, sent, kind] of rows) {
    assertEquals(classifyFailure({ code, message }, sent).kind, kind, `${code} ${message}`);
  }
  assertEquals(
    classifyFailure({ message: "received fatal alert: UnknownCA" }, true).cause,
    "the collector does not trust the CA that issued our TLS client certificate",
  );
  assertEquals(
    classifyFailure({ message: "received fatal alert: HandshakeFailure" }, false).cause,
    "the collector aborted the TLS handshake; no client certificate was sent, and it most likely requires one: check receiver.client_cert",
  );
});

Deno.test("answerText() strips HTML, the server signature and extra whitespace", () => {
  assertEquals(
    answerText(nginxPage("400 Bad Request", "The SSL certificate error")),
    "400 Bad Request The SSL certificate error",
  );
  assertEquals(answerText("<p>a &amp; b &#233;&#x41;</p>\n\n  c"), "a & b éA c");
  assertEquals(answerText("plain\r\n\ttext\u0000 here"), "plain text here");
  assertEquals(answerText("x".repeat(400), 10), "xxxxxxxxxx…");
});

Deno.test("describeAnswer() quotes status, reason phrase and body text once", () => {
  assertEquals(
    describeAnswer(400, nginxPage("400 Bad Request", "The SSL certificate error")),
    "HTTP 400 Bad Request: The SSL certificate error",
  );
  assertEquals(
    describeAnswer(412, "commit not allowed\n"),
    "HTTP 412 Precondition Failed: commit not allowed",
  );
  assertEquals(describeAnswer(599, ""), "HTTP 599");
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.parse("2026-11-27T10:00:00Z");
  assertEquals(parseRetryAfter("120", now), 120_000);
  assertEquals(parseRetryAfter(" 0 ", now), 0);
  assertEquals(parseRetryAfter("Fri, 27 Nov 2026 10:01:00 GMT", now), 60_000);
  assertEquals(parseRetryAfter("Fri, 27 Nov 2026 09:00:00 GMT", now), 0);
  assertEquals(parseRetryAfter("soon", now), null);
  assertEquals(parseRetryAfter(undefined, now), null);
});

const SHA = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const OTHER = "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=";

Deno.test("responseAnswer() puts every §4 answer in a receiver's terms", () => {
  const now = Date.parse("2026-11-27T10:00:00Z");
  type Row = [number, Record<string, string>, string, unknown];
  const rows: Row[] = [
    [201, {}, "", { class: "stored", status: 201 }],
    [200, {}, "", { class: "stored", status: 200 }],
    [409, { "repr-digest": `sha-256=:${SHA}:` }, "", {
      class: "duplicate",
      status: 409,
      digest: SHA,
    }],
    [
      409,
      { "repr-digest": `sha-512=:AAAA:, sha-256=:${OTHER}:` },
      "",
      { class: "duplicate", status: 409, digest: OTHER },
    ],
    [409, {}, "already stored", { class: "duplicate", status: 409, digest: null }],
    [409, { "repr-digest": "sha-256=nonsense" }, "", {
      class: "duplicate",
      status: 409,
      digest: null,
    }],
    [
      500,
      { "x-cis490-problem": "body-mismatch", "retry-after": "60" },
      "upload not stored: body SHA-256 x does not match Content-Digest y\n",
      {
        class: "repack",
        status: 500,
        said:
          "HTTP 500 Internal Server Error: upload not stored: body SHA-256 x does not match Content-Digest y",
      },
    ],
    [
      500,
      { "retry-after": "60" },
      "internal error",
      {
        class: "transient",
        status: 500,
        said: "HTTP 500 Internal Server Error: internal error",
        retryAfterMs: 60_000,
      },
    ],
    [
      503,
      { "retry-after": "Fri, 27 Nov 2026 10:01:00 GMT" },
      "",
      {
        class: "transient",
        status: 503,
        said: "HTTP 503 Service Unavailable",
        retryAfterMs: 60_000,
      },
    ],
    [
      429,
      {},
      "",
      { class: "transient", status: 429, said: "HTTP 429 Too Many Requests", retryAfterMs: null },
    ],
    [
      412,
      {},
      "commit not allowed",
      {
        class: "refused",
        status: 412,
        said: "HTTP 412 Precondition Failed: commit not allowed",
        body: "commit not allowed",
      },
    ],
    [
      // The problem header means nothing on a success or a duplicate.
      201,
      { "x-cis490-problem": "body-mismatch" },
      "",
      { class: "stored", status: 201 },
    ],
    [
      400,
      {},
      nginxPage("400 Bad Request", "No required SSL certificate was sent"),
      {
        class: "credentials",
        status: 400,
        said: "HTTP 400 Bad Request: No required SSL certificate was sent",
        cause:
          "the collector requires a TLS client certificate and none was sent: check receiver.client_cert",
      },
    ],
    [
      404,
      {},
      "",
      {
        class: "misconfigured",
        status: 404,
        said: "HTTP 404 Not Found",
        cause: "no such path on the collector: check receiver.url",
      },
    ],
  ];
  for (const [status, headers, body, expected] of rows) {
    assertEquals(responseAnswer({ status, headers, body }, { now }), expected, `${status} ${body}`);
  }
});

Deno.test("responseAnswer() scrubs secrets and names our expired certificate first", () => {
  const now = Date.parse("2026-11-27T10:00:00Z");
  const echoed = responseAnswer(
    { status: 400, headers: {}, body: "bad request: authorization: Bearer tok-s3cret" },
    { now, secrets: ["tok-s3cret"] },
  );
  assertEquals(echoed, {
    class: "refused",
    status: 400,
    said: "HTTP 400 Bad Request: bad request: authorization: Bearer [redacted]",
    body: "bad request: authorization: Bearer [redacted]",
  });
  const expired = responseAnswer(
    { status: 495, headers: {}, body: "certificate not accepted" },
    { now, clientCertNotAfter: Date.parse("2026-11-01T00:00:00Z") },
  );
  assertEquals(
    expired.class === "credentials" && expired.cause,
    "our client certificate (receiver.client_cert) expired on 2026-11-01T00:00:00.000Z: renew it",
  );
});

Deno.test("failureAnswer() keeps credentials apart from transient failures, and aborts apart from both", () => {
  const now = 0;
  assertEquals(
    failureAnswer({
      kind: "credentials",
      cause:
        "the collector requires a TLS client certificate and none was sent: check receiver.client_cert",
      detail: "received fatal alert: CertificateRequired",
    }, { now }),
    {
      class: "credentials",
      status: 0,
      said: "received fatal alert: CertificateRequired",
      cause:
        "the collector requires a TLS client certificate and none was sent: check receiver.client_cert",
    },
  );
  for (const kind of ["network", "tls", "timeout"] as const) {
    const answer = failureAnswer({ kind, cause: "network failure", detail: "socket hang up" }, {
      now,
    });
    assertEquals(answer, {
      class: "transient",
      status: 0,
      said: "network failure (socket hang up)",
      retryAfterMs: null,
    });
  }
  assertEquals(
    failureAnswer({ kind: "timeout", cause: "timed out after 60 s", detail: "" }, { now }),
    { class: "transient", status: 0, said: "timed out after 60 s", retryAfterMs: null },
  );
  assertEquals(failureAnswer({ kind: "aborted", cause: "aborted", detail: "" }, { now }), {
    class: "aborted",
  });
});

Deno.test("responseAnswer() names the token key in use (bearer_token_file) in a 401's hint", () => {
  const answer = { status: 401, body: "no", headers: {} };
  const fromFile = responseAnswer(answer, { now: 0, tokenKey: "receiver.bearer_token_file" });
  assert("cause" in fromFile && fromFile.cause.includes("receiver.bearer_token_file"));
  const inline = responseAnswer(answer, { now: 0 });
  assert("cause" in inline && /receiver\.bearer_token\b(?!_file)/.test(inline.cause));
});
