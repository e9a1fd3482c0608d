/**
 * The overlapped pipeline: four incompressible episodes of 512 MiB (`compression = "none"`),
 * shipped with the defaults — two uploads at once and one episode packing ahead — against the same
 * shipper run serially (one upload, nothing packed ahead: each episode packed, then sent). The
 * ratio below 1 is what the overlap of packing and uploading buys.
 */
import { join } from "node:path";
import { cliCommand } from "../../devkit/cli.ts";
import { makeEpisode, writeConfig } from "../../devkit/fixtures.ts";
import { q } from "../_proc.ts";
import { type Bench, dataFile, type Job } from "../context.ts";
import type { Row } from "../report.ts";

const MiB = 1024 * 1024;

/** The job: id "overlap". */
export const overlapJob: Job = {
  id: "overlap",
  async run(b: Bench): Promise<Row[]> {
    const each = b.quick ? 16 * MiB : 512 * MiB;
    const root = join(b.root, "overlap");
    for (let i = 1; i <= 4; i++) {
      const dir = await makeEpisode(root, `ep-${i}`, { files: {} });
      await dataFile(join(dir, "data.bin"), "random", each);
    }
    const pipelined = await b.config(root, "none");
    const serial = await writeConfig(
      root,
      (await Deno.readTextFile(pipelined)) + "upload_concurrency = 1\npack_ahead = 0\n",
      "bench-serial.toml",
    );
    // The peer is the very same shipper, serial; the data root is reset after it, as after ours.
    const reset = `for d in ${q(join(root, "shipped"))}/*; do mv "$d" ${
      q(join(root, "episodes"))
    }/; done; rm -rf ${q(join(root, "outbox"))}`;
    const argv = [Deno.execPath(), ...cliCommand(["--config", serial, "--once"])].map(q).join(" ");
    return [
      await b.ratioRow(
        "overlap",
        `4 × ${each / MiB} MiB incompressible, none: defaults (2 uploads, 1 packing ahead)`,
        { configPath: pipelined, dataRoot: root, expected: 4, bytes: 4 * each },
        [{
          name: "the same, serial (upload_concurrency = 1, pack_ahead = 0)",
          script: `${argv} > /dev/null; ${reset}`,
          stores: 4,
        }],
        { kind: "ratio", max: 1 },
      ),
    ];
  },
};
