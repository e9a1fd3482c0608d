import { assertEquals, assertMatch } from "../support/assert.ts";
import { admit, type GateRequest, tokenMatches } from "../../src/collector/gate.ts";
import { type CollectorConfig, DEFAULT_REMEDIATION } from "../../src/collector/config.ts";

const C = "0123456789abcdef0123456789abcdef01234567";
const DIGEST = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const config: CollectorConfig = {
  file: "c.toml",
  host: "127.0.0.1",
  port: 0,
  storage: { backend: "disk", storeDir: "/tmp/x" },
  tls: { cert: "", key: "", clientCa: "" },
  anyHost: false,
  maxBodyBytes: 1000,
  remediation: DEFAULT_REMEDIATION,
};
const good: GateRequest = {
  method: "PUT",
  path: "/v1/episodes/lab-01/ep-1.tar.gz",
  clientNames: ["lab-01"],
  headers: {
    "content-type": "application/gzip",
    "content-length": "10",
    "content-digest": `sha-256=:${DIGEST}:`,
    "x-cis490-host-id": "lab-01",
    "x-cis490-episode-id": "ep-1",
    "x-cis490-code-commit": C,
  },
};
const without = (name: string): GateRequest => {
  const headers = { ...good.headers };
  delete headers[name];
  return { ...good, headers };
};
const status = (request: GateRequest, c: CollectorConfig = config) => {
  const v = admit(request, c);
  return v.ok ? 0 : v.status;
};

Deno.test("admit() accepts a well-formed upload from its own host", () => {
  assertEquals(admit(good, config), {
    ok: true,
    upload: {
      hostId: "lab-01",
      episodeId: "ep-1",
      compression: "gzip",
      commit: C,
      sha256: DIGEST,
      size: 10,
    },
  });
});

Deno.test("admit() answers the commit gate: 400 with remediation, 412 off the allow-list", () => {
  const missing = admit(without("x-cis490-code-commit"), config);
  assertEquals(missing.ok, false);
  if (!missing.ok) {
    assertEquals(missing.status, 400);
    assertMatch(
      missing.message,
      /not 40 hex digits\. Episodes must carry .* Quarantine this one\.$/,
    );
  }
  assertEquals(
    status({ ...good, headers: { ...good.headers, "x-cis490-code-commit": "abc" } }),
    400,
  );
  const allow = { ...config, allowedCommits: new Set(["f".repeat(40)]) };
  assertEquals(status(good, allow), 412);
  assertEquals(status(good, { ...config, allowedCommits: new Set([C]) }), 0);
});

Deno.test("admit() refuses each malformed request with its status", () => {
  assertEquals(status({ ...good, path: "/v1/other" }), 404);
  assertEquals(status({ ...good, method: "POST" }), 405);
  assertEquals(status({ ...good, clientNames: ["lab-02"] }), 403);
  assertEquals(status({ ...good, clientNames: ["lab-02"] }, { ...config, anyHost: true }), 0);
  assertEquals(
    status({ ...good, headers: { ...good.headers, "x-cis490-episode-id": "ep-2" } }),
    400,
  );
  assertEquals(
    status({ ...good, headers: { ...good.headers, "content-type": "application/x-tar" } }),
    415,
  );
  assertEquals(status(without("content-length")), 411);
  assertEquals(
    status({ ...good, headers: { ...good.headers, "transfer-encoding": "chunked" } }),
    411,
  );
  assertEquals(status({ ...good, headers: { ...good.headers, "content-length": "1001" } }), 413);
  assertEquals(status(without("content-digest")), 400);
  assertEquals(status(good, { ...config, bearerToken: "t" }), 401);
  assertEquals(
    status({ ...good, headers: { ...good.headers, authorization: "Bearer t" } }, {
      ...config,
      bearerToken: "t",
    }),
    0,
  );
});

Deno.test("tokenMatches() compares the whole token", () => {
  assertEquals(tokenMatches(undefined, undefined), true);
  assertEquals(tokenMatches("Bearer abc", "abc"), true);
  assertEquals(tokenMatches("Bearer ab", "abc"), false);
  assertEquals(tokenMatches("Basic abc", "abc"), false);
  assertEquals(tokenMatches(undefined, "abc"), false);
});
