/**
 * Packs one episode in a process of its own, for tests that must watch the packer under the
 * binary's permission flags: `_pack_child.ts <dir> <out> <compression> [--no-sync]`. Prints the
 * SHA-256 (hex) and how many frames the zstd Worker made.
 */
import { basename } from "node:path";
import { walkEpisode } from "../../src/episodes/walk.ts";
import { packEpisode } from "../../src/pack/pack.ts";
import { workerFrames } from "../../src/pack/_zstd_workers.ts";
import type { Compression } from "../../src/protocol/protocol.ts";

if (import.meta.main) {
  const [dir, out, compression, flag] = Deno.args;
  if (!dir || !out || !compression) throw new TypeError("Usage: <dir> <out> <compression>");
  const result = await packEpisode(dir, basename(dir), walkEpisode(dir), out, {
    compression: compression as Compression,
    sync: flag !== "--no-sync",
  });
  const sha256 = Array.from(result.sha256, (b) => b.toString(16).padStart(2, "0")).join("");
  console.log(JSON.stringify({ sha256, workerFrames: workerFrames() }));
}
