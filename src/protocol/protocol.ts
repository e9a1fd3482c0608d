/**
 * Facts of the wire protocol shared by the shipper and the reference collector: names, paths,
 * headers and formats. One source of truth; both sides and the tests import from here.
 */
/** Valid episode and host ids: the directory name of an episode, the host part of the URL. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** A stamped code commit: 40 hexadecimal digits. */
export const COMMIT_PATTERN = /^[0-9a-fA-F]{40}$/;

/** Request header names (lower case, as node:http presents them). */
export const HEADER = {
  hostId: "x-cis490-host-id",
  episodeId: "x-cis490-episode-id",
  commit: "x-cis490-code-commit",
  digest: "content-digest",
  /** RFC 9530: the digest of what the collector holds, sent with a 409. */
  reprDigest: "repr-digest",
  /** What a refusal is about when its status alone cannot say (see {@linkcode PROBLEM}). */
  problem: "x-cis490-problem",
} as const;

/**
 * Values of the `X-CIS490-Problem` response header. `body-mismatch`: the body that arrived does
 * not match its `Content-Digest` or `Content-Length`; nothing was stored, and the sender's tarball
 * is what is wrong (repack it), not the episode nor the collector. Sent with a 500 so that a
 * sender that does not know the header retries instead of quarantining.
 */
export const PROBLEM = { bodyMismatch: "body-mismatch" } as const;

/** How an episode is compressed on the wire. */
export type Compression = "gzip" | "zstd" | "none";

/** Every compression, in the order extensions are tried when parsing a path. */
export const COMPRESSIONS: readonly Compression[] = ["gzip", "zstd", "none"];

/** File extension and Content-Type for each compression. */
export const COMPRESSION_FORMAT: Readonly<
  Record<Compression, { extension: string; contentType: string }>
> = {
  gzip: { extension: ".tar.gz", contentType: "application/gzip" },
  zstd: { extension: ".tar.zst", contentType: "application/zstd" },
  none: { extension: ".tar", contentType: "application/x-tar" },
};

/** Returns whether `id` is a valid episode or host id. */
export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Returns whether `commit` is a 40-hex code commit. */
export function isValidCommit(commit: unknown): commit is string {
  return typeof commit === "string" && COMMIT_PATTERN.test(commit);
}

/** The request path for one episode: `/v1/episodes/{host_id}/{episode_id}.tar.gz`. */
export function episodePath(hostId: string, episodeId: string, compression: Compression): string {
  const ext = COMPRESSION_FORMAT[compression].extension;
  return `/v1/episodes/${encodeURIComponent(hostId)}/${encodeURIComponent(episodeId)}${ext}`;
}

/** Parses a request path back into host id, episode id and compression, or null. */
export function parseEpisodePath(
  path: string,
): { hostId: string; episodeId: string; compression: Compression } | null {
  const m = /^\/v1\/episodes\/([^/]+)\/([^/]+?)(\.tar\.gz|\.tar\.zst|\.tar)$/.exec(path);
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  let hostId: string, episodeId: string;
  try {
    hostId = decodeURIComponent(m[1]);
    episodeId = decodeURIComponent(m[2]);
  } catch {
    return null;
  }
  if (!isValidId(hostId) || !isValidId(episodeId)) return null;
  const compression = COMPRESSIONS.find((c) => COMPRESSION_FORMAT[c].extension === m[3]) ?? "gzip";
  return { hostId, episodeId, compression };
}

/**
 * The RFC 9530 `Content-Digest` (or `Repr-Digest`: same syntax) value for a base64 SHA-256 digest.
 * @example
 * ```ts
 * contentDigest("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="); // "sha-256=:47DEQ…uFU=:"
 * ```
 */
export function contentDigest(sha256Base64: string): string {
  return `sha-256=:${sha256Base64}:`;
}

/**
 * Extracts the base64 SHA-256 from a `Content-Digest` or `Repr-Digest` header (RFC 9530), or null
 * when absent, malformed or without a `sha-256` member.
 */
export function parseContentDigest(header: string | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const m = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/]{43}=):\s*$/.exec(part);
    if (m && m[1]) return m[1];
  }
  return null;
}
