/**
 * A backlog of small episodes in one `--once`, against a `tar -cz | curl` loop (one curl, one TLS
 * handshake per episode, as a cron script would do), with a stronger peer as context: a tar loop
 * and then one kept-alive `curl -K` for all of them.
 */
import { join } from "node:path";
import { q } from "../_proc.ts";
import { type Bench, HOST, type Job } from "../context.ts";
import { formatSize, pick, type Row } from "../report.ts";

const SIZES = {
  full: { episodes: 300, files: 3, bytes: 5000 },
  quick: { episodes: 50, files: 3, bytes: 5000 },
};

/** The many-small-episodes row. */
export const episodesJob: Job = {
  id: "episodes",
  async run(b: Bench): Promise<Row[]> {
    const s = pick(b.quick, SIZES);
    const dataRoot = await b.episodes(`episodes-${s.episodes}`, s.episodes, s.files, s.bytes);
    const eps = join(dataRoot, "episodes");
    const out = join(b.root, "peer-out");
    const cfg = join(b.root, "peer-curl.cfg");
    const c = b.pki.client(HOST);
    const loop = `cd ${q(eps)}
for id in *; do
  tar -czf - "$id" | ${b.curl} -T - ${q(b.url(""))}"$id.tar.gz"
done`;
    // One url/upload-file pair per episode in curl's config: one process, one connection.
    const keptAlive = `rm -rf ${q(out)}; mkdir -p ${q(out)}
{ echo 'cacert = "${b.pki.ca}"'; echo 'cert = "${c.cert}"'; echo 'key = "${c.key}"'
  echo silent; echo show-error; echo fail; } > ${q(cfg)}
cd ${q(eps)}
for id in *; do
  tar -czf ${q(out)}/"$id".tar.gz "$id"
  printf 'url = "%s"\\nupload-file = "%s"\\noutput = "/dev/null"\\n' \\
    ${q(b.url(""))}"$id.tar.gz" ${q(out)}/"$id".tar.gz >> ${q(cfg)}
done
curl -K ${q(cfg)}
rm -rf ${q(out)} ${q(cfg)}`;
    return [
      await b.ratioRow(
        "episodes",
        `${s.episodes} episodes of ${s.files} × ${formatSize(s.bytes)}, one --once`,
        { configPath: await b.config(dataRoot, "gzip"), dataRoot, expected: s.episodes },
        [
          { name: "tar -cz | curl loop", script: loop, stores: s.episodes },
          { name: "tar loop + one kept-alive curl -K", script: keptAlive, stores: s.episodes },
        ],
        { kind: "ratio", max: 0.3 },
      ),
    ];
  },
};
