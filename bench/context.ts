/**
 * What every bench job gets: the temp dir, the PKI, the one mTLS nginx that receives for
 * everybody, data sets made once per run, shipper configs, and the interleaved ours-vs-peer
 * measurement. Jobs (bench/jobs/*.ts) build rows from these; see bench/jobs.ts for the list.
 */
import { join } from "node:path";
import type { Pki } from "../devkit/pki.ts";
import type { Nginx } from "../devkit/nginx.ts";
import { makeEpisode, writeConfig } from "../devkit/fixtures.ts";
import type { Compression } from "../src/protocol/protocol.ts";
import { q, runShipperOnce, type ShipperRun, timeShell } from "./_proc.ts";
import {
  failureLine,
  formatRate,
  formatSeconds,
  type Measurement,
  median,
  type Row,
  shippedCount,
  type Target,
  targetText,
  verdictOf,
} from "./report.ts";

/** The host id every shipper and peer sends as. */
export const HOST = "lab-01";
const MiB = 1024 * 1024;

/** A job: a named group of rows, measured with one {@linkcode Bench}. */
export interface Job {
  /** What `--only` takes; also the first part of its rows' ids. */
  id: string;
  /** Measures and returns the job's rows (a failure in one row should not lose the others). */
  run(b: Bench): Promise<Row[]>;
}

/** A peer: a shell pipeline and how many files it leaves on the receiver. */
export interface Peer {
  name: string;
  script: string;
  stores: number;
}

/** Timings of one command over the runs. */
export interface Series {
  name: string;
  seconds: number[];
  /** Bytes the receiver stored for it (last run). */
  bytes?: number;
  error?: string;
}

/** Data kinds the compression rows use; each makes a file of exactly the bytes asked. */
export type DataKind = "random" | "base64" | "json" | "csv" | "gzipped";

/** The error of `e` as one line. */
export const errorText = (e: unknown): string => e instanceof Error ? e.message : String(e);

/** Progress on stderr (the table goes to stdout). */
export function progress(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** The run's shared state; see the module doc. */
export class Bench {
  #cache = new Map<string, Promise<unknown>>();
  constructor(
    readonly root: string,
    readonly pki: Pki,
    readonly nginx: Nginx,
    readonly quick: boolean,
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

  /** Makes a data set (or a measurement) once per run, keyed by `key`; later calls share it. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.#cache.get(key) as Promise<T> | undefined;
    if (!p) {
      progress(`preparing ${key}`);
      // On disk before anything is timed, as a lab host's episodes are long before they ship:
      // else the first rows' fsyncs queue behind the writeback of the data just made.
      p = make().then(async (made) => (await timeShell("sync"), made));
      this.#cache.set(key, p);
    }
    return p;
  }

  /** The "1 GiB" size of the big rows (64 MiB with --quick). */
  get bigBytes(): number {
    return this.quick ? 64 * MiB : 1024 * MiB;
  }

  /** A data root holding one episode `ep-big` of one incompressible file of {@linkcode bigBytes}. */
  big(): Promise<string> {
    return this.oneFile("big", "random", this.bigBytes);
  }

  /** A data root with one episode `ep-<key>` holding one file of `bytes` of `kind`. */
  oneFile(key: string, kind: DataKind, bytes: number): Promise<string> {
    return this.once(key, async () => {
      const root = join(this.root, key);
      const dir = await makeEpisode(root, `ep-${key}`, { files: {} });
      await dataFile(join(dir, kind === "random" ? "data.bin" : `data.${kind}`), kind, bytes);
      return root;
    });
  }

  /** `count` episodes of `files` × `bytes` CSV files each, under one data root. */
  episodes(key: string, count: number, files: number, bytes: number): Promise<string> {
    return this.once(key, async () => {
      const root = join(this.root, key);
      const width = String(count).length;
      for (let i = 1; i <= count; i++) {
        const spec: Record<string, string> = {};
        for (let f = 1; f <= files; f++) spec[`data/part-${f}.csv`] = csvText(bytes);
        await makeEpisode(root, `ep-${String(i).padStart(width, "0")}`, { files: spec });
      }
      return root;
    });
  }

  /** A shipper config for `dataRoot`; gzip is left to the default. */
  async config(dataRoot: string, compression: Compression): Promise<string> {
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

  /** Empties the receiver's store; returns how many files it held and their bytes. */
  async clearStore(): Promise<{ files: number; bytes: number }> {
    let files = 0, bytes = 0;
    try {
      for await (const e of Deno.readDir(this.store)) {
        if (!e.isFile) continue;
        files++;
        bytes += (await Deno.stat(join(this.store, e.name))).size;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await Deno.remove(join(this.nginx.root, "v1"), { recursive: true }).catch(() => {});
    return { files, bytes };
  }

  /**
   * One `--once` over `dataRoot`, which must ship `expected` episodes; the data root is reset.
   * `bytes` is what the receiver stored.
   */
  async ship(
    configPath: string,
    dataRoot: string,
    expected: number,
  ): Promise<ShipperRun & { bytes: number }> {
    await resetDataRoot(dataRoot);
    try {
      const run = await runShipperOnce(configPath);
      const stored = await this.clearStore();
      const shipped = shippedCount(run.stdout);
      if (run.code !== 0 || shipped !== expected || stored.files !== expected) {
        const why = run.code !== 0 || shipped !== expected
          ? failureLine(run.stderr)
          : `the receiver holds ${stored.files} files`;
        throw new Error(`exit ${run.code}, shipped ${shipped ?? "?"} of ${expected}: ${why}`);
      }
      return { ...run, bytes: stored.bytes };
    } finally {
      await resetDataRoot(dataRoot);
    }
  }

  /** Runs a peer pipeline, checks the receiver got what it should; seconds and stored bytes. */
  async peer(peer: Peer): Promise<{ seconds: number; bytes: number }> {
    try {
      const { seconds } = await timeShell(peer.script);
      const stored = await this.clearStore();
      if (stored.files !== peer.stores) {
        throw new Error(
          `${peer.name}: the receiver holds ${stored.files} files, not ${peer.stores}`,
        );
      }
      return { seconds, bytes: stored.bytes };
    } finally {
      await this.clearStore();
    }
  }

  /** Interleaves ours and the peers `runs` times; a failure ends that series, not the row. */
  async compare(
    id: string,
    ours: () => Promise<ShipperRun & { bytes: number }>,
    peers: Peer[],
    runs = this.runs,
  ): Promise<{ ours: (ShipperRun & { bytes: number })[]; oursError?: string; peers: Series[] }> {
    const mine: (ShipperRun & { bytes: number })[] = [];
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
          const r = await this.peer(p);
          s.seconds.push(r.seconds);
          s.bytes = r.bytes;
          progress(`${id} ${i + 1}/${runs}: ${p.name} ${formatSeconds(r.seconds)}`);
        } catch (error) {
          s.error = errorText(error);
          progress(`${id} ${i + 1}/${runs}: ${s.error}`);
        }
      }
    }
    return { ours: mine, ...(oursError !== undefined && { oursError }), peers: series };
  }

  /** A timed row: ours against its first peer (the ratio), the rest shown as context. */
  async ratioRow(
    id: string,
    workload: string,
    setup: { configPath: string; dataRoot: string; expected: number; bytes?: number },
    peers: Peer[],
    target: Target,
  ): Promise<Row> {
    const r = await this.compare(
      id,
      () => this.ship(setup.configPath, setup.dataRoot, setup.expected),
      peers,
    );
    const oursS = r.ours.length ? median(r.ours.map((x) => x.seconds)) : NaN;
    const peer = r.peers[0]!;
    const peerS = peer.seconds.length ? median(peer.seconds) : NaN;
    const ratio = Number.isFinite(oursS / peerS) ? oursS / peerS : null;
    const m: Measurement | null = ratio === null ? null : { kind: "ratio", ratio };
    const error = r.oursError ?? peer.error;
    const rate = setup.bytes !== undefined ? `, ${formatRate(setup.bytes, oursS)}` : "";
    const cpu = r.ours.length ? `, ${median(r.ours.map((x) => x.cpuS)).toFixed(1)} s CPU` : "";
    return {
      id,
      workload,
      ours: r.ours.length ? `${formatSeconds(oursS)}${rate}${cpu}` : "n/a",
      peer: seriesCell(peer),
      ratio,
      target: targetText(target),
      verdict: verdictOf(target, m),
      context: r.peers.slice(1).map(seriesCell).join("; "),
      ...(error !== undefined && { error }),
      data: {
        ours: oursJson(r.ours),
        peer: seriesJson(peer),
        context: r.peers.slice(1).map(seriesJson),
      },
    };
  }
}

/** A peer's median as a cell. */
export function seriesCell(s: Series): string {
  return s.error !== undefined && s.seconds.length === 0
    ? `${s.name}: n/a (${s.error})`
    : `${s.name} ${formatSeconds(median(s.seconds))}`;
}

/** A peer's runs for the JSON. */
export function seriesJson(s: Series): Record<string, unknown> {
  return {
    name: s.name,
    median_s: s.seconds.length ? median(s.seconds) : null,
    runs_s: s.seconds,
    ...(s.bytes !== undefined && { bytes: s.bytes }),
    ...(s.error !== undefined && { error: s.error }),
  };
}

/** Our runs for the JSON. */
export function oursJson(runs: (ShipperRun & { bytes?: number })[]): Record<string, unknown> {
  return {
    median_s: runs.length ? median(runs.map((r) => r.seconds)) : null,
    runs_s: runs.map((r) => r.seconds),
    peak_rss_kib: runs.length ? Math.max(...runs.map((r) => r.hwmKiB)) : null,
    peak_fds: runs.length ? Math.max(...runs.map((r) => r.fds)) : null,
    cpu_s_median: runs.length ? +median(runs.map((r) => r.cpuS)).toFixed(2) : null,
    ...(runs[0]?.bytes !== undefined && { bytes: runs[0].bytes }),
  };
}

/** Puts every episode back into `episodes/` and empties `outbox/`, so the next run starts equal. */
export async function resetDataRoot(dataRoot: string): Promise<void> {
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

/** CSV text of exactly `bytes` bytes (compresses about as well as lab data does). */
export function csvText(bytes: number): string {
  let s = "t,x,y\n";
  for (let i = 0; s.length < bytes; i++) {
    s += `${i},${Math.random().toFixed(6)},${(Math.random() * 1000).toFixed(3)}\n`;
  }
  return s.slice(0, bytes);
}

/**
 * Writes `bytes` bytes of `kind` to `path`, 1 MiB at a time (a GiB of CSV in seconds), and syncs
 * it: a row timed on data still being written back would time that writeback too.
 */
export async function dataFile(path: string, kind: DataKind, bytes: number): Promise<void> {
  await writeData(path, kind, bytes);
  await timeShell(`sync ${q(path)}`);
}

async function writeData(path: string, kind: DataKind, bytes: number): Promise<void> {
  if (kind === "random") return void await timeShell(`head -c ${bytes} /dev/urandom > ${q(path)}`);
  if (kind === "base64") {
    // base64 of random bytes: 6 bits per byte, which a deflate with Huffman codes takes to 3/4.
    // `head` closes the pipe early on purpose: no pipefail for this line.
    return void await timeShell(
      `set +o pipefail; head -c ${
        Math.ceil(bytes * 3 / 4) + 4096
      } /dev/urandom | base64 -w 76 | head -c ${bytes} > ${q(path)}`,
    );
  }
  if (kind === "gzipped") {
    // Already-compressed lab data: CSV through gzip -6.
    const csv = `${path}.csv`;
    await writeData(csv, "csv", Math.ceil(bytes * 2.6));
    await timeShell(
      `set +o pipefail; gzip -6 -c ${q(csv)} | head -c ${bytes} > ${q(path)}; rm -f ${q(csv)}`,
    );
    return;
  }
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const text = new TextGenerator(kind);
  const chunk = new Uint8Array(MiB);
  for (let left = bytes; left > 0;) {
    const n = Math.min(left, chunk.length);
    text.fill(chunk.subarray(0, n));
    for (let off = 0; off < n;) off += await file.write(chunk.subarray(off, n));
    left -= n;
  }
}

/**
 * CSV (`i,0.123456,123.456`) or JSON lines (`{"t":i,"sensor":"s-3","value":0.123456,"ok":true}`)
 * from a seeded xorshift: the same bytes every run, ~1 GiB in a few seconds.
 */
class TextGenerator {
  #state = 0x9e3779b9;
  #line = 0;
  #pending = new Uint8Array(0);
  readonly #encoder = new TextEncoder();
  constructor(readonly kind: "csv" | "json") {}

  #random(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 4294967296;
  }

  #next(): string {
    const i = this.#line++;
    if (this.kind === "csv") {
      return `${i},${this.#random().toFixed(6)},${(this.#random() * 1000).toFixed(3)}\n`;
    }
    const sensor = Math.floor(this.#random() * 16);
    return `{"t":${i},"sensor":"s-${sensor}","value":${this.#random().toFixed(6)},"ok":${
      this.#random() < 0.9
    }}\n`;
  }

  fill(out: Uint8Array): void {
    let used = 0;
    while (used < out.length) {
      if (this.#pending.length === 0) {
        let lines = "";
        for (let k = 0; k < 256; k++) lines += this.#next();
        this.#pending = this.#encoder.encode(lines);
      }
      const n = Math.min(this.#pending.length, out.length - used);
      out.set(this.#pending.subarray(0, n), used);
      this.#pending = this.#pending.subarray(n);
      used += n;
    }
  }
}
