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

/** The levels a compression accepts and the one used when none is configured. */
export interface CompressionLevels {
  min: number;
  max: number;
  default: number;
}

/** What one compression is on the wire and on disk, and the levels it takes. */
export interface CompressionFormat {
  /** Appended to the episode id, in the request path and in `outbox/`. */
  extension: string;
  contentType: string;
  /** null: the compression takes no level (setting one is a mistake). */
  levels: CompressionLevels | null;
}

/** The compression used when none is configured. */
export const DEFAULT_COMPRESSION: Compression = "gzip";

/**
 * The one registry of compressions: extension, Content-Type and levels. The config loader, the
 * packer, the outbox and the collector read it from here. The defaults are chosen by measurement
 * (docs/packing.md): gzip 3 halves the CPU of 6 for 2.5 % more bytes; zstd 1, in the packer's
 * 1 MiB frames, was both faster (1.1–1.9×) and smaller (2–13 %) than zstd's own default of 3 on
 * every data set measured (CSV, lab CSV, JSON lines; random data is stored either way).
 */
export const COMPRESSION_FORMAT: Readonly<Record<Compression, Readonly<CompressionFormat>>> = {
  gzip: {
    extension: ".tar.gz",
    contentType: "application/gzip",
    levels: { min: 1, max: 9, default: 3 },
  },
  zstd: {
    extension: ".tar.zst",
    contentType: "application/zstd",
    levels: { min: 1, max: 19, default: 1 },
  },
  none: { extension: ".tar", contentType: "application/x-tar", levels: null },
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
