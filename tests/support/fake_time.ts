/**
 * A fake clock and `sleep()` for the scheduler: nothing waits for real time. `next()` waits (in
 * real event-loop turns, not in guessed durations) until the code under test sleeps, then jumps
 * the clock to the earliest wake-up and wakes that sleeper.
 */
export class FakeTime {
  #sleepers: { due: number; ms: number; resolve: () => void }[] = [];
  /** Every sleep asked for, in ms, in order. */
  readonly asked: number[] = [];

  constructor(public t: number) {}

  now = (): number => this.t;

  sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      this.asked.push(ms);
      if (signal.aborted) return resolve();
      const sleeper = { due: this.t + ms, ms, resolve };
      this.#sleepers.push(sleeper);
      signal.addEventListener("abort", () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        resolve();
      }, { once: true });
    });

  /** Sleepers waiting now. */
  get sleeping(): number {
    return this.#sleepers.length;
  }

  /**
   * Waits until something sleeps (or `done` settles: then returns false), then advances the
   * clock to the earliest wake-up and wakes it.
   */
  async next(done?: Promise<unknown>): Promise<boolean> {
    let finished = false;
    done?.then(() => (finished = true), () => (finished = true));
    while (this.#sleepers.length === 0) {
      if (finished) return false;
      await new Promise((r) => setTimeout(r, 0));
    }
    this.#sleepers.sort((a, b) => a.due - b.due);
    const first = this.#sleepers.shift()!;
    this.t = Math.max(this.t, first.due);
    first.resolve();
    return true;
  }
}
