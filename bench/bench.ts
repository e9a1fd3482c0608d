/**
 * `deno task bench`: cis490-ship against the tools an operator would otherwise script (GNU tar,
 * zstd, curl), every row measured in the same run, interleaved (ours, peer, ours, peer…), medians.
 * One mTLS nginx (`ssl_verify_client on`, `dav_methods PUT`) receives for everybody. Prints one
 * table and writes it as JSON. See docs/bench.md.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makePki, type Pki } from "../devkit/pki.ts";
import { type Nginx, startNginx } from "../devkit/nginx.ts";
import { makeEpisode, writeConfig } from "../devkit/fixtures.ts";
import { q, runShipperOnce, type ShipperRun, timeShell } from "./_proc.ts";
import {
  type BenchArgs,
  failureLine,
  formatRate,
  formatRatio,
  formatSeconds,
  formatSize,
  formatTable,
  type Measurement,
  median,
  parseBenchArgs,
  type RowId,
  shippedCount,
  type Sizes,
  sizesFor,
  TARGETS,
  targetText,
  USAGE,
  type Verdict,
  verdictOf,
} from "./report.ts";

const HOST = "lab-01";
const MiB = 1024 * 1024;
const DEFAULT_OUT = fileURLToPath(new URL("../bench-results.json", import.meta.url));

/** A peer: a shell pipeline and how many files it leaves on the receiver. */
interface Peer {
  name: string;
  script: string;
  stores: number;
}

/** Timings of one command over the runs. */
interface Series {
  name: string;
  seconds: number[];
  error?: string;
}

/** One row of the table and of the JSON. */
interface RowResult {
  id: RowId;
  workload: string;
  ours: string;
  peer: string;
  ratio: number | null;
  target: string;
  verdict: Verdict;
  context: string;
  error?: string;
  /** The raw numbers (JSON only). */
  data: Record<string, unknown>;
}

const mibOf = (kib: number) => kib / 1024;
const errorText = (e: unknown) => e instanceof Error ? e.message : String(e);

/** Temp dir, PKI, nginx and the data sets, each generated on first use and kept for the run. */
class Bench {
  #cache = new Map<string, Promise<string>>();
  constructor(
    readonly root: string,
    readonly pki: Pki,
    readonly nginx: Nginx,
    readonly sizes: Sizes,
    readonly runs: number,
  ) {}

  /** Where nginx stores what is PUT under /v1/episodes/<host>/. */
  get store(): string {
    return join(this.nginx.root, "v1", "episodes", HOST);
  }

  url(name: string): string {
    return `${this.nginx.url}/v1/episodes/${HOST}/${name}`;
  }

  /** curl with the client certificate, quiet, failing on HTTP errors. */
  get curl(): string {
    const c = this.pki.client(HOST);
    return `curl -sS --fail -o /dev/null --cacert ${q(this.pki.ca)} --cert ${q(c.cert)} --key ${
      q(c.key)
    }`;
  }

  #once(key: string, make: () => Promise<string>): Promise<string> {
    let p = this.#cache.get(key);
    if (!p) {
      progress(`generating ${key}`);
      p = make();
      this.#cache.set(key, p);
    }
    return p;
  }

  /** A data root holding one episode `ep-big` of one incompressible file. */
  big(): Promise<string> {
    return this.#once("big", async () => {
      const root = join(this.root, "big");
      const dir = await makeEpisode(root, "ep-big", { files: {} });
      await randomFile(join(dir, "data.bin"), this.sizes.bigBytes);
      return root;
    });
  }

  /** The 2 GiB episode: the big file hard-linked plus fresh random files. */
  rssBig(): Promise<string> {
    return this.#once("rss-big", async () => {
      const big = join(await this.big(), "episodes", "ep-big", "data.bin");
      const root = join(this.root, "rss-big");
      const dir = await makeEpisode(root, "ep-rss-big", { files: {} });
      let left = this.sizes.rssBigBytes, part = 1;
      if (left >= this.sizes.bigBytes) {
        await Deno.link(big, join(dir, `part-${part++}.bin`));
        left -= this.sizes.bigBytes;
      }
      for (; left > 0; part++) {
        const n = Math.min(left, this.sizes.bigBytes);
        await randomFile(join(dir, `part-${part}.bin`), n);
        left -= n;
      }
      return root;
    });
  }

  rssSmall(): Promise<string> {
    return this.#once("rss-small", async () => {
      const root = join(this.root, "rss-small");
      const dir = await makeEpisode(root, "ep-rss-small", { files: {} });
      await randomFile(join(dir, "data.bin"), this.sizes.rssSmallBytes);
      return root;
    });
  }

  /** One episode of many small CSV files (`manyFileBytes` each) in 100 directories. */
  files(): Promise<string> {
    return this.#once("files", async () => {
      const root = join(this.root, "files");
      const dir = await makeEpisode(root, "ep-files", { files: {} });
      const perDir = Math.ceil(this.sizes.manyFiles / 100);
      for (let n = 0; n < this.sizes.manyFiles; n++) {
        const sub = join(dir, `d${Math.floor(n / perDir)}`);
        if (n % perDir === 0) Deno.mkdirSync(sub);
        Deno.writeTextFileSync(join(sub, `f${n % perDir}.csv`), csv(this.sizes.manyFileBytes));
      }
      return root;
    });
  }

  /** `count` episodes of `filesPerEpisode` × `fileBytes` CSV files. */
  episodes(key: string, count: number): Promise<string> {
    return this.#once(key, async () => {
      const root = join(this.root, key);
      const width = String(count).length;
      for (let i = 1; i <= count; i++) {
        const files: Record<string, string> = {};
        for (let f = 1; f <= this.sizes.filesPerEpisode; f++) {
          files[`data/part-${f}.csv`] = csv(this.sizes.fileBytes);
        }
        await makeEpisode(root, `ep-${String(i).padStart(width, "0")}`, { files });
      }
      return root;
    });
  }

  /** A shipper config for `dataRoot`; gzip is left to the default. */
  async config(dataRoot: string, compression: "gzip" | "zstd" | "none"): Promise<string> {
    const c = this.pki.client(HOST);
    const text = [
      `host_id = "${HOST}"`,
      "[paths]",
      `data_root = "${dataRoot}"`,
      "[receiver]",
      `url = "${this.nginx.url}"`,
      `ca_bundle = "${this.pki.ca}"`,
      `client_cert = "${c.cert}"`,
      `client_key = "${c.key}"`,
      "[shipper]",
      "request_timeout_s = 600.0",
      `max_episode_bytes = ${64 * 1024 * MiB}`,
      ...(compression === "gzip" ? [] : [`compression = "${compression}"`]),
      "",
    ].join("\n");
    return await writeConfig(dataRoot, text, `bench-${compression}.toml`);
  }

  /** Empties the receiver's store; returns how many files it held. */
  async clearStore(): Promise<number> {
    let n = 0;
    try {
      for await (const e of Deno.readDir(this.store)) if (e.isFile) n++;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await Deno.remove(join(this.nginx.root, "v1"), { recursive: true }).catch(() => {});
    return n;
  }

  /** One `--once` over `dataRoot`, which must ship `expected` episodes; the data root is reset. */
  async ship(configPath: string, dataRoot: string, expected: number): Promise<ShipperRun> {
    await resetDataRoot(dataRoot);
    try {
      const run = await runShipperOnce(configPath);
      const stored = await this.clearStore();
      const shipped = shippedCount(run.stdout);
      if (run.code !== 0 || shipped !== expected || stored !== expected) {
        const why = run.code !== 0 || shipped !== expected
          ? failureLine(run.stderr)
          : `the receiver holds ${stored} files`;
        throw new Error(`exit ${run.code}, shipped ${shipped ?? "?"} of ${expected}: ${why}`);
      }
      return run;
    } finally {
      await resetDataRoot(dataRoot);
    }
  }

  /** Runs a peer pipeline and checks the receiver got what it should. */
  async peer(peer: Peer): Promise<number> {
    try {
      const { seconds } = await timeShell(peer.script);
      const stored = await this.clearStore();
      if (stored !== peer.stores) {
        throw new Error(`${peer.name}: the receiver holds ${stored} files, not ${peer.stores}`);
      }
      return seconds;
    } finally {
      await this.clearStore();
    }
  }

  /** Interleaves ours and the peers `runs` times; a failure ends that series, not the row. */
  async compare(
    id: string,
    ours: () => Promise<ShipperRun>,
    peers: Peer[],
    runs = this.runs,
  ): Promise<{ ours: ShipperRun[]; oursError?: string; peers: Series[] }> {
    const mine: ShipperRun[] = [];
    let oursError: string | undefined;
    const series: Series[] = peers.map((p) => ({ name: p.name, seconds: [] }));
    for (let i = 0; i < runs; i++) {
      if (oursError === undefined) {
        try {
          const r = await ours();
          mine.push(r);
          progress(`${id} ${i + 1}/${runs}: cis490-ship ${formatSeconds(r.seconds)}`);
        } catch (error) {
          oursError = errorText(error);
          progress(`${id} ${i + 1}/${runs}: cis490-ship failed: ${oursError}`);
        }
      }
      for (const [k, p] of peers.entries()) {
        const s = series[k]!;
        if (s.error !== undefined) continue;
        try {
          s.seconds.push(await this.peer(p));
          progress(`${id} ${i + 1}/${runs}: ${p.name} ${formatSeconds(s.seconds.at(-1)!)}`);
        } catch (error) {
          s.error = errorText(error);
          progress(`${id} ${i + 1}/${runs}: ${s.error}`);
        }
      }
    }
    return { ours: mine, ...(oursError !== undefined && { oursError }), peers: series };
  }
}

function progress(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** `bytes` of /dev/urandom: data that no compressor shrinks. */
async function randomFile(path: string, bytes: number): Promise<void> {
  await timeShell(`head -c ${bytes} /dev/urandom > ${q(path)}`);
}

/** CSV text of exactly `bytes` bytes (compresses about as well as lab data does). */
function csv(bytes: number): string {
  let s = "t,x,y\n";
  for (let i = 0; s.length < bytes; i++) {
    s += `${i},${Math.random().toFixed(6)},${(Math.random() * 1000).toFixed(3)}\n`;
  }
  return s.slice(0, bytes);
}

/** Puts every episode back into `episodes/` and empties `outbox/`, so the next run starts equal. */
async function resetDataRoot(dataRoot: string): Promise<void> {
  for (const from of ["shipped", "quarantine"]) {
    const dir = join(dataRoot, from);
    const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory) continue;
      await Deno.remove(join(dir, e.name, "quarantine_reason.json")).catch(() => {});
      await Deno.rename(join(dir, e.name), join(dataRoot, "episodes", e.name));
    }
  }
  await Deno.remove(join(dataRoot, "outbox"), { recursive: true }).catch(() => {});
}

const med = (xs: readonly number[]) => median(xs);
const cell = (s: Series) =>
  s.error !== undefined && s.seconds.length === 0
    ? `${s.name}: n/a (${s.error})`
    : `${s.name} ${formatSeconds(med(s.seconds))}`;
const seriesJson = (s: Series) => ({
  name: s.name,
  median_s: s.seconds.length ? med(s.seconds) : null,
  runs_s: s.seconds,
  ...(s.error !== undefined && { error: s.error }),
});
const oursJson = (runs: ShipperRun[]) => ({
  median_s: runs.length ? med(runs.map((r) => r.seconds)) : null,
  runs_s: runs.map((r) => r.seconds),
  peak_rss_mib: runs.length ? +mibOf(Math.max(...runs.map((r) => r.hwmKiB))).toFixed(1) : null,
  peak_fds: runs.length ? Math.max(...runs.map((r) => r.fds)) : null,
  cpu_s_median: runs.length ? +med(runs.map((r) => r.cpuS)).toFixed(2) : null,
});

/** A timed row: ours against its first peer, the rest shown as context. */
async function ratioRow(
  b: Bench,
  id: RowId,
  workload: string,
  setup: { configPath: string; dataRoot: string; expected: number; bytes?: number },
  peers: Peer[],
): Promise<RowResult> {
  const r = await b.compare(
    id,
    () => b.ship(setup.configPath, setup.dataRoot, setup.expected),
    peers,
  );
  const oursS = r.ours.length ? med(r.ours.map((x) => x.seconds)) : NaN;
  const peer = r.peers[0]!;
  const peerS = peer.seconds.length ? med(peer.seconds) : NaN;
  const ratio = Number.isFinite(oursS / peerS) ? oursS / peerS : null;
  const target = TARGETS[id];
  const m: Measurement | null = ratio === null ? null : { kind: "ratio", ratio };
  const error = r.oursError ?? peer.error;
  const rate = setup.bytes !== undefined ? `, ${formatRate(setup.bytes, oursS)}` : "";
  const cpu = r.ours.length ? `, ${med(r.ours.map((x) => x.cpuS)).toFixed(1)} s CPU` : "";
  return {
    id,
    workload,
    ours: r.ours.length ? `${formatSeconds(oursS)}${rate}${cpu}` : "n/a",
    peer: cell(peer),
    ratio,
    target: targetText(target),
    verdict: verdictOf(target, m),
    context: r.peers.slice(1).map(cell).join("; "),
    ...(error !== undefined && { error }),
    data: {
      ours: oursJson(r.ours),
      peer: seriesJson(peer),
      context: r.peers.slice(1).map(seriesJson),
    },
  };
}

/** The 1 GiB rows: one incompressible file, three compressions. */
async function bigRow(b: Bench, id: "gzip" | "zstd" | "none"): Promise<RowResult> {
  const dataRoot = await b.big();
  const eps = join(dataRoot, "episodes");
  const data = join(eps, "ep-big", "data.bin");
  const size = formatSize(b.sizes.bigBytes);
  const tarFile = join(b.root, "peer.tar");
  const tarCz = {
    name: "tar -cz | curl",
    script: `tar -C ${q(eps)} -czf - ep-big | ${b.curl} -T - ${q(b.url("peer.tar.gz"))}`,
    stores: 1,
  };
  const tarZstd = (threads: string) => ({
    name: `tar | zstd -1 ${threads}| curl`.replace("  ", " "),
    script: `tar -C ${q(eps)} -cf - ep-big | zstd -q -c -1 ${threads}| ${b.curl} -T - ${
      q(b.url("peer.tar.zst"))
    }`,
    stores: 1,
  });
  const peers: Record<typeof id, Peer[]> = {
    gzip: [tarCz, tarZstd("-T2 "), {
      name: "curl -T file (loopback mTLS limit)",
      script: `${b.curl} -T ${q(data)} ${q(b.url("limit.bin"))}`,
      stores: 1,
    }],
    zstd: [tarZstd("-T2 ")],
    none: [{
      name: "tar > f; sync f; curl -T f",
      script: `tar -C ${q(eps)} -cf ${q(tarFile)} ep-big; sync ${q(tarFile)}; ${b.curl} -T ${
        q(tarFile)
      } ${q(b.url("peer.tar"))}; rm -f ${q(tarFile)}`,
      stores: 1,
    }, {
      name: "tar | curl",
      script: `tar -C ${q(eps)} -cf - ep-big | ${b.curl} -T - ${q(b.url("peer.tar"))}`,
      stores: 1,
    }],
  };
  const workload = {
    gzip: `${size} incompressible, gzip (default)`,
    zstd: `${size} incompressible, compression = "zstd"`,
    none: `${size} incompressible, compression = "none"`,
  }[id];
  return await ratioRow(
    b,
    id,
    workload,
    {
      configPath: await b.config(dataRoot, id),
      dataRoot,
      expected: 1,
      bytes: b.sizes.bigBytes,
    },
    peers[id],
  );
}

/** Many small episodes: ours in one --once against a tar loop and one kept-alive `curl -K`. */
async function episodesRow(b: Bench): Promise<RowResult> {
  const n = b.sizes.episodes;
  const dataRoot = await b.episodes("episodes", n);
  const eps = join(dataRoot, "episodes");
  const out = join(b.root, "peer-out");
  const cfg = join(b.root, "peer-curl.cfg");
  const c = b.pki.client(HOST);
  // The loop writes curl's config as it goes: one url/upload-file pair per episode, one process,
  // one connection kept alive for all of them.
  const script = `rm -rf ${q(out)}; mkdir -p ${q(out)}
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
  return await ratioRow(
    b,
    "episodes",
    `${n} episodes of ${b.sizes.filesPerEpisode} × ${formatSize(b.sizes.fileBytes)}`,
    { configPath: await b.config(dataRoot, "gzip"), dataRoot, expected: n },
    [{ name: "tar loop + one kept-alive curl -K", script, stores: n }],
  );
}

/** One episode of many small files. */
async function filesRow(b: Bench): Promise<RowResult> {
  const dataRoot = await b.files();
  const eps = join(dataRoot, "episodes");
  return await ratioRow(
    b,
    "files",
    `${b.sizes.manyFiles.toLocaleString("en")} files of ${
      formatSize(b.sizes.manyFileBytes)
    }, one episode`,
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
  );
}

/** Peak RSS of one small and one large episode (default gzip), and the peers' for context. */
async function rssRow(b: Bench): Promise<RowResult> {
  const small = await b.rssSmall(), big = await b.rssBig();
  const smallCfg = await b.config(small, "gzip"), bigCfg = await b.config(big, "gzip");
  const workload = `peak RSS, one episode: ${formatSize(b.sizes.rssSmallBytes)} vs ${
    formatSize(b.sizes.rssBigBytes)
  }`;
  const target = TARGETS.rss;
  let s: ShipperRun, l: ShipperRun;
  try {
    s = await b.ship(smallCfg, small, 1);
    progress(`rss small: ${mibOf(s.hwmKiB).toFixed(0)} MiB in ${formatSeconds(s.seconds)}`);
    l = await b.ship(bigCfg, big, 1);
    progress(`rss large: ${mibOf(l.hwmKiB).toFixed(0)} MiB in ${formatSeconds(l.seconds)}`);
  } catch (error) {
    const e = errorText(error);
    return {
      id: "rss",
      workload,
      ours: "n/a",
      peer: "",
      ratio: null,
      target: targetText(target),
      verdict: "n/a",
      context: "",
      error: e,
      data: {},
    };
  }
  // The peers' peaks, from GNU time, on the large episode.
  const tTar = join(b.root, "time-tar"), tCurl = join(b.root, "time-curl");
  let peer = "";
  try {
    const eps = join(big, "episodes");
    await b.peer({
      name: "tar | curl",
      script: `/usr/bin/time -f %M -o ${q(tTar)} tar -C ${q(eps)} -cf - ep-rss-big | ` +
        `/usr/bin/time -f %M -o ${q(tCurl)} ${b.curl} -T - ${q(b.url("peer.tar"))}`,
      stores: 1,
    });
    const kib = async (f: string) => Number((await Deno.readTextFile(f)).trim().split("\n").at(-1));
    peer = `tar | curl: tar ${(mibOf(await kib(tTar))).toFixed(0)} MiB, curl ${
      mibOf(await kib(tCurl)).toFixed(0)
    } MiB`;
  } catch (error) {
    peer = `tar | curl: n/a (${errorText(error)})`;
  }
  const smallMiB = mibOf(s.hwmKiB), bigMiB = mibOf(l.hwmKiB);
  return {
    id: "rss",
    workload,
    ours: `${smallMiB.toFixed(0)} MiB vs ${bigMiB.toFixed(0)} MiB`,
    peer,
    ratio: bigMiB / smallMiB,
    target: targetText(target),
    verdict: verdictOf(target, { kind: "flat", smallMiB, bigMiB }),
    context: `took ${formatSeconds(s.seconds)} and ${formatSeconds(l.seconds)}`,
    data: {
      small: {
        bytes: b.sizes.rssSmallBytes,
        peak_rss_mib: +smallMiB.toFixed(1),
        seconds: s.seconds,
      },
      large: { bytes: b.sizes.rssBigBytes, peak_rss_mib: +bigMiB.toFixed(1), seconds: l.seconds },
      peer,
    },
  };
}

/** A backlog of many episodes in one --once: open fds and RSS must stay bounded. */
async function backlogRow(b: Bench): Promise<RowResult> {
  const n = b.sizes.backlog;
  const dataRoot = await b.episodes("backlog", n);
  const target = TARGETS.backlog;
  const workload = `backlog of ${n.toLocaleString("en")} episodes (3 × ${
    formatSize(b.sizes.fileBytes)
  }), one --once`;
  try {
    const r = await b.ship(await b.config(dataRoot, "gzip"), dataRoot, n);
    const peakMiB = mibOf(r.hwmKiB);
    progress(`backlog: ${formatSeconds(r.seconds)}, ${r.fds} fds, ${peakMiB.toFixed(0)} MiB`);
    return {
      id: "backlog",
      workload,
      ours: `${r.fds.toLocaleString("en")} fds, ${peakMiB.toFixed(0)} MiB (${
        formatSeconds(r.seconds)
      })`,
      peer: "—",
      ratio: null,
      target: targetText(target),
      verdict: verdictOf(target, { kind: "bounded", fds: r.fds, peakMiB }),
      context: `${(n / r.seconds).toFixed(0)} episodes/s`,
      data: { ours: oursJson([r]), episodes: n },
    };
  } catch (error) {
    return {
      id: "backlog",
      workload,
      ours: "n/a",
      peer: "—",
      ratio: null,
      target: targetText(target),
      verdict: "n/a",
      context: "",
      error: errorText(error),
      data: {},
    };
  }
}

const ROWS: Record<RowId, (b: Bench) => Promise<RowResult>> = {
  gzip: (b) => bigRow(b, "gzip"),
  zstd: (b) => bigRow(b, "zstd"),
  none: (b) => bigRow(b, "none"),
  episodes: episodesRow,
  files: filesRow,
  rss: rssRow,
  backlog: backlogRow,
};

async function gitHead(): Promise<string | null> {
  const out = await new Deno.Command("git", {
    args: ["rev-parse", "HEAD"],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : null;
}

async function loadavg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3).join(
    " ",
  );
}

async function bench(args: BenchArgs): Promise<void> {
  const sizes = sizesFor(args.quick);
  const started = new Date();
  const loadStart = await loadavg();
  const root = await Deno.makeTempDir({ prefix: "cis490-bench-" });
  const rows: RowResult[] = [];
  let nginx: Nginx | undefined;
  const cleanup = async () => {
    await Promise.resolve(nginx?.[Symbol.asyncDispose]()).catch(() => {});
    nginx = undefined;
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  const onSignal = () => {
    progress("interrupted: stopping nginx and removing the data");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const pki = await makePki(join(root, "pki"), [HOST]);
    // Bodies larger than nginx's default limit (the 2 GiB episode).
    nginx = await startNginx(join(root, "nginx"), pki, "client_max_body_size 0;");
    const b = new Bench(root, pki, nginx, sizes, args.runs);
    progress(`temp dir ${root}; receiver ${nginx.url}; rows: ${args.only.join(", ")}`);
    for (const id of args.only) {
      try {
        rows.push(await ROWS[id](b));
      } catch (error) {
        // A harness failure in one row must not lose the others.
        rows.push({
          id,
          workload: id,
          ours: "n/a",
          peer: "",
          ratio: null,
          target: targetText(TARGETS[id]),
          verdict: "n/a",
          context: "",
          error: errorText(error),
          data: {},
        });
      }
    }
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const finished = new Date();
  const loadEnd = await loadavg();
  const title = `cis490-ship bench — ${
    args.quick ? "QUICK (small sizes; verdicts mean nothing)" : "full"
  }, median of ${args.runs} interleaved run${
    args.runs > 1 ? "s" : ""
  }, ${started.toISOString()}, ${navigator.hardwareConcurrency} CPUs, load ${loadStart} → ${loadEnd}`;
  const table = formatTable(
    ["row", "workload", "cis490-ship", "peer", "ratio", "target", "verdict", "context"],
    rows.map((r) => [
      r.id,
      r.workload,
      r.ours,
      r.peer,
      formatRatio(r.ratio),
      r.target,
      r.error !== undefined && r.verdict === "n/a" ? `n/a: ${r.error}` : r.verdict,
      r.context + (r.error !== undefined && r.verdict !== "n/a" ? ` (${r.error})` : ""),
    ]),
  );
  console.log(title);
  console.log(table);
  const out = args.out ?? DEFAULT_OUT;
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        title,
        started: started.toISOString(),
        finished: finished.toISOString(),
        quick: args.quick,
        runs: args.runs,
        sizes,
        machine: {
          cpus: navigator.hardwareConcurrency,
          deno: Deno.version.deno,
          kernel: Deno.osRelease(),
          loadavg_start: loadStart,
          loadavg_end: loadEnd,
        },
        commit: await gitHead(),
        rows: rows.map((r) => ({
          id: r.id,
          workload: r.workload,
          target: r.target,
          verdict: r.verdict,
          ratio: r.ratio,
          ...(r.error !== undefined && { error: r.error }),
          cells: { ours: r.ours, peer: r.peer, context: r.context },
          measured: r.data,
        })),
        table,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nJSON: ${out}`);
}

if (import.meta.main) {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(Deno.args);
  } catch (error) {
    console.error(`${errorText(error)}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (args.help) console.log(USAGE);
  else await bench(args);
}
