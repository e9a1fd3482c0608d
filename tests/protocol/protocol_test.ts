import { assertEquals } from "../support/assert.ts";
import {
  contentDigest,
  episodePath,
  isValidCommit,
  parseContentDigest,
  parseEpisodePath,
} from "../../src/protocol/protocol.ts";

Deno.test("episodePath() and parseEpisodePath() agree for both compressions", () => {
  assertEquals(episodePath("lab-01", "ep.1", "gzip"), "/v1/episodes/lab-01/ep.1.tar.gz");
  assertEquals(episodePath("lab-01", "ep.1", "none"), "/v1/episodes/lab-01/ep.1.tar");
  assertEquals(parseEpisodePath("/v1/episodes/lab-01/ep.1.tar.gz"), {
    hostId: "lab-01",
    episodeId: "ep.1",
    compression: "gzip",
  });
  assertEquals(parseEpisodePath("/v1/episodes/lab-01/x.tar.tar"), {
    hostId: "lab-01",
    episodeId: "x.tar",
    compression: "none",
  });
});

Deno.test("parseEpisodePath() rejects other paths and invalid ids", () => {
  for (
    const p of [
      "/",
      "/v1/episodes/lab-01/ep.zip",
      "/v1/episodes/lab-01/a/b.tar.gz",
      "/v1/episodes/lab-01/..%2Fx.tar.gz",
      "/v1/episodes/%ZZ/x.tar.gz",
      "/v2/episodes/lab-01/x.tar.gz",
    ]
  ) assertEquals(parseEpisodePath(p), null, p);
});

Deno.test("contentDigest() and parseContentDigest() round-trip RFC 9530 sha-256", () => {
  const b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  assertEquals(contentDigest(b64), `sha-256=:${b64}:`);
  assertEquals(parseContentDigest(`sha-256=:${b64}:`), b64);
  assertEquals(parseContentDigest(`sha-512=:AAAA:, sha-256=:${b64}:`), b64);
  assertEquals(parseContentDigest(`sha-256=${b64}`), null);
  assertEquals(parseContentDigest(undefined), null);
});

Deno.test("isValidCommit() wants exactly 40 hex digits", () => {
  assertEquals(isValidCommit("0123456789abcdef0123456789ABCDEF01234567"), true);
  assertEquals(isValidCommit("0123456789abcdef0123456789abcdef0123456"), false);
  assertEquals(isValidCommit("0123456789abcdef0123456789abcdef0123456z"), false);
  assertEquals(isValidCommit(null), false);
});
