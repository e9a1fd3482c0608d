/**
 * One 1 GiB episode of one incompressible file, shipped with each compression, against the
 * pipeline an operator would script for it.
 */
import { join } from "node:path";
import type { Compression } from "../../src/protocol/protocol.ts";
import { q } from "../_proc.ts";
import type { Bench, Job, Peer } from "../context.ts";
import { formatSize, type Row, type Target } from "../report.ts";

/** Ratio targets (issue 12): gzip kept from round one; zstd and none are round two's. */
const TARGETS: Record<Compression, Target> = {
  gzip: { kind: "ratio", max: 0.3 },
  zstd: { kind: "ratio", max: 1.8 },
  none: { kind: "ratio", max: 1.05 },
};

function peersFor(b: Bench, compression: Compression, eps: string): Peer[] {
  const data = join(eps, "ep-big", "data.bin");
  const tarFile = join(b.root, "peer.tar");
  const tarZstd: Peer = {
    name: "tar | zstd -1 -T2 | curl",
    script: `tar -C ${q(eps)} -cf - ep-big | zstd -q -c -1 -T2 | ${b.curl} -T - ${
      q(b.url("peer.tar.zst"))
    }`,
    stores: 1,
  };
  switch (compression) {
    case "gzip":
      return [
        {
          name: "tar -cz | curl",
          script: `tar -C ${q(eps)} -czf - ep-big | ${b.curl} -T - ${q(b.url("peer.tar.gz"))}`,
          stores: 1,
        },
        tarZstd,
        {
          name: "curl -T file (loopback mTLS limit)",
          script: `${b.curl} -T ${q(data)} ${q(b.url("limit.bin"))}`,
          stores: 1,
        },
      ];
    case "zstd":
      return [tarZstd];
    case "none":
      return [{
        name: "tar > f; sync f; curl -T f",
        script: `tar -C ${q(eps)} -cf ${q(tarFile)} ep-big; sync ${q(tarFile)}; ${b.curl} -T ${
          q(tarFile)
        } ${q(b.url("peer.tar"))}; rm -f ${q(tarFile)}`,
        stores: 1,
      }, {
        name: "tar | curl",
        script: `tar -C ${q(eps)} -cf - ep-big | ${b.curl} -T - ${q(b.url("peer.tar"))}`,
        stores: 1,
      }];
  }
}

/** The job for one compression: id "gzip", "zstd" or "none". */
export function bigJob(compression: Compression): Job {
  return {
    id: compression,
    async run(b: Bench): Promise<Row[]> {
      const dataRoot = await b.big();
      const eps = join(dataRoot, "episodes");
      const size = formatSize(b.bigBytes);
      const setting = compression === "gzip" ? "gzip (default)" : `compression = "${compression}"`;
      return [
        await b.ratioRow(
          compression,
          `${size} incompressible, ${setting}`,
          {
            configPath: await b.config(dataRoot, compression),
            dataRoot,
            expected: 1,
            bytes: b.bigBytes,
          },
          peersFor(b, compression, eps),
          TARGETS[compression],
        ),
      ];
    },
  };
}
