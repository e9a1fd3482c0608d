/**
 * A bound on the garbage a long pass leaves for V8 to find. See {@linkcode GarbageBound}.
 */
import v8 from "node:v8";

/** Bytes the heap and the buffers it owns hold now, garbage included. */
export function heldBytes(): number {
  const stats = v8.getHeapStatistics();
  return stats.used_heap_size + stats.external_memory;
}

/** What {@linkcode GarbageBound} measures and calls; defaults are the runtime's. */
export interface GarbageBoundOptions {
  /** @default {heldBytes} */
  held?: () => number;
  /** A full collection. @default {globalThis.gc, exposed by the binary's flags; else none} */
  gc?: (() => void) | undefined;
}

/**
 * How much the heap may grow before a full collection. The binary's 2 MiB young generation
 * promotes what lives through a few episodes, and V8 left that garbage in the old generation for
 * the whole of a long backlog (one full collection in an 18 s, 5,000-episode pass while the heap
 * grew from 11 to 32 MB). With 4 MiB: 9 collections of ~14 ms in that pass.
 */
export const GARBAGE_SLACK_BYTES = 4 * 1024 * 1024;

/**
 * Runs a full collection after a unit of work once what the heap holds grew by `slackBytes`
 * since the last one. Where the runtime offers no `gc()`, it does nothing.
 */
export class GarbageBound {
  readonly #held: () => number;
  readonly #gc: (() => void) | undefined;
  #base: number;

  constructor(
    readonly slackBytes: number = GARBAGE_SLACK_BYTES,
    options: GarbageBoundOptions = {},
  ) {
    this.#held = options.held ?? heldBytes;
    this.#gc = "gc" in options ? options.gc : (globalThis as { gc?: () => void }).gc;
    this.#base = this.#held();
  }

  /** Called after each unit of work; returns whether it collected. */
  check(): boolean {
    if (!this.#gc || this.#held() <= this.#base + this.slackBytes) return false;
    this.#gc();
    this.#base = this.#held();
    return true;
  }
}
