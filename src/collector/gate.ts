/**
 * Whether the collector admits an upload, decided from the request line, headers and client
 * certificate alone, before a byte of body is stored. Pure.
 */
import { timingSafeEqual } from "node:crypto";
import {
  type Compression,
  COMPRESSION_FORMAT,
  HEADER,
  isValidCommit,
  parseContentDigest,
  parseEpisodePath,
} from "../protocol/protocol.ts";
import type { CollectorConfig } from "./config.ts";

/** What an admitted upload will be stored as. */
export interface Admitted {
  hostId: string;
  episodeId: string;
  compression: Compression;
  commit: string;
  /** Expected base64 SHA-256 of the body. */
  sha256: string;
  /** Expected body length. */
  size: number;
}

/** The gate's answer. */
export type GateVerdict = { ok: true; upload: Admitted } | {
  ok: false;
  status: number;
  message: string;
};

/** The request as the gate sees it. */
export interface GateRequest {
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** The client certificate's CN and DNS subject alternative names. */
  clientNames: string[];
}

/** Whether the Authorization header carries the configured bearer token (constant time). */
export function tokenMatches(
  authorization: string | undefined,
  expected: string | undefined,
): boolean {
  if (expected === undefined) return true;
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (!m?.[1]) return false;
  const a = new TextEncoder().encode(m[1].trim());
  const b = new TextEncoder().encode(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const refuse = (status: number, message: string): GateVerdict => ({ ok: false, status, message });

/** Decides whether to admit an upload. */
export function admit(request: GateRequest, config: CollectorConfig): GateVerdict {
  const target = parseEpisodePath(request.path);
  if (!target) return refuse(404, `no such resource: ${request.path.slice(0, 200)}`);
  if (request.method !== "PUT") return refuse(405, `method ${request.method} not allowed; use PUT`);
  const h = request.headers;
  if (!tokenMatches(h.authorization, config.bearerToken)) {
    return refuse(401, "missing or wrong bearer token");
  }
  if (!config.anyHost && !request.clientNames.includes(target.hostId)) {
    return refuse(
      403,
      `client certificate (${
        request.clientNames.join(", ") || "no names"
      }) may not upload as host "${target.hostId}"`,
    );
  }
  if (h[HEADER.hostId] !== target.hostId || h[HEADER.episodeId] !== target.episodeId) {
    return refuse(400, "X-CIS490-Host-Id and X-CIS490-Episode-Id must match the request path");
  }
  const commit = h[HEADER.commit];
  if (!isValidCommit(commit)) {
    return refuse(
      400,
      `X-CIS490-Code-Commit is missing or not 40 hex digits. ${config.remediation}`,
    );
  }
  if (config.allowedCommits && !config.allowedCommits.has(commit.toLowerCase())) {
    return refuse(412, `code commit ${commit} is not on this collector's allow-list`);
  }
  const contentType = COMPRESSION_FORMAT[target.compression].contentType;
  if ((h["content-type"] ?? "").split(";")[0]?.trim() !== contentType) {
    return refuse(415, `Content-Type must be ${contentType} for this path`);
  }
  if (h["transfer-encoding"] !== undefined || !/^\d+$/.test(h["content-length"] ?? "")) {
    return refuse(411, "Content-Length is required; chunked bodies are refused");
  }
  const size = Number(h["content-length"]);
  if (size > config.maxBodyBytes) {
    return refuse(413, `body of ${size} bytes exceeds the limit of ${config.maxBodyBytes}`);
  }
  const sha256 = parseContentDigest(h[HEADER.digest]);
  if (!sha256) return refuse(400, "Content-Digest with sha-256 (RFC 9530) is required");
  return {
    ok: true,
    upload: { ...target, commit, sha256, size },
  };
}
