/**
 * Packs one episode and nothing else, for the bench's packer rows: `deno run <binary's flags>
 * bench/_pack_once.ts <episode dir> <compression> <out>`; prints `{"size":…,"seconds":…}`.
 * `--no-sync` leaves the fsync out (as a queue that batches fsyncs would).
 */
import { basename } from "node:path";
import { walkEpisode } from "../src/episodes/walk.ts";
import { packEpisode } from "../src/pack/pack.ts";
import type { Compression } from "../src/protocol/protocol.ts";

if (import.meta.main) {
  const [dir, compression, out, flag] = Deno.args;
  if (!dir || !compression || !out) {
    throw new TypeError("Usage: _pack_once.ts <episode dir> <compression> <out> [--no-sync]");
  }
  const started = performance.now();
  const result = await packEpisode(dir, basename(dir), walkEpisode(dir), out, {
    compression: compression as Compression,
    sync: flag !== "--no-sync",
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ size: result.size, seconds }));
}
