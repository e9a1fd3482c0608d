/** One episode of many tiny files: per-file cost (open, check, read, header) against GNU tar. */
import { join } from "node:path";
import { makeEpisode } from "../../devkit/fixtures.ts";
import { q } from "../_proc.ts";
import { type Bench, csvText, type Job } from "../context.ts";
import { formatSize, pick, type Row } from "../report.ts";

const SIZES = { full: { files: 10_000, bytes: 273 }, quick: { files: 1000, bytes: 273 } };

/** The many-files row. */
export const filesJob: Job = {
  id: "files",
  async run(b: Bench): Promise<Row[]> {
    const s = pick(b.quick, SIZES);
    const dataRoot = await b.once("files", async () => {
      const root = join(b.root, "files");
      const dir = await makeEpisode(root, "ep-files", { files: {} });
      const perDir = Math.ceil(s.files / 100);
      for (let n = 0; n < s.files; n++) {
        const sub = join(dir, `d${Math.floor(n / perDir)}`);
        if (n % perDir === 0) Deno.mkdirSync(sub);
        Deno.writeTextFileSync(join(sub, `f${n % perDir}.csv`), csvText(s.bytes));
      }
      return root;
    });
    const eps = join(dataRoot, "episodes");
    return [
      await b.ratioRow(
        "files",
        `${s.files.toLocaleString("en")} files of ${formatSize(s.bytes)}, one episode`,
        { configPath: await b.config(dataRoot, "gzip"), dataRoot, expected: 1 },
        [{
          name: "tar -cz | curl",
          script: `tar -C ${q(eps)} -czf - ep-files | ${b.curl} -T - ${q(b.url("peer.tar.gz"))}`,
          stores: 1,
        }, {
          name: "tar | zstd -1 | curl",
          script: `tar -C ${q(eps)} -cf - ep-files | zstd -q -c -1 | ${b.curl} -T - ${
            q(b.url("peer.tar.zst"))
          }`,
          stores: 1,
        }],
        { kind: "ratio", max: 1.0 },
      ),
    ];
  },
};
