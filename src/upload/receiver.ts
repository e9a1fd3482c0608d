/**
 * The seam between the queue and whatever receives episodes: the reference collector's HTTP
 * protocol, or an S3-compatible object store. A receiver sends one packed episode and says what
 * the other end answered, already sorted into the outcome table's classes; the queue decides what
 * that means for the episode (ship, quarantine, pause the host, retry, repack) and never looks at
 * status codes itself.
 *
 * A receiver never throws for anything the other end or the network did: that is an
 * {@linkcode Answer}. It throws only for local failures (the tarball cannot be read), which the
 * queue backs off as local.
 */
import type { Compression } from "../protocol/protocol.ts";

/** One packed episode, as a receiver is given it. */
export interface Parcel {
  hostId: string;
  episodeId: string;
  compression: Compression;
  /** Base64 SHA-256 of the tarball, as the packer computed it. */
  sha256: string;
  /** Tarball bytes: always sent as `Content-Length`. */
  size: number;
  /** The 40-hex code commit from `meta.json`. */
  commit: string;
  /** The tarball in `outbox/`. */
  path: string;
}

/** The host-level reasons an answer is never the episode's fault. */
export type HostProblem = "credentials" | "misconfigured" | "clock";

/** What the receiver said about one parcel, in the outcome table's terms. */
export type Answer =
  /** Stored now. */
  | { class: "stored"; status: number }
  /**
   * The receiver already holds this id. `digest`: base64 SHA-256 of what it holds, when it said
   * (a collector's `Repr-Digest`, an object's metadata); null when it did not.
   */
  | { class: "duplicate"; status: number; digest: string | null }
  /** Refused for good: the episode goes to quarantine with `said` and the first bytes of `body`. */
  | { class: "refused"; status: number; said: string; body: string }
  /**
   * About the host, not the episode: our credentials, the receiver's address or setup, or our
   * clock. `cause` is what an operator should fix.
   */
  | { class: HostProblem; status: number; said: string; cause: string }
  /** Try again later (5xx, 429, network, timeout); `status` is 0 when no response came. */
  | { class: "transient"; status: number; said: string; retryAfterMs: number | null }
  /** The receiver saw a body that does not match our digest or length: our tarball is wrong. */
  | { class: "repack"; status: number; said: string }
  /** The send was aborted by our own signal (a stop): nothing is known. */
  | { class: "aborted" };

/** Options for {@linkcode Receiver.send}. */
export interface SendOptions {
  /** Aborting ends the send at once with `{ class: "aborted" }`. */
  signal?: AbortSignal;
  /**
   * Progress of a resumable upload, as an earlier attempt saved it with `saveResume` (the
   * receiver's own JSON value; the queue keeps it in the episode's outbox state).
   */
  resume?: unknown;
  /**
   * Persists resumable progress; the receiver awaits it before relying on that progress, so a
   * kill -9 right after resumes from what was saved. @default {progress is not kept}
   */
  saveResume?: (resume: unknown) => Promise<void>;
  /** Bytes of the body sent so far, for progress on a terminal. */
  onProgress?: (sentBytes: number) => void;
}

/** Where episodes go. */
export interface Receiver {
  /** For log lines: `https://collector.wg` or `s3://bucket/prefix at https://rgw:7480`. */
  readonly describe: string;
  /**
   * What it is, in words for log lines and summaries ("collector", "object store"): an
   * operator told "object store refused our credentials" looks at the right machine.
   * @default {"collector"}
   */
  readonly noun?: string;
  /** Sends one parcel and classifies the answer. @throws only on local failures */
  send(parcel: Parcel, options?: SendOptions): Promise<Answer>;
  /**
   * Drops anything partial left at the receiver for a parcel that was shipped or quarantined
   * (an unfinished multipart upload). Best effort. @default {nothing to drop}
   */
  discard?(parcel: Parcel, resume: unknown): Promise<void>;
  /** Closes pooled connections. */
  close(): void;
}
