/**
 * An episode's outbox state, `outbox/<id>.state.json`: everything the shipper knows about one
 * episode that the directories do not show, kept across restarts. Pure: parsing and the types.
 * Only `outbox.ts` reads and writes the file; `transitions.ts` makes every new value.
 */
import { type Compression, COMPRESSIONS, isValidCommit } from "../protocol/protocol.ts";
import type { QuarantineSource } from "./reason.ts";
import { denoFs, type Fs, isNotFound } from "../fs/fs.ts";
import { readText } from "../fs/read_text.ts";

/** The tarball in `outbox/` that the state describes. */
export interface Packed {
  compression: Compression;
  /** The compression level it was packed with (absent: the format's default, or 0.2). */
  level?: number;
  /** Tarball bytes, sent as Content-Length. */
  size: number;
  /** Base64 SHA-256 of the tarball. */
  sha256: string;
  commit: string;
  packed_at: string;
}

/** A local failure (permissions, a full disk, a path too long) being backed off. */
export interface LocalFailure {
  /** Identical failures in a row. */
  failures: number;
  error: string;
  /** When the next local attempt is due (RFC 3339). */
  next_at: string;
}

/** The receiver's final answer about an episode. */
export interface RecordedVerdict {
  kind: "ship" | "quarantine";
  /** A 409 (or an object already stored): the receiver already had it. */
  duplicate: boolean;
  /**
   * For a duplicate: the receiver said nothing about what it holds (a 409 without a digest), so
   * the shipped copy is marked unconfirmed and never pruned automatically.
   */
  unconfirmed?: boolean;
  status: number;
  /** For a quarantine: the readable reason. */
  reason: string | null;
  /** For a quarantine: the first 4 KiB of the answer, secrets scrubbed. */
  body: string | null;
  /** When it was answered (RFC 3339). */
  at: string;
}

/**
 * A decision to quarantine, recorded here before the episode moves (the producer's directory is
 * never written to): recovery finishes the move after a crash. `dest` is the name chosen in
 * `quarantine/`, recorded before the rename, so recovery knows where the episode went.
 */
export interface QuarantineIntent {
  source: QuarantineSource;
  reason: string;
  http_status: number | null;
  response_body: string | null;
  commit: string | null;
  at: string;
  dest: string | null;
}

/** What `outbox/<id>.state.json` holds. */
export interface EpisodeState {
  episode_id: string;
  /**
   * Which episode directory the state is about (its inode, its marker's inode and time): a
   * producer may make a new episode under an id already shipped, and a state left by the old
   * one must never decide for the new one. Absent in states of 0.2.
   */
  episode_key?: string;
  /** The tarball, when one is packed (or was, for a state holding a verdict). */
  packed: Packed | null;
  /** Failed upload attempts of this episode so far. */
  attempts: number;
  /** When the next upload attempt is due (RFC 3339), or null for "now". */
  next_attempt_at: string | null;
  last_error: string | null;
  /** Receiver answers that our tarball was wrong, in a row: each one repacks. */
  repacks: number;
  local: LocalFailure | null;
  /** Resumable upload progress, the receiver's own value (a multipart upload). */
  resume?: unknown;
  /**
   * The receiver's answer, recorded durably before the episode is moved: once it is here the
   * episode is never sent again, and later passes finish the move without the network.
   */
  verdict?: RecordedVerdict;
  /** A quarantine decided and not yet finished. */
  intent?: QuarantineIntent;
}

/** A state whose tarball is packed. */
export type PackedState = EpisodeState & { packed: Packed };
/** A state holding the receiver's answer. */
export type AnsweredState = EpisodeState & { verdict: RecordedVerdict };
/** A state holding a quarantine decision. */
export type IntentState = EpisodeState & { intent: QuarantineIntent };

/** A state with nothing learnt yet. */
export function emptyState(episodeId: string): EpisodeState {
  return {
    episode_id: episodeId,
    packed: null,
    attempts: 0,
    next_attempt_at: null,
    last_error: null,
    repacks: 0,
    local: null,
  };
}

type Fields = Record<string, unknown>;

function isObject(v: unknown): v is Fields {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const str = (v: unknown) => typeof v === "string";
const strOrNull = (v: unknown) => v === null || typeof v === "string";
const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function isPacked(v: unknown): v is Packed {
  return isObject(v) && COMPRESSIONS.includes(v.compression as Compression) &&
    (v.level === undefined || count(v.level)) && count(v.size) &&
    str(v.sha256) && isValidCommit(v.commit) && str(v.packed_at);
}

function isVerdict(v: unknown): v is RecordedVerdict {
  return isObject(v) && (v.kind === "ship" || v.kind === "quarantine") &&
    typeof v.duplicate === "boolean" && (v.unconfirmed === undefined || v.unconfirmed === true ||
      v.unconfirmed === false) &&
    Number.isSafeInteger(v.status) && strOrNull(v.reason) &&
    strOrNull(v.body) && str(v.at);
}

function isIntent(v: unknown): v is QuarantineIntent {
  return isObject(v) && ["collector", "preflight", "drain"].includes(v.source as string) &&
    str(v.reason) && (v.http_status === null || Number.isSafeInteger(v.http_status)) &&
    strOrNull(v.response_body) && strOrNull(v.commit) && str(v.at) && strOrNull(v.dest);
}

function isLocal(v: unknown): v is LocalFailure {
  return isObject(v) && count(v.failures) && str(v.error) && str(v.next_at);
}

/** The 0.2/0.3 format kept the tarball's fields at the top level. */
function upgradeFlat(s: Fields): Fields {
  if ("packed" in s || !("sha256" in s)) return s;
  const { compression, size, sha256, commit, packed_at, ...rest } = s;
  return { ...rest, packed: { compression, size, sha256, commit, packed_at } };
}

/**
 * Parses a state file's text; null when it is not a state this version can use (a torn write
 * after a power loss, another program's file): the episode is then packed again.
 */
export function parseState(text: string): EpisodeState | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  const s = upgradeFlat(value);
  const ok = str(s.episode_id) && (s.episode_key === undefined || str(s.episode_key)) &&
    (s.packed === null || isPacked(s.packed)) &&
    count(s.attempts) && strOrNull(s.next_attempt_at) && strOrNull(s.last_error ?? null) &&
    (s.repacks === undefined || count(s.repacks)) &&
    (s.local === undefined || s.local === null || isLocal(s.local)) &&
    (s.verdict === undefined || isVerdict(s.verdict)) &&
    (s.intent === undefined || isIntent(s.intent));
  if (!ok) return null;
  return {
    ...(s as unknown as EpisodeState),
    last_error: (s.last_error as string | null | undefined) ?? null,
    repacks: (s.repacks as number | undefined) ?? 0,
    local: (s.local as LocalFailure | null | undefined) ?? null,
  };
}

/** The text of a state file. */
export function formatState(state: EpisodeState): string {
  return JSON.stringify(state, null, 2) + "\n";
}

/** Options for {@linkcode readState}. */
export interface ReadStateOptions {
  /** @default {denoFs} */
  fs?: Fs;
}

/**
 * Reads a state file; null when missing or not a state this version wrote.
 * @throws on any other read error
 */
export async function readState(
  path: string,
  options: ReadStateOptions = {},
): Promise<EpisodeState | null> {
  let text: string;
  try {
    text = await readText(options.fs ?? denoFs, path);
  } catch (error) {
    // Only a missing file means "no state": any other read error (EMFILE, EIO) must not make the
    // episode look unpacked, or an answered episode would be packed and sent again.
    if (isNotFound(error)) return null;
    throw error;
  }
  return parseState(text);
}
