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
 * Runs a full collection after a unit of work once what the heap holds grew by `slackBytes`
 * since the last one. Where the runtime offers no `gc()`, it does nothing.
 */
export class GarbageBound {
  readonly #held: () => number;
  readonly #gc: (() => void) | undefined;
  #base: number;

  constructor(readonly slackBytes: number, options: GarbageBoundOptions = {}) {
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
