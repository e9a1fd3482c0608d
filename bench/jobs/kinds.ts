/**
 * Compression that decides right, per kind of data: one episode of one file of each kind shipped
 * with the default (adaptive gzip, level 3), against `tar | gzip -3 | curl`. The ratio is bytes
 * sent (ours / gzip -3); time is beside it. Targets: base64 no larger than gzip -3; random and
 * already-gzipped data never larger than stored (the plain tar, + 0.1 % for stored-block headers).
 */
import { join } from "node:path";
import { q, timeShell } from "../_proc.ts";
import type { Bench, DataKind, Job } from "../context.ts";
import {
  formatBytes,
  formatSeconds,
  formatSize,
  median,
  pick,
  type Row,
  type Verdict,
} from "../report.ts";

const KINDS: readonly DataKind[] = ["random", "base64", "json", "csv", "gzipped"];
const SIZE = { full: 32 * 1024 * 1024, quick: 4 * 1024 * 1024 };

/** What each kind's bytes are judged against. */
const JUDGED: Record<DataKind, { against: "gzip -3" | "stored"; max: number } | null> = {
  random: { against: "stored", max: 1.001 },
  base64: { against: "gzip -3", max: 1 },
  json: null,
  csv: null,
  gzipped: { against: "stored", max: 1.001 },
};

async function kindRow(b: Bench, kind: DataKind, bytes: number): Promise<Row> {
  const id = `kinds-${kind}`;
  const dataRoot = await b.oneFile(`kind-${kind}`, kind, bytes);
  const eps = join(dataRoot, "episodes");
  const stored = Number(
    (await timeShell(`tar -C ${q(eps)} -cf - ep-kind-${kind} | wc -c`)).stdout.trim(),
  );
  const r = await b.compare(
    id,
    async () => b.ship(await b.config(dataRoot, "gzip"), dataRoot, 1),
    [{
      name: "tar | gzip -3 | curl",
      script: `tar -C ${q(eps)} -cf - ep-kind-${kind} | gzip -3 | ${b.curl} -T - ${
        q(b.url("peer.tar.gz"))
      }`,
      stores: 1,
    }],
  );
  const peer = r.peers[0]!;
  const ours = r.ours[0]?.bytes;
  const judged = JUDGED[kind];
  const ratio = ours !== undefined && peer.bytes ? ours / peer.bytes : null;
  let verdict: Verdict = "n/a";
  if (judged && ours !== undefined) {
    const base = judged.against === "stored" ? stored : peer.bytes;
    if (base) verdict = ours <= base * judged.max ? "pass" : "miss";
  }
  const oursS = median(r.ours.map((x) => x.seconds));
  const error = r.oursError ?? peer.error;
  return {
    id,
    workload: `${formatSize(bytes)} of ${kind}, gzip (default), bytes sent`,
    ours: ours === undefined ? "n/a" : `${formatBytes(ours)} in ${formatSeconds(oursS)}`,
    peer: peer.bytes === undefined
      ? `gzip -3: n/a`
      : `gzip -3: ${formatBytes(peer.bytes)} in ${formatSeconds(median(peer.seconds))}`,
    ratio,
    target: judged ? `bytes ≤ ${judged.max}× ${judged.against}` : "—",
    verdict,
    context: `stored (plain tar): ${formatBytes(stored)}`,
    ...(error !== undefined && { error }),
    data: {
      bytes_ours: ours ?? null,
      bytes_gzip3: peer.bytes ?? null,
      bytes_stored: stored,
      seconds_ours: r.ours.map((x) => x.seconds),
      seconds_gzip3: peer.seconds,
    },
  };
}

/** One row per data kind. */
export const kindsJob: Job = {
  id: "kinds",
  async run(b: Bench): Promise<Row[]> {
    const rows: Row[] = [];
    for (const kind of KINDS) rows.push(await kindRow(b, kind, pick(b.quick, SIZE)));
    return rows;
  },
};
