/**
 * What every episode's turn shares within one pass: the config, the world, and the one owner of
 * each effect (outbox, moves, admission, tally). `pass.ts` makes it; the step files use it.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/log.ts";
import type { Layout } from "../layout.ts";
import type { Admission } from "./admission.ts";
import type { MovesContext } from "./moves.ts";
import type { Outbox } from "./outbox.ts";
import type { ProgressEvent } from "./progress.ts";
import type { QueueMemory, Tally } from "./tally.ts";
import type { QueueWorld } from "./world.ts";

export type { ProgressEvent };

/** What every episode's turn shares within one pass. */
export interface RunnerContext {
  config: Config;
  layout: Layout;
  world: QueueWorld;
  outbox: Outbox;
  admission: Admission;
  tally: Tally;
  memory: QueueMemory;
  moves: MovesContext;
  log: Logger;
  /** Episodes whose moves are done: the outbox forgets them once the moves are durable. */
  finished: Set<string>;
  maxWaitMs: number;
  /** Aborting also aborts packs and uploads in flight. */
  abortSignal?: AbortSignal;
  /** True once the pass stops starting new work. */
  stopping: () => boolean;
  onProgress?: (event: ProgressEvent) => void;
}
