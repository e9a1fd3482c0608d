/** Where things live under `data_root` (SPEC §3). */
import { join } from "node:path";
import { type Compression, COMPRESSION_FORMAT } from "../protocol/protocol.ts";

/** The directories under `data_root`. */
export interface Layout {
  dataRoot: string;
  episodes: string;
  outbox: string;
  shipped: string;
  quarantine: string;
  lockFile: string;
}

/** The directories of a data root. */
export function layoutOf(dataRoot: string): Layout {
  return {
    dataRoot,
    episodes: join(dataRoot, "episodes"),
    outbox: join(dataRoot, "outbox"),
    shipped: join(dataRoot, "shipped"),
    quarantine: join(dataRoot, "quarantine"),
    lockFile: join(dataRoot, ".cis490-ship.lock"),
  };
}

/** Suffix of the per-episode state file beside its tarball in `outbox/`. */
export const STATE_SUFFIX = ".state.json";

/** The tarball of an episode in `outbox/`. */
export function tarballPath(layout: Layout, episodeId: string, compression: Compression): string {
  return join(layout.outbox, episodeId + COMPRESSION_FORMAT[compression].extension);
}

/** The state file of an episode in `outbox/`. */
export function statePath(layout: Layout, episodeId: string): string {
  return join(layout.outbox, episodeId + STATE_SUFFIX);
}
