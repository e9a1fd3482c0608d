/**
 * A host-wide upload bandwidth cap: one token bucket (bytes per second) that every concurrent
 * upload draws from. The token arithmetic is pure ({@linkcode reserve}); {@linkcode Throttle}
 * adds the clock and the waiting.
 */

/** Tokens (bytes) in the bucket at instant `at` (ms); negative while reservations are owed. */
export interface Bucket {
  tokens: number;
  at: number;
}

/** Rate and burst of a bucket. */
export interface BucketLimits {
  /** Bytes per second. */
  rate: number;
  /** Most tokens an idle bucket saves up. */
  burst: number;
}

/**
 * Takes `bytes` from the bucket at `now`: returns the new bucket and how long (ms) the caller
 * waits before sending them. The bucket may go into debt, so requests larger than the burst
 * still pass, and concurrent callers are served in the order they asked.
 */
export function reserve(
  bucket: Bucket,
  bytes: number,
  now: number,
  limits: BucketLimits,
): { bucket: Bucket; waitMs: number } {
  const elapsed = Math.max(0, now - bucket.at);
  const refilled = Math.min(limits.burst, bucket.tokens + (elapsed * limits.rate) / 1000);
  const tokens = refilled - bytes;
  const waitMs = tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / limits.rate);
  return { bucket: { tokens, at: Math.max(now, bucket.at) }, waitMs };
}

/** Options for {@linkcode Throttle}. */
export interface ThrottleOptions {
  /** Most bytes sent at once after an idle spell. @default {rate / 10, at least 16 KiB} */
  burst?: number;
  /** @default {Date.now} */
  now?: () => number;
  /** @default {a setTimeout that an abort cuts short} */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** A shared bandwidth cap, passed to every `put()` of the host. */
export class Throttle {
  readonly limits: BucketLimits;
  /** How many bytes one write should carry, so the wire rate stays smooth. */
  readonly sliceBytes: number;
  #bucket: Bucket;
  #now: () => number;
  #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  /** @throws {RangeError} when `bytesPerSecond` is not a positive finite number. */
  constructor(bytesPerSecond: number, options: ThrottleOptions = {}) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new RangeError(`Cannot throttle to "${bytesPerSecond}" bytes per second`);
    }
    const burst = options.burst ?? Math.max(16 * 1024, bytesPerSecond / 10);
    this.limits = { rate: bytesPerSecond, burst };
    this.sliceBytes = Math.max(1, Math.floor(burst));
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleepFor;
    this.#bucket = { tokens: 0, at: this.#now() };
  }

  /** Resolves when `bytes` may be sent (at once if an abort came first). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const { bucket, waitMs } = reserve(this.#bucket, bytes, this.#now(), this.limits);
    this.#bucket = bucket;
    if (waitMs > 0) await this.#sleep(waitMs, signal);
  }
}
