/** Explores seeds on every core: one Web Worker per slice of the range. */
import type { Failure } from "./explore.ts";

/** Runs seeds `from` … `from + count - 1` across `workers` workers. */
export async function exploreParallel(
  from: number,
  count: number,
  workers = Math.max(1, navigator.hardwareConcurrency),
): Promise<Failure[]> {
  const slice = Math.ceil(count / workers);
  const runs = Array.from({ length: workers }, (_, i) => {
    const start = from + i * slice;
    const n = Math.max(0, Math.min(slice, from + count - start));
    return new Promise<Failure[]>((resolve, reject) => {
      if (n === 0) return resolve([]);
      const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      worker.onmessage = (event) => resolve((event.data as { failures: Failure[] }).failures);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`simulation worker failed: ${event.message}`));
      };
      worker.postMessage({ from: start, count: n });
    });
  });
  return (await Promise.all(runs)).flat().sort((a, b) => a.seed - b.seed);
}
