/**
 * `--once` progress on a terminal: episodes and bytes sent so far, on one rewritten stderr line.
 * Not under journald or a pipe, where a rewritten line is noise.
 */

/** Uploads so far. */
export interface Progress {
  done: number;
  inFlight: number;
  bytesDone: number;
}

/** The progress line. Pure. */
export function formatProgress(p: Progress): string {
  const mib = (p.bytesDone / 1048576).toFixed(1);
  return `uploaded ${p.done} episode${p.done === 1 ? "" : "s"} (${mib} MiB)` +
    (p.inFlight > 0 ? `, ${p.inFlight} in flight` : "");
}

/** Whether to show progress: stderr is a terminal and journald is not reading it. */
export function showsProgress(isTerminal: boolean, journalStream: string | undefined): boolean {
  return isTerminal && !journalStream;
}

/** A progress reporter fed with the pass's upload events; `end()` clears the line. */
export function progressReporter(write: (text: string) => void) {
  const p: Progress = { done: 0, inFlight: 0, bytesDone: 0 };
  return {
    onUpload(event: { bytes: number; done: boolean }) {
      if (event.done) {
        p.inFlight--;
        p.done++;
        p.bytesDone += event.bytes;
      } else p.inFlight++;
      write(`\r\x1b[K${formatProgress(p)}`);
    },
    end() {
      if (p.done + p.inFlight > 0) write("\r\x1b[K");
    },
  };
}
