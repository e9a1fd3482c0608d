/**
 * The upload request for one episode (docs/protocol.md): URL and headers, built here beside the code that
 * parses them in the collector (`src/collector/gate.ts`), so one round trip tests both ends. Pure.
 */
import {
  type Compression,
  COMPRESSION_FORMAT,
  contentDigest,
  episodePath,
  HEADER,
} from "./protocol.ts";
import { VERSION } from "../version.ts";

/** What the request is built from. */
export interface EpisodeRequestInput {
  /** `receiver.url`, trailing `/` already stripped. */
  receiverUrl: string;
  hostId: string;
  episodeId: string;
  compression: Compression;
  /** Base64 SHA-256 of the body. */
  sha256: string;
  commit: string;
  /** Sent as `Authorization: Bearer`, only when configured. */
  bearerToken?: string;
}

/** URL and headers of one upload (Content-Length is added by the client from the file size). */
export interface EpisodeRequest {
  url: string;
  headers: Record<string, string>;
}

/** The User-Agent every request carries. */
export const USER_AGENT = `cis490-ship/${VERSION}`;

/** Builds the PUT of one episode. */
export function episodeRequest(input: EpisodeRequestInput): EpisodeRequest {
  const headers: Record<string, string> = {
    "content-type": COMPRESSION_FORMAT[input.compression].contentType,
    [HEADER.digest]: contentDigest(input.sha256),
    [HEADER.hostId]: input.hostId,
    [HEADER.episodeId]: input.episodeId,
    [HEADER.commit]: input.commit,
    "user-agent": USER_AGENT,
  };
  if (input.bearerToken !== undefined) headers.authorization = `Bearer ${input.bearerToken}`;
  return {
    url: input.receiverUrl + episodePath(input.hostId, input.episodeId, input.compression),
    headers,
  };
}
