/**
 * Every path under `data_root`, named once. The folders of the data layout (`episodes/`,
 * `outbox/`, `shipped/`, `quarantine/`) and the shipper's own files beside them all come from
 * {@linkcode layoutOf}; no other module spells a name under `data_root`.
 *
 * ```
 * <data_root>/
 *   episodes/<id>/                 producer-owned; complete when done.marker exists
 *   outbox/<id>.tar.gz|.tar.zst|.tar   the packed episode
 *   outbox/<id>.state.json         its upload state (attempts, digest, the recorded answer)
 *   shipped/<id>/                  accepted episodes, pruned after keep_local_for_days
 *   quarantine/<id>/               refused episodes, with quarantine_reason.json
 *   quarantine/.history/           reasons of requeued episodes
 *   .cis490-ship.lock              held by the one shipper (service or --once)
 *   .cis490-ship.moves.lock        short sections around every move between the folders
 *   .cis490-ship.status.json       what the last pass knew (pause, last success and error)
 *   .cis490-ship.tmp/              temporary files of the operator commands
 *   .cis490-ship.trash/            pruned entries being removed
 *   .cis490-ship.unconfirmed/<name>  shipped entries the collector never confirmed (a 409 without
 *                                  a digest): prune keeps them until an operator says so
 * ```
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * const layout = layoutOf("/var/lib/cis490/data");
 * layout.statePath("ep-1"); // "/var/lib/cis490/data/outbox/ep-1.state.json"
 * ```
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { type Compression, COMPRESSION_FORMAT, isValidId } from "./protocol/protocol.ts";

/** The folders of the data layout, by name. */
export const DIRS = {
  episodes: "episodes",
  outbox: "outbox",
  shipped: "shipped",
  quarantine: "quarantine",
} as const;

/** The shipper's own files and folders directly under `data_root`. */
export const OWN = {
  lock: ".cis490-ship.lock",
  movesLock: ".cis490-ship.moves.lock",
  status: ".cis490-ship.status.json",
  opsTemp: ".cis490-ship.tmp",
  trash: ".cis490-ship.trash",
  unconfirmed: ".cis490-ship.unconfirmed",
} as const;

/** Reasons of requeued episodes, kept under `quarantine/`. */
export const HISTORY_DIR = ".history";

/** The reason file written beside a quarantined episode's files. */
export const REASON_FILE = "quarantine_reason.json";

/** Suffix of the per-episode state file beside its tarball in `outbox/`. */
export const STATE_SUFFIX = ".state.json";

/**
 * First character of the state file of an episode whose directory name is not a valid id (too
 * long or odd for a file name of its own): `#<sha-256 of the name>.state.json`; the name itself
 * is in the file.
 */
export const HASHED_STATE_PREFIX = "#";

/** The state file name of an episode. */
export function stateFileName(episodeId: string): string {
  if (isValidId(episodeId)) return episodeId + STATE_SUFFIX;
  const hash = createHash("sha256").update(episodeId).digest("hex").slice(0, 40);
  return HASHED_STATE_PREFIX + hash + STATE_SUFFIX;
}

/** Every path under one `data_root`. */
export interface Layout {
  dataRoot: string;
  episodes: string;
  outbox: string;
  shipped: string;
  quarantine: string;
  /** `quarantine/.history/`. */
  history: string;
  /** The shipper's exclusive lock. */
  lockFile: string;
  /** The moves section lock. */
  movesLockFile: string;
  /** The status file the shipper writes after each pass. */
  statusFile: string;
  /** Temporary files of the operator commands. */
  opsTemp: string;
  /** Pruned entries being removed. */
  trash: string;
  /** Marks of shipped entries the collector never confirmed. */
  unconfirmed: string;
  /** The tarball of an episode in `outbox/`. */
  tarballPath(episodeId: string, compression: Compression): string;
  /** The state file of an episode in `outbox/`. */
  statePath(episodeId: string): string;
}

/** The paths of a data root. */
export function layoutOf(dataRoot: string): Layout {
  const outbox = join(dataRoot, DIRS.outbox);
  const quarantine = join(dataRoot, DIRS.quarantine);
  return {
    dataRoot,
    episodes: join(dataRoot, DIRS.episodes),
    outbox,
    shipped: join(dataRoot, DIRS.shipped),
    quarantine,
    history: join(quarantine, HISTORY_DIR),
    lockFile: join(dataRoot, OWN.lock),
    movesLockFile: join(dataRoot, OWN.movesLock),
    statusFile: join(dataRoot, OWN.status),
    opsTemp: join(dataRoot, OWN.opsTemp),
    trash: join(dataRoot, OWN.trash),
    unconfirmed: join(dataRoot, OWN.unconfirmed),
    tarballPath: (id, compression) => join(outbox, id + COMPRESSION_FORMAT[compression].extension),
    statePath: (id) => join(outbox, stateFileName(id)),
  };
}
