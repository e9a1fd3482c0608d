/**
 * Peak resident memory of one `--once` shipping one incompressible episode of 64 MiB, 512 MiB and
 * 2 GiB, one row per compression: flat means the same peak at every size. The runtime's floor
 * (jobs/floor.ts) and the peers' peaks are shown beside it. Each size runs once per row: a peak is
 * judged against a ceiling, not a ratio.
 */
import { join } from "node:path";
import { makeEpisode } from "../../devkit/fixtures.ts";
import type { Compression } from "../../src/protocol/protocol.ts";
import { q } from "../_proc.ts";
import { type Bench, dataFile, errorText, type Job, progress } from "../context.ts";
import {
  failedRow,
  formatMB,
  formatSeconds,
  formatSize,
  mbOf,
  pick,
  type Row,
  type Target,
  targetText,
  verdictOf,
} from "../report.ts";
import { floors } from "./floor.ts";

const MiB = 1024 * 1024;
const SIZES = { full: [64 * MiB, 512 * MiB, 2048 * MiB], quick: [8 * MiB, 32 * MiB, 128 * MiB] };
const TARGET: Target = { kind: "ceiling", maxMB: 80 };

/** The episode sizes of the memory rows: 64 MiB, 512 MiB, 2 GiB (8/32/128 MiB with --quick). */
export function rssSizes(b: Bench): number[] {
  return pick(b.quick, SIZES);
}

/** A data root with one random episode of `bytes`; the 1 GiB file is hard-linked where it fits. */
export function randomEpisode(b: Bench, bytes: number): Promise<string> {
  return b.once(`rss-${bytes}`, async () => {
    const root = join(b.root, `rss-${bytes}`);
    const dir = await makeEpisode(root, "ep-rss", { files: {} });
    let left = bytes, part = 1;
    if (left >= b.bigBytes) {
      const big = join(await b.big(), "episodes", "ep-big", "data.bin");
      await Deno.link(big, join(dir, `part-${part++}.bin`));
      left -= b.bigBytes;
    }
    for (; left > 0; part++) {
      const n = Math.min(left, b.bigBytes);
      await dataFile(join(dir, `part-${part}.bin`), "random", n);
      left -= n;
    }
    return root;
  });
}

/** The peers' peaks (GNU time) for `tar | curl` on the largest episode, once per run. */
function peerPeaks(b: Bench, bytes: number): Promise<string> {
  return b.once("rss-peers", async () => {
    const tTar = join(b.root, "time-tar"), tCurl = join(b.root, "time-curl");
    try {
      const eps = join(await randomEpisode(b, bytes), "episodes");
      await b.peer({
        name: "tar | curl",
        script: `/usr/bin/time -f %M -o ${q(tTar)} tar -C ${q(eps)} -cf - ep-rss | ` +
          `/usr/bin/time -f %M -o ${q(tCurl)} ${b.curl} -T - ${q(b.url("peer.tar"))}`,
        stores: 1,
      });
      const kib = async (f: string) =>
        Number((await Deno.readTextFile(f)).trim().split("\n").at(-1));
      return `tar | curl (${formatSize(bytes)}): tar ${formatMB(await kib(tTar))}, curl ${
        formatMB(await kib(tCurl))
      }`;
    } catch (error) {
      return `tar | curl: n/a (${errorText(error)})`;
    }
  });
}

function rssJobRow(compression: Compression) {
  return async (b: Bench): Promise<Row> => {
    const sizes = rssSizes(b);
    const id = `rss-${compression}`;
    const workload = `peak RSS, one random episode of ${
      sizes.map(formatSize).join(" / ")
    }, ${compression}`;
    const peaks: { bytes: number; kib: number; seconds: number }[] = [];
    try {
      for (const bytes of sizes) {
        const root = await randomEpisode(b, bytes);
        const r = await b.ship(await b.config(root, compression), root, 1);
        progress(
          `${id} ${formatSize(bytes)}: ${formatMB(r.hwmKiB)} in ${formatSeconds(r.seconds)}`,
        );
        peaks.push({ bytes, kib: r.hwmKiB, seconds: r.seconds });
      }
    } catch (error) {
      return failedRow(id, workload, TARGET, errorText(error));
    }
    const f = await floors(b);
    const top = Math.max(...peaks.map((p) => p.kib));
    return {
      id,
      workload,
      ours: peaks.map((p) => formatMB(p.kib)).join(" / "),
      peer: await peerPeaks(b, sizes.at(-1)!),
      ratio: null,
      target: targetText(TARGET),
      verdict: verdictOf(TARGET, { kind: "ceiling", peakMB: mbOf(top) }),
      context: `floor: --version ${formatMB(f.version.kib)}, node: imports ${
        formatMB(f.imports.kib)
      }; took ${peaks.map((p) => formatSeconds(p.seconds)).join(" / ")}`,
      data: {
        runs: peaks.map((p) => ({ bytes: p.bytes, peak_rss_kib: p.kib, seconds: p.seconds })),
      },
    };
  };
}

/** One row per compression. */
export const rssJob: Job = {
  id: "rss",
  async run(b: Bench): Promise<Row[]> {
    const rows: Row[] = [];
    for (const c of ["gzip", "zstd", "none"] as const) rows.push(await rssJobRow(c)(b));
    return rows;
  },
};
