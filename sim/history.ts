/**
 * One simulated history: a list of events drawn from a seed (producers, passes with faults,
 * crashes, power losses, SIGTERM and SIGHUP, clock jumps, collector moods, an operator moving
 * things by hand) run against the real queue code in a simulated world, with the queue's
 * invariants (`src/queue/mod.ts`) checked after every step and at every send.
 */
import { join } from "node:path";
import type { Config } from "../src/config/config.ts";
import type { Fields, Logger } from "../src/log/log.ts";
import { layoutOf } from "../src/layout.ts";
import { newMemory, type PassSummary, type QueueMemory, runPass } from "../src/queue/pass.ts";
import { parseState } from "../src/queue/state.ts";
import { requeue } from "../src/queue/requeue.ts";
import { drainUnstamped } from "../src/queue/drain.ts";
import { pruneShipped } from "../src/retention/prune.ts";
import { confirmShipped } from "../src/retention/confirm.ts";
import { readStatusSnapshot } from "../src/status/snapshot.ts";
import { buildStatus } from "../src/status/status.ts";
import { DONE_MARKER } from "../src/episodes/scan.ts";
import { COMMIT } from "../devkit/fixtures.ts";
import { Crash, SimFs, SimFsError } from "./sim_fs.ts";
import {
  type CollectorMode,
  contentOf,
  LOSSY,
  simCollector,
  simEpisodes,
  simLock,
  simPacker,
} from "./sim_world.ts";
import { type Rng, rngOf } from "./rng.ts";
import type { Answer } from "../src/upload/receiver.ts";

/** The kinds of episode a producer makes. */
export type EpisodeKind =
  | "good"
  | "unstamped"
  | "badid"
  | "large"
  | "symlink"
  | "nonutf8"
  | "poison"
  | "refused";

/** A fault planned at the n-th file operation of a pass. */
export type PassFault =
  | { at: number; what: "crash"; power: boolean; applied: boolean }
  | { at: number; what: "fail"; code: "ENOSPC" | "EIO" | "EACCES" | "EXDEV" }
  | { at: number; what: "term" }
  | { at: number; what: "swap" | "grow" }
  /** An operator command run while the pass is at that operation. */
  | { at: number; what: "operator"; cmd: OperatorCommand };

/** The operator commands a history interleaves with the shipper. */
export type OperatorCommand = "requeue" | "prune" | "drain" | "status" | "confirm";

/** One step of a history. */
export type Event =
  | { e: "produce"; kind: EpisodeKind; reuse: boolean; complete: boolean }
  | { e: "complete" }
  | { e: "pass"; fault: PassFault | null }
  | { e: "restart"; power: boolean }
  | { e: "time"; ms: number }
  | { e: "mode"; mode: CollectorMode }
  | { e: "reload"; compression: "gzip" | "none"; concurrency: number; packAhead: number }
  | { e: "mv-back" }
  | { e: "corrupt" }
  | { e: "operator"; cmd: OperatorCommand };

const SECRET = "sim-secret-token-7f3a9c1d";
const DATA = "/data";
const BACKOFF = [1, 2, 4, 8, 16, 32, 60, 120, 300];

/** Draws a history from a seed. */
export function generate(seed: number): Event[] {
  const rng = rngOf(seed);
  const events: Event[] = [];
  const n = 6 + rng.int(28);
  for (let i = 0; i < n; i++) events.push(drawEvent(rng));
  return events;
}

function drawEvent(rng: Rng): Event {
  const r = rng.next();
  if (r < 0.24) {
    const k = rng.next();
    const kind: EpisodeKind = k < 0.55
      ? "good"
      : rng.pick(["unstamped", "badid", "large", "symlink", "nonutf8", "poison", "refused"]);
    return { e: "produce", kind, reuse: rng.chance(0.25), complete: rng.chance(0.8) };
  }
  if (r < 0.3) return { e: "complete" };
  if (r < 0.66) return { e: "pass", fault: rng.chance(0.55) ? drawFault(rng) : null };
  if (r < 0.72) return { e: "restart", power: rng.chance(0.5) };
  if (r < 0.82) {
    const t = rng.next();
    const ms = t < 0.7
      ? 500 + rng.int(400_000)
      : t < 0.85
      ? -(1 + rng.int(86_400_000))
      : 365 * 86_400_000;
    return { e: "time", ms };
  }
  if (r < 0.87) return { e: "operator", cmd: rng.pick(COMMANDS) };
  if (r < 0.93) {
    return {
      e: "mode",
      mode: rng.pick(["up", "up", "down", "credentials", "legacy", "flaky", "clock"] as const),
    };
  }
  if (r < 0.96) {
    return {
      e: "reload",
      compression: rng.pick(["gzip", "none"] as const),
      concurrency: 1 + rng.int(3),
      packAhead: rng.int(3),
    };
  }
  return rng.chance(0.5) ? { e: "mv-back" } : { e: "corrupt" };
}

const COMMANDS: readonly OperatorCommand[] = ["requeue", "prune", "drain", "status", "confirm"];

function drawFault(rng: Rng): PassFault {
  const at = 1 + rng.int(40);
  const r = rng.next();
  if (r < 0.45) return { at, what: "crash", power: rng.chance(0.4), applied: rng.chance(0.5) };
  if (r < 0.7) return { at, what: "fail", code: rng.pick(["ENOSPC", "EIO", "EACCES", "EXDEV"]) };
  if (r < 0.82) return { at, what: "term" };
  if (r < 0.9) return { at, what: "operator", cmd: rng.pick(COMMANDS) };
  return { at, what: rng.pick(["swap", "grow"] as const) };
}

/** An episode a producer made, as the simulation knows it. */
interface Instance {
  token: string;
  id: string;
  kind: EpisodeKind;
  complete: boolean;
  /**
   * A producer wrote to it after it was complete: what the collector holds may be an earlier
   * state of its files, and a receiver holding other bytes for it is its producer's doing.
   */
  disturbed: boolean;
}

/** What a history run found. */
export interface Outcome {
  /** The first invariant broken, or null. */
  violation: string | null;
  /** Index of the event after which it was found (events.length: the final drain). */
  at: number;
  log: string[];
}

/** Options for {@linkcode runHistory}. */
export interface RunOptions {
  /** Keep every log line (replaying one seed). @default {false} */
  verbose?: boolean;
}

class Violation extends Error {}

/** A logger that keeps lines when replaying one seed, and costs nothing otherwise. */
function nullLogger(lines: string[] | null): Logger {
  const none = () => {};
  const write = (level: string) =>
    lines === null ? none : (message: string, fields?: Fields) => {
      lines.push(`${level} ${message}${fields ? " " + JSON.stringify(fields) : ""}`);
    };
  return {
    error: write("ERROR"),
    warn: write("WARN"),
    info: write("INFO"),
    debug: write("DEBUG"),
    redact: none,
  };
}

function baseConfig(): Config {
  return {
    file: "/etc/cis490/lab-host.toml",
    hostId: "sim-host",
    dataRoot: DATA,
    receiver: { url: "https://collector.sim", verifyTls: true, bearerToken: SECRET },
    tls: {},
    scanIntervalS: 5,
    requestTimeoutS: 60,
    backoffSeconds: BACKOFF,
    keepLocalForDays: 7,
    maxEpisodeBytes: 4000,
    compression: "gzip",
    uploadConcurrency: 2,
    packAhead: 1,
    maxBytesPerSecond: 0,
    stopGraceS: 20,
  } as Config;
}

/** Runs one history; returns the first violation found, if any. */
export async function runHistory(events: Event[], options: RunOptions = {}): Promise<Outcome> {
  const world = new SimWorld(options.verbose ?? false);
  let at = 0;
  try {
    for (; at < events.length; at++) {
      const event = events[at]!;
      await world.apply(event);
      // Only the shipper's own steps can break an invariant; the others set the stage.
      if (event.e === "pass" || event.e === "restart") world.check(false);
    }
    await world.drain();
    world.check(true);
    return { violation: null, at, log: world.log };
  } catch (error) {
    if (error instanceof Violation) return { violation: error.message, at, log: world.log };
    return {
      violation: `the simulation itself failed: ${error instanceof Error ? error.stack : error}`,
      at,
      log: world.log,
    };
  }
}

/** The simulated lab host, collector and operator. */
class SimWorld {
  t = Date.parse("2026-06-01T00:00:00Z");
  readonly fs: SimFs;
  readonly layout = layoutOf(DATA);
  readonly collector;
  readonly instances: Instance[] = [];
  readonly log: string[] = [];
  config = baseConfig();
  memory: QueueMemory | null = null;
  process = 1;
  seq = 0;
  rng = rngOf(1);
  /** Per process: final answers received, by id and digest (invariant 2). */
  answered = new Set<string>();
  /** Answers whose record is durable (renamed into place, then committed), by id and digest. */
  recorded = new Set<string>();
  /** Answers renamed into place but not committed yet. */
  pendingRecords = new Set<string>();
  /** Shipped entries whose bytes were compared with the collector's. */
  verifiedShipped = new Set<string>();
  /** Every recorded answer, by id, digest and time. */
  verdictsSeen = new Set<string>();
  /** Answers an operator set aside by moving the episode back by hand. */
  setAside = new Set<string>();
  /** Per process: when a host-level failure was last answered, for the outage rule (6). */
  lastFailure: { at: number; seq: number; after: number } | null = null;
  readonly logger: Logger;
  /** The moves section every simulated process shares, as flock is shared. */
  readonly lock = simLock();
  /** Shipped entries an operator confirmed by hand (`confirm`). */
  readonly vouched = new Set<string>();
  /** Instances pruned from `shipped/` after their retention: gone by design. */
  readonly pruned = new Set<string>();

  constructor(readonly verbose: boolean) {
    this.fs = new SimFs(() => this.t);
    this.logger = nullLogger(verbose ? this.log : null);
    this.collector = simCollector(this.fs, {
      now: () => this.t,
      random: () => this.rng.next(),
      secret: SECRET,
    });
    this.collector.onSend = (request, started) => this.onSend(request, started);
    this.collector.onStart = () => this.onStart();
    this.fs.onCommit = () => {
      for (const key of this.pendingRecords) this.recorded.add(key);
      this.pendingRecords.clear();
    };
    this.fs.onPowerLoss = () => this.pendingRecords.clear();
    this.fs.onRenamed = (from, to, bytes) => {
      if (!bytes) return this.onDirectoryRenamed(from, to);
      if (!to.endsWith(".state.json")) return;
      const state = parseState(new TextDecoder().decode(bytes));
      if (state?.verdict && state.packed) {
        // A verdict the operator already set aside (requeued by hand) may be rewritten by a
        // later state write of the same process; that is no new answer.
        const answer = `${state.episode_id} ${state.packed.sha256} ${state.verdict.at}`;
        if (!this.setAside.has(answer)) {
          this.pendingRecords.add(`${state.episode_id} ${state.packed.sha256}`);
          this.verdictsSeen.add(answer);
        }
      }
    };
    this.collector.onAnswer = (request, answer) => this.onAnswer(request, answer);
    for (const dir of ["episodes", "outbox", "shipped", "quarantine"]) {
      this.fs.produceDir(join(DATA, dir), 0o750);
    }
  }

  note(text: string): void {
    if (this.verbose) this.log.push(`-- ${text}`);
  }

  /** The first violation seen inside a pass (the queue must not be able to swallow it). */
  violation: string | null = null;

  fail(text: string): never {
    this.violation ??= text;
    throw new Violation(text);
  }

  // ---- events ----

  async apply(event: Event): Promise<void> {
    this.note(JSON.stringify(event));
    switch (event.e) {
      case "produce":
        return this.produce(event.kind, event.reuse, event.complete);
      case "complete": {
        const inst = this.instances.find((i) => !i.complete && this.whereIs(i).length === 1);
        if (inst) this.completeInstance(inst);
        return;
      }
      case "pass":
        await this.pass(event.fault);
        return;
      case "restart":
        this.endProcess();
        if (event.power) this.fs.powerLoss();
        return;
      case "time":
        this.t += event.ms;
        return;
      case "mode":
        this.collector.mode = event.mode;
        return;
      case "reload":
        this.config = {
          ...this.config,
          compression: event.compression,
          uploadConcurrency: event.concurrency,
          packAhead: event.packAhead,
        };
        return;
      case "mv-back":
        return this.moveBackByHand();
      case "corrupt":
        return this.corruptTarball();
      case "operator":
        return await this.operator(event.cmd);
    }
  }

  produce(kind: EpisodeKind, reuse: boolean, complete: boolean): void {
    const n = this.instances.length;
    const token = `inst-${n}`;
    let id = kind === "badid" ? `bad id ${n}` : kind === "nonutf8" ? `ep-${n}${LOSSY}` : `ep-${n}`;
    if (reuse && kind !== "badid" && kind !== "nonutf8") {
      const old = this.instances.find((i) =>
        /^ep-\d+$/.test(i.id) && !this.fs.kindOf(join(this.layout.episodes, i.id))
      );
      if (old) id = old.id;
    }
    const dir = join(this.layout.episodes, id);
    if (this.fs.kindOf(dir)) return;
    const inst: Instance = { token, id, kind, complete: false, disturbed: false };
    this.instances.push(inst);
    if (kind !== "unstamped") {
      this.fs.produceFile(
        join(dir, "meta.json"),
        JSON.stringify({ code_version: { commit: COMMIT }, token }),
      );
    }
    this.fs.produceFile(join(dir, "token"), token);
    this.fs.produceFile(join(dir, "data", "obs.csv"), `t,x\n0,${token}\n`);
    if (kind === "large") this.fs.produceFile(join(dir, "data", "big.bin"), "x".repeat(5000));
    if (kind === "symlink") this.fs.produceSymlink(join(dir, "data", "link"), "/etc/shadow");
    if (kind === "refused") this.collector.refuses.add(token);
    if (complete) this.completeInstance(inst);
  }

  completeInstance(inst: Instance): void {
    const [where] = this.whereIs(inst);
    if (!where?.startsWith(this.layout.episodes)) return;
    this.fs.produceFile(join(where, DONE_MARKER), "");
    inst.complete = true;
  }

  /** An operator moves a quarantined episode back into `episodes/` with mv. */
  moveBackByHand(): void {
    for (const name of this.fs.list(this.layout.quarantine)) {
      if (name.startsWith(".") || name.startsWith("nonutf8-")) continue;
      const token = this.tokenAt(join(this.layout.quarantine, name));
      const inst = this.instances.find((i) => i.token === token);
      if (!inst || !/^ep-\d+$/.test(inst.id)) continue;
      if (
        this.fs.produceRename(
          join(this.layout.quarantine, name),
          join(this.layout.episodes, inst.id),
        )
      ) {
        this.note(`operator: mv quarantine/${name} episodes/${inst.id}`);
        this.operatorAsksAgain(inst);
        return;
      }
    }
  }

  /**
   * An operator command, the real code over the simulated disk, between passes or during one.
   * What it moved is held to the invariants: requeue asks for a new answer, prune removes only
   * old, confirmed shipped entries, status adds up to the directories.
   */
  async operator(cmd: OperatorCommand): Promise<void> {
    const now = () => this.t;
    const common = { fs: this.fs, lock: this.lock, requireOwner: () => Promise.resolve() };
    const unconfirmed = new Set(this.fs.list(this.layout.unconfirmed));
    this.note(`operator: ${cmd}`);
    try {
      switch (cmd) {
        case "requeue":
          await requeue(this.layout, { all: true }, { ...common, now });
          break;
        case "drain":
          await drainUnstamped(this.layout, { ...common, hostId: this.config.hostId, now });
          break;
        case "prune":
          await pruneShipped(this.layout, {
            ...common,
            keepLocalForDays: 1,
            now,
            walk: async (dir) => (await simEpisodes(this.fs).inspect(dir)).tree,
          });
          break;
        case "confirm":
          await confirmShipped(this.layout, { all: true }, { fs: this.fs });
          // The operator vouches for these: the collector's copy is theirs to answer for.
          for (const name of unconfirmed) {
            this.vouched.add(`${name} ${this.tokenAt(join(this.layout.shipped, name))}`);
          }
          break;
        case "status":
          return await this.checkStatus();
      }
    } catch (error) {
      // A crash of the machine (power) or of the command's own process: the command is gone.
      if (error instanceof Crash || error instanceof SimFsError) return;
      throw error;
    }
  }

  /**
   * The moves only an operator command makes, seen as they happen (whatever the shipper does
   * around them): quarantine/ → episodes/ is a requeue, which asks for a new answer; shipped/ →
   * the trash is a prune, which must spare entries marked unconfirmed.
   */
  onDirectoryRenamed(from: string, to: string): void {
    const token = this.tokenAt(to);
    const inst = this.instances.find((i) => i.token === token);
    if (!inst) return;
    const { quarantine, episodes, shipped } = this.layout;
    if (from.startsWith(`${quarantine}/`) && to.startsWith(`${episodes}/`)) {
      this.operatorAsksAgain(inst);
      // Requeued under the name it had in quarantine/ (a non-UTF-8 one's nonutf8-<hex>).
      inst.id = to.slice(episodes.length + 1);
    }
    if (from.startsWith(`${shipped}/`) && !to.startsWith(`${quarantine}/`)) {
      const name = from.slice(shipped.length + 1);
      if (this.fs.kindOf(join(this.layout.unconfirmed, name))) {
        this.fail(`prune removed ${name}, which was never confirmed`);
      }
      this.pruned.add(inst.token);
    }
  }

  /** An operator asks for an episode to be decided again: a new answer may be asked for. */
  operatorAsksAgain(inst: Instance): void {
    for (const set of [this.recorded, this.answered, this.pendingRecords]) {
      for (const key of [...set]) if (key.startsWith(`${inst.id} `)) set.delete(key);
    }
    for (const answer of this.verdictsSeen) {
      if (answer.startsWith(`${inst.id} `)) this.setAside.add(answer);
    }
  }

  /** `status` adds up to the directories: one snapshot, the same counts. */
  async checkStatus(): Promise<void> {
    const count = (dir: string) =>
      this.fs.list(dir).filter((n) => !n.startsWith(".") && this.fs.kindOf(join(dir, n)) === "dir")
        .length;
    let dirs = { shipped: 0, quarantined: 0, episodes: 0 };
    const snapshot = await readStatusSnapshot(DATA, {
      hostId: this.config.hostId,
      fs: this.fs,
      // The directories counted in the very section the snapshot lists them in: the service
      // may move episodes before and after it, never during.
      lock: <T>(fn: () => Promise<T>) =>
        this.lock(async () => {
          const listed = await fn();
          dirs = {
            shipped: count(this.layout.shipped),
            quarantined: count(this.layout.quarantine),
            episodes: count(this.layout.episodes),
          };
          return listed;
        }),
      episodes: simEpisodes(this.fs),
      holder: () => Promise.resolve(null),
      now: () => this.t,
    });
    const report = buildStatus(snapshot, this.t);
    const { shipped, quarantined, episodes } = dirs;
    const inEpisodes = report.total.count - report.states.shipped.count -
      report.states.quarantined.count;
    if (
      report.states.shipped.count !== shipped || report.states.quarantined.count !== quarantined ||
      inEpisodes !== episodes
    ) {
      this.fail(
        `status says ${report.states.shipped.count} shipped, ${report.states.quarantined.count} ` +
          `quarantined, ${inEpisodes} in episodes/; the directories hold ${shipped}, ` +
          `${quarantined}, ${episodes}`,
      );
    }
  }

  /** A byte of a tarball in outbox/ flips (bit rot, a hand that should not have been there). */
  corruptTarball(): void {
    const name = this.fs.list(this.layout.outbox).find((n) => /\.tar(\.gz|\.zst)?$/.test(n));
    if (!name) return;
    const path = join(this.layout.outbox, name);
    const bytes = this.fs.bytes(path)!.slice();
    if (bytes.length === 0) return;
    bytes[bytes.length >> 1]! ^= 0x20;
    this.fs.produceFile(path, bytes);
    this.note(`disk: a byte of ${name} flipped`);
  }

  endProcess(): void {
    this.memory = null;
    this.process++;
    this.collector.process = this.process;
    this.answered.clear();
    this.lastFailure = null;
    this.inFlight = 0;
    this.proven = false;
    this.fs.restart();
  }

  async pass(fault: PassFault | null): Promise<PassSummary | null> {
    this.memory ??= newMemory();
    const abort = new AbortController();
    const base = this.fs.ops;
    let operator: Promise<void> | null = null;
    if (fault) {
      const n = base + fault.at;
      if (fault.what === "crash") {
        this.fs.faults.set(n, { kind: "crash", powerLoss: fault.power, applied: fault.applied });
      } else if (fault.what === "fail") {
        this.fs.faults.set(n, { kind: "fail", code: fault.code });
      } else if (fault.what === "term") {
        this.fs.hooks.set(n, () => abort.abort());
      } else if (fault.what === "operator") {
        // Started mid-pass; the moves lock keeps it and the pass apart, as flock does.
        this.fs.hooks.set(n, () => operator = this.operator(fault.cmd));
      } else {
        this.fs.hooks.set(n, () => this.disturbProducer(fault.what as "swap" | "grow"));
      }
    }
    const run = runPass({
      config: this.config,
      logger: this.logger,
      memory: this.memory,
      signal: abort.signal,
      world: {
        fs: this.fs,
        episodes: simEpisodes(this.fs),
        packer: simPacker(this.fs, (dir) => this.poisoned(dir)),
        receiver: this.collector,
        lock: this.lock,
        now: () => this.t,
        random: () => this.rng.next(),
      },
    });
    // Everything in the simulated world resolves in microtasks: a pass still pending once they
    // have run out is waiting for something that will never come (a deadlock).
    let settled = false;
    let summary: PassSummary | null = null;
    const outcome = run.then(
      (done) => {
        settled = true;
        summary = done;
      },
      (error) => {
        settled = true;
        if (!(error instanceof Crash) && !(error instanceof SimFsError)) throw error;
      },
    );
    await Promise.race([outcome, new Promise((r) => setTimeout(r, 0))]);
    if (!settled) this.fail("a pass hung: it waited for something that never came");
    await outcome;
    if (operator) {
      let done = false;
      const finished = (operator as Promise<void>).finally(() => (done = true));
      await Promise.race([finished, new Promise((r) => setTimeout(r, 0))]);
      if (!done) this.fail("an operator command hung: it waited for something that never came");
      await finished;
    }
    if (this.violation) throw new Violation(this.violation);
    this.fs.faults.clear();
    this.fs.hooks.clear();
    if (this.fs.dead || abort.signal.aborted) this.endProcess();
    return summary;
  }

  disturbProducer(what: "swap" | "grow"): void {
    for (const name of this.fs.list(this.layout.episodes)) {
      const file = join(this.layout.episodes, name, "data", "obs.csv");
      if (this.fs.kindOf(file) !== "file") continue;
      const token = this.tokenAt(join(this.layout.episodes, name));
      const inst = this.instances.find((i) => i.token === token);
      if (inst) inst.disturbed = true;
      if (what === "swap") this.fs.produceSymlink(file, "/etc/passwd");
      else {
        const old = new TextDecoder().decode(this.fs.bytes(file)!);
        this.fs.produceFile(file, old + "1,more\n");
      }
      this.note(`producer: ${what} ${file}`);
      return;
    }
  }

  poisoned(dir: string): boolean {
    const token = this.tokenAt(dir);
    return this.instances.some((i) => i.token === token && i.kind === "poison");
  }

  // ---- invariants ----

  tokenAt(dir: string): string | null {
    const bytes = this.fs.bytes(join(dir, "token"));
    return bytes ? new TextDecoder().decode(bytes) : null;
  }

  whereIs(inst: Instance, index = this.locate()): string[] {
    return index.get(inst.token) ?? [];
  }

  /** Where each instance token is found, in one walk of the three folders. */
  locate(): Map<string, string[]> {
    const index = new Map<string, string[]>();
    for (const top of [this.layout.episodes, this.layout.shipped, this.layout.quarantine]) {
      for (const name of this.fs.list(top)) {
        const dir = join(top, name);
        const token = this.fs.kindOf(dir) === "dir" ? this.tokenAt(dir) : null;
        if (token === null) continue;
        const list = index.get(token);
        if (list) list.push(dir);
        else index.set(token, [dir]);
      }
    }
    return index;
  }

  /** Invariants 2 and 6, at the instant of a send. */
  onSend(
    request: {
      at: number;
      process: number;
      id: string;
      sha256: string;
      claimed: string;
      instance: string | null;
    },
    seq: number,
  ) {
    const key = `${request.id} ${request.sha256}`;
    if (request.sha256 !== request.claimed) {
      this.fail(`invariant 7: ${request.id} sent with bytes unlike its recorded digest`);
    }
    if (this.answered.has(key)) {
      this.fail(`invariant 2: ${request.id} sent again by the process that got its answer`);
    }
    // Once the record of an answer was written, no later process may send it, power loss or not.
    if (this.recorded.has(key)) {
      this.fail(`invariant 2: ${request.id} sent again after its answer was recorded`);
    }
    const last = this.lastFailure;
    // A clock that jumped back makes every probe time due: only forward time is measured.
    if (
      last && seq > last.seq && request.at >= last.at && request.at < last.at + 800 * BACKOFF[0]!
    ) {
      // Workers that had decided to send when the failure arrived may still go: at most one
      // per other worker. Any more is a request added to an outage.
      last.after++;
      if (last.after > this.config.uploadConcurrency - 1) {
        this.fail(
          `invariant 6: ${last.after} requests ${
            request.at - last.at
          } ms after a host failure, before the next backoff step`,
        );
      }
    }
  }

  /** Requests of this process in flight now. */
  inFlight = 0;
  /** Whether this process's last answer was about an episode (the host is proven). */
  proven = false;

  /**
   * A request starts: while the host is not proven, it must be the only one (invariant 6). A
   * failure answer that has arrived but that the shipper has not read yet (its gate still open:
   * the answer's continuation has not run) cannot stop a request already on its way; those are
   * the "decided before the failure" requests that the after-failure count bounds.
   */
  onStart(): number {
    const gate = this.memory?.gate;
    const shipperKnows = gate === undefined || gate.paused !== null || !gate.proven;
    if (this.inFlight > 0 && !this.proven && shipperKnows) {
      this.fail("invariant 6: a second request in flight while the host is not proven");
    }
    this.inFlight++;
    return ++this.seq;
  }

  /** Remembers final answers (invariant 2) and host failures (invariant 6) of this process. */
  onAnswer(request: { at: number; id: string; sha256: string } | null, answer: Answer): void {
    this.inFlight--;
    if (request === null) return;
    this.proven = ["stored", "duplicate", "refused", "repack"].includes(answer.class);
    if (["stored", "duplicate", "refused"].includes(answer.class)) {
      this.answered.add(`${request.id} ${request.sha256}`);
    }
    // An answer about an episode proves the collector is up: the host may send again.
    if (["stored", "duplicate", "refused", "repack"].includes(answer.class)) {
      this.lastFailure = null;
    }
    if (["transient", "credentials", "clock", "misconfigured"].includes(answer.class)) {
      this.lastFailure = { at: request.at, seq: ++this.seq, after: 0 };
    }
  }

  /** Invariants 1, 5, 9 and the collector's bytes, between steps; at the end also 3 and liveness. */
  check(final: boolean): void {
    // 1: every instance in exactly one place.
    const index = this.locate();
    for (const inst of this.instances) {
      const where = this.whereIs(inst, index);
      if (this.pruned.has(inst.token) && where.length === 0) continue;
      if (where.length !== 1) {
        this.fail(
          `invariant 1: ${inst.token} (${inst.id}) is in ${where.length} places: ${
            where.join(", ")
          }`,
        );
      }
    }
    // 9: no secret in any file the shipper wrote (producers never hold it).
    for (const path of this.fs.written) {
      const bytes = this.fs.bytes(path);
      if (bytes && new TextDecoder().decode(bytes).includes(SECRET)) {
        this.fail(`invariant 9: the bearer token is written in ${path}`);
      }
    }
    this.fs.written.clear();
    // The collector holds exactly the bytes of every shipped episode (unless marked unconfirmed).
    for (const name of this.fs.list(this.layout.shipped)) {
      const dir = join(this.layout.shipped, name);
      const token = this.tokenAt(dir);
      const inst = this.instances.find((i) => i.token === token);
      if (!inst) continue;
      const vouched = this.vouched.has(`${name} ${token}`);
      if (this.fs.kindOf(join(this.layout.unconfirmed, name)) || vouched) {
        if (!this.collector.stored.has(inst.id)) {
          this.fail(`${name} marked unconfirmed, but nothing is stored under ${inst.id}`);
        }
        continue;
      }
      const stored = this.collector.stored.get(inst.id);
      if (stored?.instance !== token) {
        this.fail(
          `${name} is in shipped/ but the collector holds ${
            stored?.instance ?? "nothing"
          } under ${inst.id}`,
        );
      }
      // Shipped entries do not change: each is compared once.
      const seen = `${name} ${token}`;
      if (this.verifiedShipped.has(seen)) continue;
      if (!inst.disturbed && stored.content !== contentOf(this.serialize(dir, inst.id))) {
        this.fail(`${name} is in shipped/ but the collector's bytes differ from its files`);
      }
      this.verifiedShipped.add(seen);
    }
    // 5: nothing quarantined for a host fault.
    for (const name of this.fs.list(this.layout.quarantine)) {
      if (name.startsWith(".")) continue;
      const dir = join(this.layout.quarantine, name);
      const token = this.tokenAt(dir);
      const inst = this.instances.find((i) => i.token === token);
      const reasonBytes = this.fs.bytes(join(dir, "quarantine_reason.json"));
      if (!reasonBytes) {
        if (final) this.fail(`invariant 3: quarantine/${name} has no reason file`);
        continue;
      }
      let reason;
      try {
        reason = JSON.parse(new TextDecoder().decode(reasonBytes));
      } catch {
        this.fail(`invariant 3: quarantine/${name} has a reason file that is not JSON`);
      }
      if (!inst) continue;
      const justified = reason.source === "drain"
        ? inst.kind === "unstamped"
        : reason.source === "preflight"
        ? ["unstamped", "badid", "large", "nonutf8", "poison"].includes(inst.kind)
        : reason.source === "collector"
        ? (reason.http_status === 412 && this.collector.refuses.has(inst.token)) ||
          (reason.http_status === 409 &&
            (inst.disturbed || this.collector.stored.get(inst.id)?.instance !== inst.token))
        : false;
      if (!justified) {
        this.fail(
          `invariant 5: ${inst.token} (${inst.kind}) quarantined: ${reason.source}: ${reason.reason}`,
        );
      }
    }
    if (!final) return;
    // Liveness: after the drain every complete good episode is shipped.
    for (const inst of this.instances) {
      const [where] = this.whereIs(inst, index);
      if (!inst.complete || !where) continue;
      // A producer that wrote to an episode after it was stored made a conflict of its own.
      const shouldShip = (inst.kind === "good" || inst.kind === "symlink") && !inst.disturbed;
      if (where.startsWith(this.layout.episodes)) {
        this.fail(`liveness: ${inst.token} (${inst.kind}) is still in episodes/ after the drain`);
      }
      if (shouldShip && where.startsWith(this.layout.quarantine)) {
        const stored = this.collector.stored.get(inst.id);
        if (stored?.instance === inst.token || !stored) {
          this.fail(`liveness: ${inst.token} should have shipped but is in ${where}`);
        }
      }
    }
    const leftovers = this.fs.list(this.layout.outbox);
    if (leftovers.length > 0) {
      this.fail(`outbox/ not empty after the drain: ${leftovers.join(", ")}`);
    }
  }

  serialize(dir: string, id: string): Uint8Array {
    const parts: unknown[] = [];
    const walk = (rel: string) => {
      const path = rel ? join(dir, rel) : dir;
      const kind = this.fs.kindOf(path);
      const data = kind === "file" ? new TextDecoder().decode(this.fs.bytes(path)!) : null;
      parts.push([`${id}/${rel}`, kind === "dir" ? "directory" : kind, data]);
      if (kind === "dir") { for (const c of this.fs.list(path)) walk(rel ? `${rel}/${c}` : c); }
    };
    walk("");
    return new TextEncoder().encode(JSON.stringify(["", parts]));
  }

  /** Everything calms down: the collector up, time passing, passes without faults. */
  async drain(): Promise<void> {
    this.note("drain");
    this.endProcess();
    this.collector.mode = "up";
    for (const inst of this.instances) if (!inst.complete) this.completeInstance(inst);
    for (let i = 0; i < 12; i++) {
      this.t += 3600_000;
      const summary = await this.pass(null);
      if (summary && summary.queued.length === 0 && i > 0) break;
    }
  }
}
