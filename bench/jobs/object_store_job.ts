/**
 * The bench job for the object store (issue 11 item 7), against a throwaway Ceph RGW started by
 * the job (devkit/ceph.ts), every row measured in the same run as its peer:
 *
 * - `s3-backlog`: a backlog of small episodes in one `--once` through the S3 receiver, against a
 *   `tar -cz` loop and one kept-alive `curl --aws-sigv4 -K` (the same bytes per episode, one
 *   connection, no conditional PUT, no metadata, no HEAD).
 * - `s3-big`: one large episode (`compression = "none"`: the row is about the transfer) by
 *   multipart upload, against `tar -cf`, `sha256sum` and one `curl --aws-sigv4 -T` single PUT.
 * - `collectors`: shippers (one `--once` each, all at once) through one collector storing into the
 *   bucket, then through two behind one nginx (stream, TLS passed through): the two-collector
 *   throughput beside one collector's.
 *
 * Objects are deleted after each measurement (the RGW's OSD keeps them in RAM).
 */
import { q } from "../_proc.ts";
import { type Bench, errorText, type Job } from "../context.ts";
import { failedRow, formatSeconds, type Row, targetText } from "../report.ts";
import { join } from "node:path";
import { type Ceph, startCeph, writeBucketCollectorConfig } from "../../devkit/ceph.ts";
import { type CliProcess, runCli, spawnCli } from "../../devkit/cli.ts";
import { makeEpisode, shipperConfig, writeConfig } from "../../devkit/fixtures.ts";
import { startNginxBalancer } from "../../devkit/nginx.ts";
import { makePki, type Pki } from "../../devkit/pki.ts";
import { EMPTY_SHA256_HEX } from "../../src/upload/s3/sign.ts";

/** Options for {@linkcode objectStoreJob}. */
export interface ObjectStoreJobOptions {
  /** A scratch directory; the job makes `object-store-job/` in it and removes it. */
  root: string;
  /** Episodes of the backlog row. @default {300} */
  episodes?: number;
  /** Bytes of each backlog episode's one data file (incompressible). @default {65536} */
  episodeBytes?: number;
  /** Bytes of the large episode. @default {512 MiB} */
  bigBytes?: number;
  /** Lab hosts shipping at once in the collectors row. @default {4} */
  hosts?: number;
  /** Episodes per host in the collectors row. @default {75} */
  perHost?: number;
  /** Timed runs per row, interleaved ours/peer; the row's time is their median. @default {1} */
  runs?: number;
  /** Told what the job is doing. @default {nothing} */
  progress?: (line: string) => void;
}

/** One row of the job. */
export interface ObjectStoreJobRow {
  id: "s3-backlog" | "s3-big" | "collectors";
  workload: string;
  /** Median wall time of ours, seconds (for `collectors`: one collector). */
  seconds: number;
  /** Median wall time of the peer, seconds (for `collectors`: two collectors behind nginx). */
  peerSeconds: number;
  /** What the peer is. */
  peer: string;
  /** `seconds / peerSeconds`: above 1, ours is slower. */
  ratio: number;
  /** The other numbers behind the row. */
  data: Record<string, number | string>;
}

const MIB = 1024 * 1024;
const BUCKET = "bench";

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Writes `bytes` of incompressible data, 1 MiB at a time, synced before anything is timed. */
async function writeNoise(path: string, bytes: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(MIB);
  for (let left = bytes; left > 0; left -= chunk.length) {
    for (let off = 0; off < chunk.length; off += 65_536) {
      crypto.getRandomValues(chunk.subarray(off, off + 65_536));
    }
    const part = chunk.subarray(0, Math.min(left, chunk.length));
    for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
  }
  await file.sync();
}

async function bash(script: string): Promise<void> {
  const out = await new Deno.Command("bash", { args: ["-euo", "pipefail", "-c", script] })
    .output();
  if (!out.success) {
    throw new Error(`peer failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** What the rows share: the cluster, its keys as files, and curl `--aws-sigv4` arguments. */
class Store {
  constructor(readonly ceph: Ceph, readonly dir: string) {}

  get idFile(): string {
    return join(this.dir, "access-key-id");
  }
  get secretFile(): string {
    return join(this.dir, "secret-access-key");
  }

  async writeKeys(): Promise<void> {
    await Deno.writeTextFile(this.idFile, this.ceph.accessKeyId + "\n");
    await Deno.writeTextFile(this.secretFile, this.ceph.secretAccessKey + "\n", { mode: 0o600 });
  }

  /** curl's options for one signed request (as a shell fragment). */
  get curl(): string {
    return `curl -sS --fail -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 --user ${
      q(`${this.ceph.accessKeyId}:${this.ceph.secretAccessKey}`)
    }`;
  }

  /** One signed request by curl; the status. */
  async request(method: string, path: string, extra: string[] = []): Promise<string> {
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        `${this.ceph.accessKeyId}:${this.ceph.secretAccessKey}`,
        "-H",
        `x-amz-content-sha256: ${EMPTY_SHA256_HEX}`,
        ...extra,
        `${this.ceph.endpoint}${path}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  }

  /** Keys under `prefix` (the first 1000). */
  async keys(prefix: string): Promise<string[]> {
    const text = await this.request(
      "GET",
      `/${BUCKET}?max-keys=1000&prefix=${encodeURIComponent(prefix)}`,
    );
    return [...text.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!);
  }

  /**
   * Deletes every object under `prefix` and has RGW's garbage collector free their data now, so
   * the OSD's RAM holds one measurement at a time (a full memstore blocks every write).
   */
  async clear(prefix: string): Promise<void> {
    for (let keys = await this.keys(prefix); keys.length > 0; keys = await this.keys(prefix)) {
      for (const key of keys) await this.request("DELETE", `/${BUCKET}/${key}`);
    }
    await this.ceph.admin(["gc", "process", "--include-all"]);
  }

  /** A lab host's config shipping into the bucket under `prefix`. */
  async shipperConfig(dir: string, dataRoot: string, prefix: string, extra = ""): Promise<string> {
    const text = [
      'host_id = "lab-01"',
      "[paths]",
      `data_root = "${dataRoot}"`,
      "[receiver]",
      `url = "${this.ceph.endpoint}"`,
      `bucket = "${BUCKET}"`,
      `key_prefix = "${prefix}"`,
      `access_key_id_file = "${this.idFile}"`,
      `secret_access_key_file = "${this.secretFile}"`,
      "[shipper]",
      "request_timeout_s = 600.0",
      extra,
      "",
    ].join("\n");
    return await writeConfig(dir, text, `${prefix}.toml`);
  }
}

/** Copies `from/episodes/*` into a fresh data root's `episodes/` (hard links: no bytes copied). */
async function freshDataRoot(template: string, dest: string): Promise<string> {
  await Deno.remove(dest, { recursive: true }).catch(() => {});
  await bash(`mkdir -p ${q(dest)} && cp -al ${q(join(template, "episodes"))} ${q(dest)}/`);
  return dest;
}

async function once(config: string, expectShipped: number, dataRoot: string): Promise<void> {
  const run = await runCli(["--once", "--config", config]);
  if (run.code !== 0) throw new Error(`--once exited ${run.code}: ${run.stderr.slice(-2000)}`);
  let shipped = 0;
  for await (const _ of Deno.readDir(join(dataRoot, "shipped"))) shipped++;
  if (shipped !== expectShipped) {
    throw new Error(`--once shipped ${shipped} of ${expectShipped}: ${run.stderr.slice(-2000)}`);
  }
}

async function backlogRow(
  store: Store,
  dir: string,
  options: Required<Omit<ObjectStoreJobOptions, "progress" | "root">>,
  progress: (line: string) => void,
): Promise<ObjectStoreJobRow> {
  const n = options.episodes;
  const template = join(dir, "backlog-template");
  for (let i = 0; i < n; i++) {
    const id = `ep-${String(i).padStart(4, "0")}`;
    await makeEpisode(template, id, { files: {} });
    await writeNoise(join(template, "episodes", id, "obs.bin"), options.episodeBytes);
  }
  const ours: number[] = [];
  const peer: number[] = [];
  for (let r = 0; r < options.runs; r++) {
    const dataRoot = await freshDataRoot(template, join(dir, "backlog"));
    const config = await store.shipperConfig(dir, dataRoot, "ours");
    ours.push(await timed(() => once(config, n, dataRoot)));
    await store.clear("ours/");
    const out = join(dir, "peer-out");
    const cfg = join(dir, "peer-curl.cfg");
    // One curl process, one kept-alive connection; each transfer needs its own payload hash.
    const script = `rm -rf ${q(out)}; mkdir -p ${q(out)}; : > ${q(cfg)}
cd ${q(join(template, "episodes"))}
for id in *; do
  tar -czf ${q(out)}/"$id".tar.gz "$id"
  h=$(sha256sum ${q(out)}/"$id".tar.gz | cut -d' ' -f1)
  if [ -s ${q(cfg)} ]; then echo next >> ${q(cfg)}; fi
  printf 'url = "%s"\\nupload-file = "%s"\\noutput = "/dev/null"\\naws-sigv4 = "aws:amz:us-east-1:s3"\\nuser = "%s"\\nheader = "x-amz-content-sha256: %s"\\nsilent\\nshow-error\\nfail\\n' \\
    ${q(`${store.ceph.endpoint}/${BUCKET}/peer/`)}"$id.tar.gz" ${q(out)}/"$id".tar.gz \\
    ${q(`${store.ceph.accessKeyId}:${store.ceph.secretAccessKey}`)} "$h" >> ${q(cfg)}
done
curl -K ${q(cfg)}
rm -rf ${q(out)} ${q(cfg)}`;
    peer.push(await timed(() => bash(script)));
    const stored = (await store.keys("peer/")).length;
    if (stored !== n) throw new Error(`the curl loop stored ${stored} of ${n}`);
    await store.clear("peer/");
    progress(
      `s3-backlog run ${r + 1}: ours ${ours.at(-1)!.toFixed(2)} s, curl ${
        peer.at(-1)!.toFixed(2)
      } s`,
    );
  }
  const seconds = median(ours);
  const peerSeconds = median(peer);
  return {
    id: "s3-backlog",
    workload: `${n} episodes of ${options.episodeBytes / 1024} KiB (gzip), one --once into RGW`,
    seconds,
    peerSeconds,
    peer: "tar -cz loop + one kept-alive curl --aws-sigv4 -K",
    ratio: seconds / peerSeconds,
    data: {
      episodes: n,
      ours_episodes_per_s: +(n / seconds).toFixed(1),
      peer_episodes_per_s: +(n / peerSeconds).toFixed(1),
      runs: options.runs,
    },
  };
}

async function bigRow(
  store: Store,
  dir: string,
  options: Required<Omit<ObjectStoreJobOptions, "progress" | "root">>,
  progress: (line: string) => void,
): Promise<ObjectStoreJobRow> {
  const size = options.bigBytes;
  const template = join(dir, "big-template");
  await makeEpisode(template, "ep-big", { files: {} });
  await writeNoise(join(template, "episodes", "ep-big", "obs.bin"), size);
  const ours: number[] = [];
  const peer: number[] = [];
  for (let r = 0; r < options.runs; r++) {
    const dataRoot = await freshDataRoot(template, join(dir, "big"));
    const config = await store.shipperConfig(dir, dataRoot, "ours-big", 'compression = "none"');
    ours.push(await timed(() => once(config, 1, dataRoot)));
    await store.clear("ours-big/");
    const tarFile = join(dir, "peer-big.tar");
    const script = `tar -C ${q(join(template, "episodes"))} -cf ${q(tarFile)} ep-big
h=$(sha256sum ${q(tarFile)} | cut -d' ' -f1)
${store.curl} -H "x-amz-content-sha256: $h" -T ${q(tarFile)} ${
      q(`${store.ceph.endpoint}/${BUCKET}/peer-big/ep-big.tar`)
    }
rm -f ${q(tarFile)}`;
    peer.push(await timed(() => bash(script)));
    await store.clear("peer-big/");
    progress(
      `s3-big run ${r + 1}: ours ${ours.at(-1)!.toFixed(2)} s, curl ${peer.at(-1)!.toFixed(2)} s`,
    );
  }
  const seconds = median(ours);
  const peerSeconds = median(peer);
  return {
    id: "s3-big",
    workload: `one ${(size / MIB).toFixed(0)} MiB episode (no compression) into RGW; ` +
      "ours by 16 MiB parts",
    seconds,
    peerSeconds,
    peer: "tar -cf, sha256sum, one curl --aws-sigv4 -T single PUT",
    ratio: seconds / peerSeconds,
    data: {
      bytes: size,
      ours_mib_per_s: +(size / MIB / seconds).toFixed(1),
      peer_mib_per_s: +(size / MIB / peerSeconds).toFixed(1),
      runs: options.runs,
    },
  };
}

/** A collector process storing into the bucket under `collected/`. */
async function startCollector(dir: string, pki: Pki, store: Store): Promise<{
  proc: CliProcess;
  address: string;
}> {
  const config = await writeBucketCollectorConfig(dir, pki, store.ceph, BUCKET);
  const proc = spawnCli(["collector", "--config", config]);
  const line = await proc.firstLine;
  return { proc, address: line.replace(/^listening on https:\/\//, "") };
}

async function collectorsRow(
  store: Store,
  dir: string,
  options: Required<Omit<ObjectStoreJobOptions, "progress" | "root">>,
  progress: (line: string) => void,
): Promise<ObjectStoreJobRow> {
  const hosts = Array.from({ length: options.hosts }, (_, i) => `lab-${i + 1}`);
  const pki = await makePki(join(dir, "pki"), hosts);
  const templates = new Map<string, string>();
  for (const host of hosts) {
    const template = join(dir, `${host}-template`);
    for (let i = 0; i < options.perHost; i++) {
      const id = `ep-${String(i).padStart(4, "0")}`;
      await makeEpisode(template, id, { files: {} });
      await writeNoise(join(template, "episodes", id, "obs.bin"), options.episodeBytes);
    }
    templates.set(host, template);
  }
  /** All hosts' `--once` at once against `url`; wall time to the last one's end. */
  const shipAll = async (url: string): Promise<number> => {
    const configs: [string, string][] = [];
    for (const host of hosts) {
      const dataRoot = await freshDataRoot(templates.get(host)!, join(dir, host));
      const text = shipperConfig({
        dataRoot,
        url,
        pki,
        hostId: host,
        shipper: "upload_concurrency = 2",
      }).replace("request_timeout_s = 5.0", "request_timeout_s = 600.0");
      configs.push([await writeConfig(join(dir, host), text), dataRoot]);
    }
    const seconds = await timed(() =>
      Promise.all(configs.map(([config, dataRoot]) => once(config, options.perHost, dataRoot)))
    );
    await store.clear("collected/");
    return seconds;
  };
  const one: number[] = [];
  const two: number[] = [];
  const a = await startCollector(join(dir, "collector-a"), pki, store);
  const b = await startCollector(join(dir, "collector-b"), pki, store);
  try {
    await using nginx = await startNginxBalancer(join(dir, "nginx"), [a.address, b.address]);
    for (let r = 0; r < options.runs; r++) {
      one.push(await shipAll(`https://${a.address}`));
      two.push(await shipAll(nginx.url));
      progress(
        `collectors run ${r + 1}: one ${one.at(-1)!.toFixed(2)} s, two ${two.at(-1)!.toFixed(2)} s`,
      );
    }
  } finally {
    await a.proc.stop();
    await b.proc.stop();
  }
  const n = hosts.length * options.perHost;
  const seconds = median(one);
  const peerSeconds = median(two);
  return {
    id: "collectors",
    workload: `${hosts.length} hosts × ${options.perHost} episodes of ${
      options.episodeBytes / 1024
    } KiB, --once each at once, collectors storing into RGW`,
    seconds,
    peerSeconds,
    peer: "two collectors behind one nginx (stream), one bucket",
    ratio: seconds / peerSeconds,
    data: {
      episodes: n,
      one_collector_episodes_per_s: +(n / seconds).toFixed(1),
      two_collectors_episodes_per_s: +(n / peerSeconds).toFixed(1),
      cpus: navigator.hardwareConcurrency,
      runs: options.runs,
    },
  };
}

/**
 * Runs the three rows against a Ceph RGW it starts and stops; returns one row each.
 * @example
 * ```ts
 * import { objectStoreJob } from "./object_store_job.ts";
 * const rows = await objectStoreJob({ root: await Deno.makeTempDir(), episodes: 20 });
 * rows.map((r) => `${r.id}: ${r.seconds.toFixed(2)} s vs ${r.peerSeconds.toFixed(2)} s`);
 * ```
 */
export async function objectStoreJob(
  options: ObjectStoreJobOptions,
): Promise<ObjectStoreJobRow[]> {
  const settings = {
    episodes: options.episodes ?? 300,
    episodeBytes: options.episodeBytes ?? 64 * 1024,
    bigBytes: options.bigBytes ?? 512 * MIB,
    hosts: options.hosts ?? 4,
    perHost: options.perHost ?? 75,
    runs: options.runs ?? 1,
  };
  const progress = options.progress ?? (() => {});
  const dir = join(options.root, "object-store-job");
  await Deno.mkdir(dir, { recursive: true });
  try {
    // memstore holds objects in RAM up to 1 GiB by default: one 512 MiB episode and its peer's
    // copy fill it before the garbage collector frees the first.
    await using ceph = await startCeph({
      extraConfig: "memstore device bytes = 4294967296\nrgw gc obj min wait = 0\n",
    });
    const store = new Store(ceph, dir);
    await store.writeKeys();
    const made = await store.request("PUT", `/${BUCKET}`);
    if (!made.endsWith("200")) throw new Error(`cannot create the bucket: ${made}`);
    progress(`Ceph RGW up in ${(ceph.startMs / 1000).toFixed(1)} s`);
    return [
      await backlogRow(store, dir, settings, progress),
      await bigRow(store, dir, settings, progress),
      await collectorsRow(store, dir, settings, progress),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const root = await Deno.makeTempDir({ prefix: "cis490-bench-s3-" });
  try {
    const rows = await objectStoreJob({ root, progress: (line) => console.error(line) });
    console.log(JSON.stringify(rows, null, 2));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** The job in the bench table: the object store's rows, against curl --aws-sigv4 to one RGW. */
export const objectStoreBenchJob: Job = {
  id: "s3",
  async run(b: Bench): Promise<Row[]> {
    try {
      const rows = await objectStoreJob({
        root: b.root,
        runs: b.runs,
        ...(b.quick && { episodes: 60, bigBytes: 64 * MIB, perHost: 15 }),
      });
      return rows.map((r) => ({
        id: r.id,
        workload: r.workload,
        ours: formatSeconds(r.seconds),
        peer: `${r.peer}: ${formatSeconds(r.peerSeconds)}`,
        ratio: r.ratio,
        target: targetText({ kind: "none" }),
        verdict: "n/a",
        context: r.id === "collectors"
          ? "one collector (ours) vs two behind nginx (peer): ratio = one ÷ two, so above 1 two are faster"
          : "",
        data: r.data,
      }));
    } catch (error) {
      return [failedRow("s3", "object store (Ceph RGW)", { kind: "none" }, errorText(error))];
    }
  },
};
