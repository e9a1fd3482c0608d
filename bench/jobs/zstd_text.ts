/**
 * zstd on compressible data: one 1 GiB CSV episode with `compression = "zstd"` (level 3, the
 * default) against `tar | zstd -1 -T2 | curl` (the peer), with `zstd -3 -T2` (our level)
 * and the bytes each sent as context.
 */
import { join } from "node:path";
import { q } from "../_proc.ts";
import type { Bench, Job } from "../context.ts";
import { formatBytes, formatSize, type Row } from "../report.ts";

/** The zstd-on-text row. */
export const zstdTextJob: Job = {
  id: "zstd-text",
  async run(b: Bench): Promise<Row[]> {
    const bytes = b.bigBytes;
    const dataRoot = await b.oneFile("text", "csv", bytes);
    const eps = join(dataRoot, "episodes");
    const peer = (level: number) => ({
      name: `tar | zstd -${level} -T2 | curl`,
      script: `tar -C ${q(eps)} -cf - ep-text | zstd -q -c -${level} -T2 | ${b.curl} -T - ${
        q(b.url("peer.tar.zst"))
      }`,
      stores: 1,
    });
    const row = await b.ratioRow(
      "zstd-text",
      `${formatSize(bytes)} CSV (compressible), compression = "zstd"`,
      { configPath: await b.config(dataRoot, "zstd"), dataRoot, expected: 1, bytes },
      [peer(1), peer(3)],
      { kind: "ratio", max: 1.5 },
    );
    const sent = (row.data.ours as { bytes?: number }).bytes;
    const peers = [row.data.peer, ...(row.data.context as unknown[])] as { bytes?: number }[];
    const peerBytes = peers.map((p, i) => `-${[1, 3][i]}: ${p.bytes ? formatBytes(p.bytes) : "?"}`);
    row.context += `; sent: ours ${sent ? formatBytes(sent) : "?"}, zstd ${peerBytes.join(", ")}`;
    return [row];
  },
};
