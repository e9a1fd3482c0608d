/**
 * `deno task bench`: speed and memory against references measured in the same run — GNU tar for
 * packing, curl for uploading. Prints a table with ratios (ours / reference; < 1 is faster).
 * Targets live here, not in timed unit tests.
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { makePki } from "../devkit/pki.ts";
import { spawnCli } from "../devkit/cli.ts";
import { curlPut } from "../devkit/curl.ts";
import { put } from "../src/upload/put.ts";
import { COMMIT } from "../devkit/fixtures.ts";

const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 3);
const root = await Deno.makeTempDir({ prefix: "cis490-bench-" });
const CHILD = fileURLToPath(new URL("./_pack_child.ts", import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timed(cmd: string, args: string[]): Promise<{ ms: number; stdout: string }> {
  const t = performance.now();
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const ms = performance.now() - t;
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return { ms, stdout: new TextDecoder().decode(out.stdout) };
}

async function oursPack(dir: string, id: string) {
  const out = join(root, `ours-${crypto.randomUUID()}.tar.gz`);
  // --allow-all only because Deno guards /proc/self (peak RSS) behind it; this child is bench code.
  const r = await timed(Deno.execPath(), ["run", "--allow-all", CHILD, dir, id, out]);
  await Deno.remove(out);
  return {
    wall: r.ms,
    ...JSON.parse(r.stdout) as { ms: number; bytes: number; vmhwm_kib: number },
  };
}

async function tarPack(parent: string, id: string) {
  const out = join(root, `tar-${crypto.randomUUID()}.tar.gz`);
  const r = await timed("tar", [
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-czf",
    out,
    "-C",
    parent,
    id,
  ]);
  const bytes = (await Deno.stat(out)).size;
  await Deno.remove(out);
  return { wall: r.ms, bytes };
}

type Row = [string, string, string, string, string];
const rows: Row[] = [];

// 1. 10,000 small files.
const small = join(root, "small", "ep-small");
await Deno.mkdir(small, { recursive: true });
for (let d = 0; d < 100; d++) {
  Deno.mkdirSync(join(small, `d${d}`));
  for (let f = 0; f < 100; f++) {
    Deno.writeTextFileSync(
      join(small, `d${d}`, `f${f}.csv`),
      `${d},${f},${Math.random()}\n`.repeat(20),
    );
  }
}
// 2. One large, compressible file (CSV-like), 128 MiB.
const LARGE_MIB = 128;
const large = join(root, "large", "ep-large");
await Deno.mkdir(large, { recursive: true });
{
  const block = new TextEncoder().encode(
    Array.from({ length: 20_000 }, (_, i) => `${i},${Math.random().toFixed(6)},${(i * 7) % 13}`)
      .join("\n"),
  ).slice(0, 1024 * 1024);
  using f = await Deno.open(join(large, "data.csv"), { write: true, create: true });
  for (let i = 0; i < LARGE_MIB; i++) await f.write(block);
}
const medium = join(root, "medium", "ep-medium");
await Deno.mkdir(medium, { recursive: true });
await Deno.copyFile(join(large, "data.csv"), join(medium, "data.csv"));
await Deno.truncate(join(medium, "data.csv"), 16 * 1024 * 1024);

for (
  const [label, dir, id] of [
    ["pack 10,000 small files (gzip)", small, "ep-small"],
    [`pack one ${LARGE_MIB} MiB file (gzip)`, large, "ep-large"],
  ] as const
) {
  const ours = [], inside = [], ref = [];
  let oursBytes = 0, refBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const o = await oursPack(dir, id);
    ours.push(o.wall);
    inside.push(o.ms);
    oursBytes = o.bytes;
    const t = await tarPack(join(dir, ".."), id);
    ref.push(t.wall);
    refBytes = t.bytes;
  }
  const o = median(ours), t = median(ref);
  rows.push([
    label,
    `${o.toFixed(0)} ms, ${oursBytes} B`,
    `GNU tar ${t.toFixed(0)} ms, ${refBytes} B`,
    (o / t).toFixed(2),
    `size ratio ${(oursBytes / refBytes).toFixed(3)}; ${
      median(inside).toFixed(0)
    } ms without process start`,
  ]);
}

// 3. Memory does not grow with episode size.
const m16 = await oursPack(medium, "ep-medium");
const m128 = await oursPack(large, "ep-large");
rows.push([
  "peak RSS packing 16 MiB vs 128 MiB",
  `${(m16.vmhwm_kib / 1024).toFixed(0)} MiB vs ${(m128.vmhwm_kib / 1024).toFixed(0)} MiB`,
  "(8× the data)",
  (m128.vmhwm_kib / m16.vmhwm_kib).toFixed(2),
  "ratio near 1 = flat",
]);

// 4. Upload over mTLS to the reference collector: our PUT vs curl.
const pki = await makePki(join(root, "pki"), ["lab-01"]);
const collectorConfig = join(root, "collector.toml");
await Deno.writeTextFile(
  collectorConfig,
  `listen = "127.0.0.1:0"\nstore_dir = "${
    join(root, "store")
  }"\n[tls]\ncert = "${pki.serverCert}"\nkey = "${pki.serverKey}"\nclient_ca = "${pki.ca}"\n`,
);
const collector = spawnCli(["collector", "--config", collectorConfig]);
const url = (await collector.firstLine).replace(/^listening on /, "");
const body = join(root, "body.tar.gz");
await Deno.copyFile(join(large, "data.csv"), body);
const size = (await Deno.stat(body)).size;
const digest = createHash("sha256").update(await Deno.readFile(body)).digest("base64");
const client = pki.client("lab-01");
const tls = {
  ca: await Deno.readTextFile(pki.ca),
  cert: await Deno.readTextFile(client.cert),
  key: await Deno.readTextFile(client.key),
};
const headers = (id: string) => ({
  "content-type": "application/gzip",
  "content-digest": `sha-256=:${digest}:`,
  "x-cis490-host-id": "lab-01",
  "x-cis490-episode-id": id,
  "x-cis490-code-commit": COMMIT,
});
const oursUp = [], curlUp = [];
for (let i = 0; i < RUNS; i++) {
  const a = `ours-${i}`;
  const t = performance.now();
  const r = await put({
    url: `${url}/v1/episodes/lab-01/${a}.tar.gz`,
    headers: headers(a),
    bodyPath: body,
    size,
    timeoutMs: 120_000,
    tls,
    verifyTls: true,
  });
  if (r.status !== 201) throw new Error(`ours: ${r.status} ${r.body}`);
  oursUp.push(performance.now() - t);
  const b = `curl-${i}`;
  const started = performance.now();
  const c = await curlPut(`${url}/v1/episodes/lab-01/${b}.tar.gz`, {
    pki,
    bodyPath: body,
    headers: headers(b),
  });
  if (c.status !== 201) throw new Error(`curl: ${c.status} ${c.body}`);
  curlUp.push(performance.now() - started);
}
await collector.stop();
const ou = median(oursUp), cu = median(curlUp);
const mibs = (ms: number) => (size / 1048576 / (ms / 1000)).toFixed(0);
rows.push([
  `PUT ${LARGE_MIB} MiB over mTLS to the collector`,
  `${ou.toFixed(0)} ms (${mibs(ou)} MiB/s)`,
  `curl ${cu.toFixed(0)} ms (${mibs(cu)} MiB/s)`,
  (ou / cu).toFixed(2),
  "same collector, loopback",
]);

await Deno.remove(root, { recursive: true });

const head: Row = ["case", "cis490-ship (whole process)", "reference", "ratio", "note"];
const widths = head.map((_, i) => Math.max(...[head, ...rows].map((r) => r[i]!.length)));
const fmt = (r: Row) => "| " + r.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
console.log(`cis490-ship bench — median of ${RUNS} runs, ${new Date().toISOString()}`);
console.log(fmt(head));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(fmt(r));
