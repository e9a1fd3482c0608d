/**
 * Worker threads that compress zstd frames, shared by every pack in the process.
 *
 * Deno 2.9.6 throws on `ZSTD_c_nbWorkers`, so zstd's own threads are not available; a frame per
 * segment is (frames concatenate into one valid `.zst`, and `zstd -t`/`-d` read them). A Worker
 * costs ~12–18 MB of resident memory, so one is started only at a compressible segment with at
 * least 16 MiB of the episode still to pack (a backlog of small episodes never starts one), and it
 * is stopped when no pack uses it any more (an idle Worker would also keep `--once` from exiting).
 *
 * The Worker's code is a Blob built from this module's functions: nothing to `--include` in the
 * compiled binary, and it inherits the binary's permissions (it needs none: it only computes).
 * It makes frames with {@linkcode compressFrame} itself, on a compressor made with the same
 * parameters, so a frame is the same bytes on either thread.
 */
import { compressFrame } from "./_zlib_sync.ts";

/** One frame to make: `input[0, length)` → `output`; both buffers travel and come back. */
interface Job {
  id: number;
  level: number;
  input: ArrayBuffer;
  length: number;
  output: ArrayBuffer;
}

/** A finished job: the buffers back, and the frame's size or the error. */
export interface FrameResult {
  input: ArrayBuffer;
  output: ArrayBuffer;
  size: number;
}

/** What the Worker sends back for a job. */
type Reply = { id: number; input: ArrayBuffer; output: ArrayBuffer; size?: number; error?: string };

/** The Worker's main, run from its source text: no imports, no outer names but its arguments. */
function workerMain(
  nodeZlib: typeof import("node:zlib"),
  frame: typeof compressFrame,
  scope: {
    onmessage: ((event: MessageEvent<Job>) => void) | null;
    postMessage: Worker["postMessage"];
  },
): void {
  const Z = nodeZlib.constants;
  const steppers = new Map<number, Parameters<typeof compressFrame>[0]>();
  const stepperFor = (level: number) => {
    let z = steppers.get(level);
    if (z) return z;
    // deno-lint-ignore no-explicit-any -- node:zlib internals, as in _zlib_sync.ts
    const stream: any = nodeZlib.createZstdCompress({
      params: { [Z.ZSTD_c_compressionLevel]: level, [Z.ZSTD_c_checksumFlag]: 1 },
    });
    stream.on("error", () => {});
    const handle = stream._handle, state: Uint32Array = stream._writeState;
    const stepper = {
      availIn: 0,
      availOut: 0,
      step(f: number, i: Uint8Array, io: number, il: number, o: Uint8Array, oo: number): number {
        const space = o.length - oo;
        handle.writeSync(f, i, io, il, o, oo, space);
        if (stream.destroyed) throw stream.errored ?? new Error("zstd stream closed");
        stepper.availOut = state[0]!;
        stepper.availIn = state[1]!;
        return space - stepper.availOut;
      },
    };
    steppers.set(level, stepper);
    z = stepper;
    return z;
  };
  scope.onmessage = (event) => {
    const { id, level, input, length, output } = event.data;
    let reply: Reply;
    try {
      const size = frame(
        stepperFor(level),
        new Uint8Array(input, 0, length),
        new Uint8Array(output),
        Z.ZSTD_e_end,
      );
      reply = { id, input, output, size };
    } catch (error) {
      reply = { id, input, output, error: String(error) };
    }
    scope.postMessage(reply, [input, output]);
  };
}

const SOURCE = `import * as nodeZlib from "node:zlib";
const compressFrame = ${compressFrame.toString()};
(${workerMain.toString()})(nodeZlib, compressFrame, self);
`;

/** A started Worker and its outstanding jobs. */
class FrameWorker {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, PromiseWithResolvers<FrameResult>>();
  #nextId = 0;
  #failed: Error | null = null;

  constructor(url: string) {
    this.#worker = new Worker(url, { type: "module", name: "cis490-ship zstd" });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => {
      const reply = event.data;
      const waiter = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (reply.error !== undefined || reply.size === undefined) {
        waiter?.reject(new Error(`Cannot compress a zstd frame: ${reply.error}`));
      } else {
        framesMade++;
        waiter?.resolve({ input: reply.input, output: reply.output, size: reply.size });
      }
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`The zstd worker failed: ${event.message}`));
    };
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
  }

  get failed(): boolean {
    return this.#failed !== null;
  }

  /**
   * Sends a job; `input` and `output` are transferred (detached here) until the result. Jobs sent
   * while the Worker still starts wait in its queue, so a pack's first compressible segments go
   * to it however slowly it starts (later ones whenever it has a free buffer; its frames are the
   * same bytes as the main thread's either way).
   */
  frame(
    level: number,
    input: ArrayBuffer,
    length: number,
    output: ArrayBuffer,
  ): Promise<FrameResult> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#nextId++;
    const waiter = Promise.withResolvers<FrameResult>();
    this.#waiting.set(id, waiter);
    const job: Job = { id, level, input, length, output };
    this.#worker.postMessage(job, [input, output]);
    return waiter.promise;
  }

  terminate(): void {
    this.#worker.terminate();
    this.#fail(new Error("The zstd worker was stopped"));
  }
}

let url: string | undefined;
let framesMade = 0;

/** Frames the Worker has made in this process (tests show with it that the Worker ran). */
export function workerFrames(): number {
  return framesMade;
}

let shared: FrameWorker | null = null;
/** Set when `new Worker` itself threw: this process makes every frame on the main thread. */
let unavailable = false;
let users = 0;

/** The process's frame Worker, started on first use; null when Workers cannot be started. */
export function frameWorker(): FrameWorker | null {
  // One that failed stays failed until no pack uses it: no restart loop, frames go to main.
  if (shared) return shared.failed ? null : shared;
  if (unavailable) return null;
  try {
    url ??= URL.createObjectURL(new Blob([SOURCE], { type: "text/javascript" }));
    shared = new FrameWorker(url);
  } catch {
    unavailable = true;
    shared = null;
  }
  return shared;
}

/** Counts a pack that may use the Worker; call the returned function when it is done. */
export function useFrameWorker(): () => void {
  users++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users === 0 && shared) {
      shared.terminate();
      shared = null;
    }
  };
}

export type { FrameWorker };
