/**
 * Everything outside the queue's own logic, behind interfaces: the file system, the producers'
 * episodes, the packer, the receiver, the moves lock, the clock and randomness. Production wires
 * Deno's ({@linkcode productionWorld}); the simulator (`src/sim/`) wires in-memory ones that fail,
 * crash and lose power on command, and runs the very same queue code.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { denoFs, type Fs } from "../fs/fs.ts";
import type { Layout } from "../layout.ts";
import { scanEpisodes, type ScanResult } from "../episodes/scan.ts";
import { type Tree, walkEpisode } from "../episodes/walk.ts";
import { type MetaReading, readMeta } from "../episodes/meta.ts";
import { packEpisode } from "../pack/pack.ts";
import type { Compression } from "../protocol/protocol.ts";
import { encodeBase64 } from "../protocol/_base64.ts";
import type { Receiver } from "../upload/receiver.ts";
import { withMovesLock } from "./lock.ts";
import type { MovesLock } from "./moves.ts";
import { preflightKey } from "./preflight_key.ts";
import { listNonUtf8Dirs, moveCompleteByInode, type RawEntry } from "./non_utf8.ts";
import { DONE_MARKER } from "../episodes/scan.ts";
import { type AccessProblem, accessProblem } from "../episodes/access.ts";
import { processIdentity } from "../fs/identity.ts";

export type { AccessProblem };

/** What is known of an episode before it is packed. */
export interface Inspection {
  tree: Tree;
  meta: MetaReading;
}

/** The producers' side: `episodes/` and what is in each episode. */
export interface EpisodeSource {
  /** Lists `episodes/`. */
  scan(episodesDir: string): Promise<ScanResult>;
  /** A key that changes when the episode directory, its marker or its meta.json change. */
  key(dir: string): Promise<string>;
  /**
   * Whether the shipper can read every file of the episode and move its directory: null, or
   * what stops it and the fix. Asked before anything is packed or sent.
   */
  access(dir: string): Promise<AccessProblem | null>;
  /**
   * Lists an episode's tree, reads its `meta.json`, and checks access.
   * @throws {import("../episodes/walk.ts").EpisodeChangedError} when it changes while listed
   */
  inspect(dir: string): Promise<Inspection>;
  /** Episode directories whose names are not UTF-8 (no path API can name them). */
  unaddressable(episodesDir: string): Promise<RawEntry[]>;
  /** Moves such a directory, found by inode, to `dest` once complete; false when incomplete. */
  moveUnaddressable(episodesDir: string, ino: string, dest: string): Promise<boolean>;
}

/** What the packer is asked to do. */
export interface PackRequest {
  dir: string;
  id: string;
  tree: Tree;
  /** A new file to write (a temporary name in `outbox/`). */
  dest: string;
  compression: Compression;
  level?: number;
  signal?: AbortSignal;
  onSkip?: (relPath: string) => void;
  onProgress?: (doneBytes: number) => void;
}

/** Episode directory → tarball. */
export interface Packer {
  /**
   * Packs; the file at `dest` is fsynced. Returns its size and base64 SHA-256.
   * @throws {import("../episodes/walk.ts").EpisodeChangedError} when the episode changed
   */
  pack(request: PackRequest): Promise<{ size: number; sha256: string }>;
  /** Size and base64 SHA-256 of a file, to verify a tarball before it is sent again. */
  digest(path: string): Promise<{ size: number; sha256: string }>;
}

/** The queue's world. */
export interface QueueWorld {
  fs: Fs;
  episodes: EpisodeSource;
  packer: Packer;
  receiver: Receiver;
  /** The exclusive moves section of the data root. */
  lock: MovesLock;
  now: () => number;
  random: () => number;
}

/**
 * Deno's episodes: scan, walk, meta.json, access, and find(1) for names that are not UTF-8.
 * The exact access check spawns find(1) twice (4–30 ms): it is skipped for root (who may read and
 * move anything) and for an episode directory the shipper owns with full owner rights (what a
 * producer running as the service user makes).
 */
export function denoEpisodes(layout: Layout): EpisodeSource {
  return {
    scan: scanEpisodes,
    key: preflightKey,
    async access(dir) {
      const us = await processIdentity();
      if (us?.uid === 0) return null;
      const info = await Deno.lstat(dir).catch(() => null);
      if (us && info?.uid === us.uid && ((info.mode ?? 0) & 0o700) === 0o700) return null;
      return await accessProblem(dir, layout);
    },
    async inspect(dir) {
      const tree = walkEpisode(dir);
      return { tree, meta: await readMeta(dir) };
    },
    unaddressable: listNonUtf8Dirs,
    moveUnaddressable: (episodesDir, ino, dest) =>
      moveCompleteByInode(episodesDir, ino, DONE_MARKER, dest),
  };
}

/** Deno's packer. */
export const denoPacker: Packer = {
  async pack(request) {
    const result = await packEpisode(request.dir, request.id, request.tree, request.dest, {
      compression: request.compression,
      ...(request.level !== undefined && { level: request.level }),
      ...(request.signal && { signal: request.signal }),
      ...(request.onSkip && { onSkip: request.onSkip }),
      ...(request.onProgress && { onProgress: request.onProgress }),
    });
    return { size: result.size, sha256: encodeBase64(result.sha256) };
  },
  async digest(path) {
    const hash = createHash("sha256");
    let size = 0;
    using file = await Deno.open(path, { read: true });
    const buffer = new Uint8Array(1024 * 1024);
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
      size += n;
    }
    return { size, sha256: encodeBase64(new Uint8Array(hash.digest())) };
  },
};

/** The production world around a receiver. */
export function productionWorld(layout: Layout, receiver: Receiver): QueueWorld {
  return {
    fs: denoFs,
    episodes: denoEpisodes(layout),
    packer: denoPacker,
    receiver,
    lock: (fn) => withMovesLock(layout, fn),
    now: Date.now,
    random: Math.random,
  };
}

/** Joins an episode id to `episodes/`. */
export function episodeDir(layout: Layout, id: string): string {
  return join(layout.episodes, id);
}
