/**
 * The packer alone (walk, read, compress, hash, write, fsync; no upload): peak resident memory and
 * time for one incompressible episode of 64 MiB, 512 MiB and 2 GiB per compression, run under the
 * binary's permission flags. It separates what packing costs from what the upload adds in the
 * `rss` rows.
 */
import { join } from "node:path";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";
import type { Compression } from "../../src/protocol/protocol.ts";
import { q, timeShell } from "../_proc.ts";
import { type Bench, errorText, type Job, progress } from "../context.ts";
import {
  failedRow,
  formatMB,
  formatRate,
  formatSeconds,
  formatSize,
  mbOf,
  type Row,
  type Target,
  targetText,
  verdictOf,
} from "../report.ts";
import { floors } from "./floor.ts";
import { randomEpisode, rssSizes } from "./rss.ts";

const SCRIPT = new URL("../_pack_once.ts", import.meta.url).pathname;
const TARGET: Target = { kind: "ceiling", maxMB: 80 };

/** Packs `dir` once in its own process; its peak RSS (KiB) and packing seconds. */
async function packOnce(
  b: Bench,
  dir: string,
  compression: Compression,
): Promise<{ kib: number; seconds: number }> {
  const out = join(b.root, `pack-once.${compression}`);
  const time = join(b.root, "pack-once.time");
  try {
    const argv = [
      Deno.execPath(),
      "run",
      "--quiet",
      ...PERMISSION_FLAGS,
      SCRIPT,
      dir,
      compression,
      out,
    ];
    const { stdout } = await timeShell(
      `/usr/bin/time -f %M -o ${q(time)} ${argv.map(q).join(" ")}`,
    );
    const kib = Number((await Deno.readTextFile(time)).trim().split("\n").at(-1));
    return { kib, seconds: (JSON.parse(stdout) as { seconds: number }).seconds };
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

/** One row per compression. */
export const packJob: Job = {
  id: "pack",
  async run(b: Bench): Promise<Row[]> {
    const sizes = rssSizes(b);
    const rows: Row[] = [];
    for (const compression of ["gzip", "zstd", "none"] as const) {
      const id = `pack-${compression}`;
      const workload = `packing alone, peak RSS: random ${
        sizes.map(formatSize).join(" / ")
      }, ${compression}`;
      try {
        const peaks = [];
        for (const bytes of sizes) {
          const dir = join(await randomEpisode(b, bytes), "episodes", "ep-rss");
          const p = await packOnce(b, dir, compression);
          progress(`${id} ${formatSize(bytes)}: ${formatMB(p.kib)} in ${formatSeconds(p.seconds)}`);
          peaks.push({ bytes, ...p });
        }
        const f = await floors(b);
        const top = Math.max(...peaks.map((p) => p.kib));
        const last = peaks.at(-1)!;
        rows.push({
          id,
          workload,
          ours: peaks.map((p) => formatMB(p.kib)).join(" / "),
          peer: "—",
          ratio: null,
          target: targetText(TARGET),
          verdict: verdictOf(TARGET, { kind: "ceiling", peakMB: mbOf(top) }),
          context: `packed in ${peaks.map((p) => formatSeconds(p.seconds)).join(" / ")} (${
            formatRate(last.bytes, last.seconds)
          } at ${formatSize(last.bytes)}, fsync included); floor: node: imports ${
            formatMB(f.imports.kib)
          }`,
          data: {
            runs: peaks.map((p) => ({ bytes: p.bytes, peak_rss_kib: p.kib, seconds: p.seconds })),
          },
        });
      } catch (error) {
        rows.push(failedRow(id, workload, TARGET, errorText(error)));
      }
    }
    return rows;
  },
};
