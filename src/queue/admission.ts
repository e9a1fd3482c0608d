/**
 * Admission to the receiver: the host gate (`gate.ts`, pure) applied, with exactly one probe in
 * flight while the host is paused or not yet proven (invariant 6 in `mod.ts`), and at most
 * `upload_concurrency` requests at once. Other uploads wait for the probe's answer, then go
 * (gate opened) or stay queued (gate still closed). Packing is not admission's business: episodes
 * pack ahead while others upload, unless the host is known to be paused.
 */
import type { Logger } from "../log/log.ts";
import { admission, afterAnswer, afterFailure, type PauseWhy } from "./gate.ts";
import { pauseText, type QueueMemory } from "./tally.ts";

/** The answer to "may this episode be sent now?". */
export type Ticket =
  | { go: true; probe: boolean; release: () => void }
  | { go: false; why: string; until: number | null };

/** Options for {@linkcode Admission}. */
export interface AdmissionOptions {
  now: () => number;
  random: () => number;
  backoffSeconds: readonly number[];
  /** Probe times further away than this come from a clock that jumped back. */
  maxWaitMs: number;
  log: Logger;
  /** True once the pass is stopping: nothing more is admitted. */
  stopping: () => boolean;
  /** What the receiver is, in words (`Receiver.noun`). @default {"collector"} */
  noun?: string;
  /** Requests in flight at once (`upload_concurrency`). @default {1} */
  slots?: number;
}

const NONE = () => {};

/** The gate of one pass, over the gate value the service keeps in memory. */
export class Admission {
  #probe: Promise<void> | null = null;
  #free: number;
  #waiting: (() => void)[] = [];

  constructor(readonly memory: QueueMemory, readonly options: AdmissionOptions) {
    this.#free = Math.max(1, options.slots ?? 1);
  }

  async #slot(): Promise<() => void> {
    while (this.#free === 0) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#free--;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.#free++;
      this.#waiting.shift()?.();
    };
  }

  /**
   * Why nothing may be sent now, without waiting or claiming anything: the host is paused and
   * its next probe is not due. Null when a request may go (or a probe may be claimed).
   */
  closed(): { why: string; until: number } | null {
    const { now, maxWaitMs } = this.options;
    const gate = this.memory.gate;
    if (admission(gate, now(), maxWaitMs) !== "closed") return null;
    return { why: this.#closedWhy(gate.paused!), until: gate.paused!.nextProbeAt };
  }

  /**
   * Waits for a request slot and the gate: a ticket that goes holds the slot (and, as the probe,
   * everyone else) until it is released, once the receiver's answer is applied.
   */
  async enter(id: string): Promise<Ticket> {
    const freeSlot = await this.#slot();
    const ticket = await this.#gate(id);
    if (!ticket.go) {
      freeSlot();
      return ticket;
    }
    const release = ticket.release;
    return {
      ...ticket,
      release: () => {
        release();
        freeSlot();
      },
    };
  }

  /** Waits until the gate lets `id` go, or says why not. */
  async #gate(id: string): Promise<Ticket> {
    while (this.#probe) await this.#probe;
    const { now, maxWaitMs, log } = this.options;
    if (this.options.stopping()) return { go: false, why: "stopping", until: null };
    const gate = this.memory.gate;
    switch (admission(gate, now(), maxWaitMs)) {
      case "open":
        return { go: true, probe: false, release: NONE };
      case "probe": {
        log[gate.paused ? "info" : "debug"]("probing the receiver with one episode", {
          episode: id,
          paused_because: gate.paused?.message ?? null,
        });
        // Claimed before anything else runs, so exactly one probe is in flight.
        let release!: () => void;
        this.#probe = new Promise<void>((resolve) => (release = resolve)).then(() => {
          this.#probe = null;
        });
        return { go: true, probe: true, release };
      }
      case "closed": {
        const p = gate.paused!;
        return { go: false, why: this.#closedWhy(p), until: p.nextProbeAt };
      }
    }
  }

  /**
   * Asks again, right before the request, for a ticket taken earlier (packing takes time): if
   * the host failed meanwhile, the episode waits for the next probe instead of adding a request
   * to an outage (invariant 6). The probe itself always goes.
   */
  recheck(ticket: Extract<Ticket, { go: true }>): Ticket {
    if (ticket.probe) return ticket;
    const p = this.memory.gate.paused;
    if (p === null) return ticket;
    return { go: false, why: this.#closedWhy(p), until: p.nextProbeAt };
  }

  #closedWhy(p: { why: PauseWhy; message: string }): string {
    const text = pauseText(p.why, this.options.noun);
    return p.why === "collector-down"
      ? `${text} (${p.message}); probing one episode at a time`
      : `uploads paused: ${text}: ${p.message}`;
  }

  /** The receiver answered about an episode (stored or not): the host is proven. */
  answered(): void {
    this.memory.gate = afterAnswer(this.memory.gate);
  }

  /** The host failed (down, refused, misaddressed, clock): paused until the next step. */
  failed(why: PauseWhy, message: string, retryAfterMs: number | null): void {
    const { now, backoffSeconds, random } = this.options;
    this.memory.gate = afterFailure(this.memory.gate, { why, message, retryAfterMs }, {
      now: now(),
      backoffSeconds,
      random,
    });
  }

  /** When the paused host may probe next (ms), or null when it is not paused. */
  nextProbeAt(): number | null {
    return this.memory.gate.paused?.nextProbeAt ?? null;
  }
}
