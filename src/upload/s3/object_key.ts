/**
 * Where an episode lives in a bucket, `<prefix>/<host_id>/<episode_id>.<ext>`, and what is written
 * beside it: the same layout as the collector's disk store, so the shipper and every collector
 * that shares a bucket agree on one name per episode.
 */
import { type Compression, COMPRESSION_FORMAT } from "../../protocol/protocol.ts";

/** The metadata headers every stored episode carries (`x-amz-meta-…`, lower case). */
export const META = {
  hostId: "x-amz-meta-host-id",
  episodeId: "x-amz-meta-episode-id",
  commit: "x-amz-meta-commit",
  /** Base64 SHA-256 of the object, as the packer computed it: what a 412 is checked against. */
  sha256: "x-amz-meta-sha256",
  shipperVersion: "x-amz-meta-shipper-version",
  /** Set by a collector that stored the object: its client's certificate subject. */
  clientSubject: "x-amz-meta-client-subject",
} as const;

/** The object key of one episode. Ids are `[A-Za-z0-9._-]`, so a key never needs escaping. */
export function objectKey(
  prefix: string,
  episode: { hostId: string; episodeId: string; compression: Compression },
): string {
  const name = `${episode.hostId}/${episode.episodeId}${
    COMPRESSION_FORMAT[episode.compression].extension
  }`;
  return prefix === "" ? name : `${prefix}/${name}`;
}

/** The metadata headers for one episode (header values are ASCII: ids, hex, base64, version). */
export function objectMetadata(
  episode: { hostId: string; episodeId: string; commit: string; sha256: string },
  extra: { shipperVersion?: string; clientSubject?: string } = {},
): Record<string, string> {
  return {
    [META.hostId]: episode.hostId,
    [META.episodeId]: episode.episodeId,
    [META.commit]: episode.commit,
    [META.sha256]: episode.sha256,
    ...(extra.shipperVersion !== undefined && { [META.shipperVersion]: extra.shipperVersion }),
    // A subject may hold any character; header values must stay printable ASCII.
    ...(extra.clientSubject !== undefined &&
      { [META.clientSubject]: encodeURIComponent(extra.clientSubject) }),
  };
}

/** Hex of a base64 SHA-256: the form `x-amz-content-sha256` wants. */
export function base64ToHex(base64: string): string {
  return Array.from(atob(base64), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}
