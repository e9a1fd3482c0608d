/** Timed child processes for the benchmark: the shipper (sampled from /proc) and shell peers. */
import { cliCommand } from "../devkit/cli.ts";

/** Peaks seen in /proc/<pid> while a process ran. */
export interface Peaks {
  /** VmHWM (peak resident set), KiB. */
  hwmKiB: number;
  /** Most entries seen at once in /proc/<pid>/fd. */
  fds: number;
  /** user + system CPU seconds at the last sample (slightly under the total). */
  cpuS: number;
}

const SAMPLE_MS = 20;
const TICKS_PER_S = 100; // USER_HZ on Linux

async function countFds(pid: number): Promise<number> {
  let n = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) n++;
  return n;
}

/** Samples `/proc/<pid>` every 20 ms until `exited` settles; keeps the peaks. */
export async function samplePeaks(pid: number, exited: Promise<unknown>): Promise<Peaks> {
  const peaks: Peaks = { hwmKiB: 0, fds: 0, cpuS: 0 };
  let done = false;
  exited.finally(() => done = true).catch(() => {});
  while (!done) {
    try {
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      peaks.hwmKiB = Math.max(peaks.hwmKiB, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      peaks.fds = Math.max(peaks.fds, await countFds(pid));
      // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      peaks.cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
    } catch {
      // The process ended between two reads: the peaks so far stand.
    }
    await Promise.race([new Promise((r) => setTimeout(r, SAMPLE_MS)), exited.catch(() => {})]);
  }
  return peaks;
}

/** One `cis490-ship --once` run. */
export interface ShipperRun extends Peaks {
  seconds: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cis490-ship --config <path> --once` as the binary would (devkit/cli.ts), sampled. */
export async function runShipperOnce(configPath: string): Promise<ShipperRun> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: cliCommand(["--config", configPath, "--once"]),
    env: {},
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const peaks = await samplePeaks(child.pid, output);
  const out = await output;
  const seconds = (performance.now() - started) / 1000;
  const decoder = new TextDecoder();
  return {
    seconds,
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    ...peaks,
  };
}

/** Runs a bash script with `pipefail`; returns its wall time in seconds and stdout. */
export async function timeShell(script: string): Promise<{ seconds: number; stdout: string }> {
  const started = performance.now();
  const out = await new Deno.Command("bash", {
    args: ["-c", `set -euo pipefail\n${script}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const decoder = new TextDecoder();
  if (!out.success) {
    const err = decoder.decode(out.stderr).trim().split("\n").at(-1) ?? "";
    throw new Error(`Peer failed with exit code ${out.code}: ${err}`);
  }
  return { seconds, stdout: decoder.decode(out.stdout) };
}

/** Quotes a string for bash. */
export function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
