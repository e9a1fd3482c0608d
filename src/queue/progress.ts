/**
 * Progress of the work on one episode, as the queue reports it while it packs and uploads; a
 * terminal draws it (src/cli/progress.ts).
 */

/**
 * Progress of one phase of one episode. The queue sends one when the phase starts (0 bytes),
 * as bytes go (pack: bytes of the episode's files read; upload: the receiver's `onProgress`), and
 * one at `totalBytes` when it is done. A phase that stops early (a failure, a stop) is closed by
 * an event with `ended: true` carrying the bytes it reached.
 */
export interface ProgressEvent {
  phase: "pack" | "upload";
  episode: string;
  doneBytes: number;
  totalBytes: number;
  /** The phase stopped before `totalBytes`. @default {false} */
  ended?: boolean;
}
