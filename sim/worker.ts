/** A Web Worker that explores a range of seeds and posts the failures back. */
import { explore } from "./explore.ts";

/** What the worker is asked. */
export interface WorkerRequest {
  from: number;
  count: number;
}

/** The worker's side of the message channel (the window types do not describe a worker). */
const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<WorkerRequest>) => void;
  postMessage: (message: unknown) => void;
  close: () => void;
};

scope.onmessage = async (event) => {
  const { from, count } = event.data;
  const failures = await explore(from, count);
  scope.postMessage({ failures });
  scope.close();
};
