/**
 * A backlog of many small episodes in one `--once`: open descriptors and resident memory must stay
 * bounded however long the backlog is. One row per backlog length; each runs once (ceilings).
 */
import { type Bench, errorText, type Job, oursJson, progress } from "../context.ts";
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

const SIZES = {
  full: { counts: [2000, 5000], files: 3, bytes: 5000 },
  quick: { counts: [100, 200], files: 3, bytes: 5000 },
};
const TARGET: Target = { kind: "bounded", maxFds: 64, maxMB: 90 };

/** One row per backlog length. */
export const backlogJob: Job = {
  id: "backlog",
  async run(b: Bench): Promise<Row[]> {
    const s = pick(b.quick, SIZES);
    const rows: Row[] = [];
    for (const n of s.counts) {
      const id = `backlog-${n}`;
      const workload = `backlog of ${n.toLocaleString("en")} episodes (${s.files} × ${
        formatSize(s.bytes)
      }), one --once`;
      try {
        const dataRoot = await b.episodes(`backlog-${n}`, n, s.files, s.bytes);
        const r = await b.ship(await b.config(dataRoot, "gzip"), dataRoot, n);
        progress(`${id}: ${formatSeconds(r.seconds)}, ${r.fds} fds, ${formatMB(r.hwmKiB)}`);
        const f = await floors(b);
        rows.push({
          id,
          workload,
          ours: `${r.fds} fds, ${formatMB(r.hwmKiB)} (${formatSeconds(r.seconds)})`,
          peer: "—",
          ratio: null,
          target: targetText(TARGET),
          verdict: verdictOf(TARGET, { kind: "bounded", fds: r.fds, peakMB: mbOf(r.hwmKiB) }),
          context: `${(n / r.seconds).toFixed(0)} episodes/s; floor: --version ${
            formatMB(f.version.kib)
          }`,
          data: { ours: oursJson([r]), episodes: n },
        });
      } catch (error) {
        rows.push(failedRow(id, workload, TARGET, errorText(error)));
      }
    }
    return rows;
  },
};
