/** Per-episode upload state, persisted beside the tarball so attempts survive restarts. */
import { type Compression, COMPRESSIONS, isValidCommit } from "../protocol/protocol.ts";

/** What `outbox/<id>.state.json` holds. */
export interface EpisodeState {
  episode_id: string;
  compression: Compression;
  /** Tarball bytes, sent as Content-Length. */
  size: number;
  /** Base64 SHA-256 of the tarball, sent as Content-Digest. */
  sha256: string;
  commit: string;
  packed_at: string;
  /** Failed attempts so far. */
  attempts: number;
  /** When the next attempt is due (RFC 3339), or null for "now". */
  next_attempt_at: string | null;
  last_error: string | null;
  /**
   * The collector's answer, recorded durably before the episode is moved: once it is here the
   * episode is never sent again, and later passes finish the move without the network.
   */
  verdict?: RecordedVerdict;
}

/** A collector's final answer about an episode. */
export interface RecordedVerdict {
  kind: "ship" | "quarantine";
  /** A 409: the collector already had it. */
  duplicate: boolean;
  status: number;
  /** For a quarantine: the readable reason. */
  reason: string | null;
  /** For a quarantine: the first 4 KiB of the answer, secrets scrubbed. */
  body: string | null;
  /** When it was answered (RFC 3339). */
  at: string;
}

function isVerdict(v: unknown): v is RecordedVerdict {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (r.kind === "ship" || r.kind === "quarantine") && typeof r.duplicate === "boolean" &&
    Number.isSafeInteger(r.status) && (r.reason === null || typeof r.reason === "string") &&
    (r.body === null || typeof r.body === "string") && typeof r.at === "string";
}

/** Parses a state file's text; null when it is not a state this version wrote (repack then). */
export function parseState(text: string): EpisodeState | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const s = value as Record<string, unknown>;
  const ok = typeof s.episode_id === "string" &&
    COMPRESSIONS.includes(s.compression as Compression) &&
    Number.isSafeInteger(s.size) && typeof s.sha256 === "string" && isValidCommit(s.commit) &&
    Number.isSafeInteger(s.attempts) &&
    (s.next_attempt_at === null || typeof s.next_attempt_at === "string") &&
    (s.verdict === undefined || isVerdict(s.verdict));
  return ok ? (s as unknown as EpisodeState) : null;
}

/**
 * Reads a state file; null when missing or not a state this version wrote.
 * @throws on any other read error
 */
export async function readState(path: string): Promise<EpisodeState | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    // Only a missing file means "no state": any other read error (EMFILE, EIO) must not make the
    // episode look unpacked, or an answered episode would be packed and sent again.
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return parseState(text);
}
