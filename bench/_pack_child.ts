/** Packs one episode directory and prints `{"ms":…,"bytes":…,"vmhwm_kib":…}` (for bench.ts). */
import { walkEpisode } from "../src/episodes/walk.ts";
import { packEpisode } from "../src/pack/pack.ts";

const [dir, id, out] = Deno.args as [string, string, string];
const started = performance.now();
const result = await packEpisode(dir, id, walkEpisode(dir), out);
const ms = performance.now() - started;
const status = await Deno.readTextFile("/proc/self/status");
const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
console.log(JSON.stringify({ ms, bytes: result.size, vmhwm_kib: hwm }));
