/** The queue's view of `data_root`: the one {@linkcode Layout} of `src/layout.ts`. */
import type { Compression } from "../protocol/protocol.ts";
import type { Layout } from "../layout.ts";

export { type Layout, layoutOf, STATE_SUFFIX } from "../layout.ts";

/** The tarball of an episode in `outbox/`. */
export function tarballPath(layout: Layout, episodeId: string, compression: Compression): string {
  return layout.tarballPath(episodeId, compression);
}

/** The state file of an episode in `outbox/`. */
export function statePath(layout: Layout, episodeId: string): string {
  return layout.statePath(episodeId);
}
