/**
 * The simulated world around the real queue code: episodes and a packer over {@linkcode SimFs},
 * a collector that gives every answer class of the outcome table, and a moves lock. The packer
 * writes a deterministic serialization of the episode instead of a tarball (the tar format has
 * its own tests); everything the queue decides and does is the production code's.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { EpisodeChangedError, type Tree, type TreeEntry } from "../src/episodes/walk.ts";
import { DONE_MARKER } from "../src/episodes/scan.ts";
import type { ScanResult } from "../src/episodes/scan.ts";
import { META_FILE } from "../src/episodes/preflight.ts";
import { MAX_META_BYTES, type MetaReading } from "../src/episodes/meta.ts";
import { encodeBase64 } from "../src/protocol/_base64.ts";
import type { Answer, Parcel, Receiver, SendOptions } from "../src/upload/receiver.ts";
import type { EpisodeSource, Packer } from "../src/queue/world.ts";
import type { MovesLock } from "../src/queue/moves.ts";
import { Crash, type SimFs, SimFsError } from "./sim_fs.ts";

/** How a name that is not UTF-8 looks in the simulation (Deno shows such bytes as U+FFFD). */
export const LOSSY = "\uFFFD";

const sha = (bytes: Uint8Array) =>
  encodeBase64(new Uint8Array(createHash("sha256").update(bytes).digest()));

/** The simulated producers' side of `episodes/`. */
export function simEpisodes(fs: SimFs): EpisodeSource {
  const stamp = async (path: string) => {
    const s = await fs.lstat(path);
    return s ? `${s.ino}:${s.size}:${s.mtime}:${s.ctime}` : "-";
  };
  return {
    async scan(episodesDir): Promise<ScanResult> {
      const result: ScanResult = { complete: [], incomplete: [], ignored: [], unaddressable: [] };
      for (const entry of await fs.readDir(episodesDir)) {
        if (!entry.isDirectory || entry.isSymlink) {
          result.ignored.push(entry.name);
          continue;
        }
        if (entry.name.includes(LOSSY)) {
          result.unaddressable.push(entry.name);
          continue;
        }
        const path = join(episodesDir, entry.name);
        const marker = await fs.lstat(join(path, DONE_MARKER));
        const episode = {
          name: entry.name,
          path,
          complete: marker !== null,
          completedAt: marker?.mtime ?? 0,
        };
        (episode.complete ? result.complete : result.incomplete).push(episode);
      }
      result.complete.sort((a, b) =>
        a.completedAt - b.completedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      );
      return result;
    },
    access: () => Promise.resolve(null),
    async key(dir) {
      return [
        await stamp(dir),
        await stamp(join(dir, DONE_MARKER)),
        await stamp(join(dir, META_FILE)),
      ].join("|");
    },
    async inspect(dir) {
      const entries: TreeEntry[] = [];
      let totalBytes = 0;
      let problem: string | undefined;
      const walk = async (rel: string) => {
        const path = rel ? join(dir, rel) : dir;
        const info = await fs.lstat(path);
        if (!info) throw new EpisodeChangedError(rel, "vanished", "listed");
        const kind = info.isDirectory ? "directory" : info.isFile ? "file" : "symlink";
        if (rel.includes(LOSSY)) problem ??= `a name in the episode is not valid UTF-8: "${rel}"`;
        entries.push({
          relPath: rel,
          kind,
          size: info.isFile ? info.size : 0,
          mode: 0o644,
          mtimeS: Math.floor((info.mtime ?? 0) / 1000),
          dev: 0,
          ino: info.ino ?? 0,
        });
        if (info.isFile) totalBytes += info.size;
        if (info.isDirectory) {
          for (const child of await fs.readDir(path)) {
            await walk(rel ? `${rel}/${child.name}` : child.name);
          }
        }
      };
      await walk("");
      const tree: Tree = { entries, totalBytes, ...(problem && { problem }) };
      return { tree, meta: await readSimMeta(fs, dir) };
    },
    async unaddressable(episodesDir) {
      const out = [];
      for (const entry of await fs.readDir(episodesDir)) {
        if (!entry.isDirectory || !entry.name.includes(LOSSY)) continue;
        const info = await fs.lstat(join(episodesDir, entry.name));
        out.push({ ino: String(info?.ino ?? 0), name: rawNameOf(entry.name) });
      }
      return out;
    },
    async moveUnaddressable(episodesDir, ino, dest) {
      for (const entry of await fs.readDir(episodesDir)) {
        const path = join(episodesDir, entry.name);
        const info = await fs.lstat(path);
        if (String(info?.ino) !== ino || !entry.isDirectory) continue;
        if (!(await fs.lstat(join(path, DONE_MARKER)))) return false;
        if (await fs.lstat(dest)) return false;
        await fs.rename(path, dest);
        return true;
      }
      return false;
    },
  };
}

/** The raw bytes a lossy simulated name stands for: each U+FFFD is the byte 0xff. */
export function rawNameOf(name: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of name) {
    if (ch === LOSSY) bytes.push(0xff);
    else bytes.push(...new TextEncoder().encode(ch));
  }
  return new Uint8Array(bytes);
}

async function readSimMeta(fs: SimFs, dir: string): Promise<MetaReading> {
  const path = join(dir, META_FILE);
  const info = await fs.lstat(path);
  if (!info) return { kind: "missing", problem: "meta.json is missing" };
  if (!info.isFile) {
    return { kind: "not a regular file", problem: "meta.json is a symlink, not a regular file" };
  }
  if (info.size > MAX_META_BYTES) return { kind: "too large", problem: "meta.json is too large" };
  return { text: new TextDecoder().decode(await fs.readFile(path, MAX_META_BYTES)) };
}

/** Instances whose packing always fails the same way (a path over the system limit). */
export type Poisoned = (dir: string) => boolean;

/** The simulated packer: a deterministic serialization of the tree, checked against the walk. */
export function simPacker(fs: SimFs, poisoned: Poisoned): Packer {
  return {
    async pack(request) {
      if (poisoned(request.dir)) {
        throw new SimFsError("ENAMETOOLONG", "open", join(request.dir, "x".repeat(300)));
      }
      request.signal?.throwIfAborted();
      const parts: unknown[] = [];
      for (const entry of request.tree.entries) {
        const path = entry.relPath ? join(request.dir, entry.relPath) : request.dir;
        const info = await fs.lstat(path);
        const kind = info?.isDirectory ? "directory" : info?.isFile ? "file" : "symlink";
        if (!info || kind !== entry.kind || info.ino !== entry.ino || info.size !== entry.size) {
          throw new EpisodeChangedError(entry.relPath, "changed since it was listed");
        }
        const data = entry.kind === "file"
          ? new TextDecoder().decode(await fs.readFile(path, 1 << 30))
          : null;
        parts.push([`${request.id}/${entry.relPath}`, entry.kind, data]);
      }
      const bytes = new TextEncoder().encode(JSON.stringify([request.compression, parts]));
      request.onProgress?.(request.tree.totalBytes);
      await fs.writeNew(request.dest, bytes, { mode: 0o600, sync: true });
      return { size: bytes.length, sha256: sha(bytes) };
    },
    async digest(path) {
      const bytes = await fs.readFile(path, 1 << 30);
      return { size: bytes.length, sha256: sha(bytes) };
    },
  };
}

/** An async mutex: the moves section of the one simulated process. */
export function simLock(): MovesLock {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
}

/** How the simulated collector behaves now. */
export type CollectorMode =
  | "up"
  | "down"
  | "credentials"
  | "legacy" // answers 409 without a digest, as nginx or an old collector does
  | "flaky" // some requests time out after storing, some drop mid-body, some ask to wait
  | "clock";

/** One request the collector saw. */
export interface Request {
  at: number;
  process: number;
  id: string;
  sha256: string;
  /** The instance token read from the body, or null for a damaged body. */
  instance: string | null;
  /** The digest the parcel claimed. */
  claimed: string;
  mode: CollectorMode;
  answer: Answer["class"];
}

/** What the collector holds for an episode id. */
export interface Stored {
  sha256: string;
  instance: string;
  /** The episode's files as stored (the serialization without its compression name). */
  content: string;
}

/** The simulated collector, with what it stored and every request it saw. */
export interface SimCollector extends Receiver {
  mode: CollectorMode;
  stored: Map<string, Stored>;
  requests: Request[];
  /** The simulated process now sending (changes at each restart). */
  process: number;
  /** Instances the collector refuses for good (a commit not on its allow-list). */
  refuses: Set<string>;
  /** The secret a refusal echoes back, to test that it is scrubbed. */
  secret: string;
  /** Called at every send, before the answer, to check invariants that hold at that instant. */
  onSend?: (request: Omit<Request, "answer">, started: number) => void;
  /** Called when a send begins; returns a sequence number for its start. */
  onStart?: () => number;
  /** Called with each answer as it is given. */
  onAnswer?: (request: Omit<Request, "answer"> | null, answer: Answer) => void;
}

/** The files of a serialized episode, without the compression it was packed with. */
export function contentOf(bytes: Uint8Array): string {
  try {
    return JSON.stringify((JSON.parse(new TextDecoder().decode(bytes)) as [string, unknown])[1]);
  } catch {
    return "";
  }
}

/** The instance token inside a serialized episode, or null. */
export function instanceOf(bytes: Uint8Array): string | null {
  try {
    const [, parts] = JSON.parse(new TextDecoder().decode(bytes)) as [
      string,
      [string, string, string | null][],
    ];
    const token = parts.find(([p]) => p.endsWith("/token"));
    return token?.[2] ?? null;
  } catch {
    return null;
  }
}

/** Makes the collector. */
export function simCollector(
  fs: SimFs,
  options: { now: () => number; random: () => number; secret: string },
): SimCollector {
  const collector: SimCollector = {
    describe: "sim-collector",
    mode: "up",
    stored: new Map(),
    requests: [],
    process: 0,
    refuses: new Set(),
    secret: options.secret,
    send(parcel: Parcel, sendOptions: SendOptions = {}): Promise<Answer> {
      // The answer is "known" to the shipper when its await resumes: onAnswer runs just
      // before, in the continuation of this very promise.
      if (sendOptions.signal?.aborted) return Promise.resolve({ class: "aborted" });
      // A dead process sends nothing.
      if (fs.dead) return Promise.reject(new Crash());
      // The request starts now; reading the body takes a turn of the event loop.
      const started = collector.onStart?.() ?? 0;
      return exchange(parcel, started).then(({ request, answer }) => {
        collector.onAnswer?.(request, answer);
        return answer;
      }, (error) => {
        // The process died mid-request: it is in flight no more.
        collector.onAnswer?.(null, { class: "aborted" });
        throw error;
      });
    },
    discard() {
      return Promise.resolve();
    },
    close() {},
  };
  async function exchange(
    parcel: Parcel,
    started: number,
  ): Promise<{ request: Omit<Request, "answer"> | null; answer: Answer }> {
    const bytes = await fs.readFile(parcel.path, 1 << 30);
    const sha256 = sha(bytes);
    const instance = sha256 === parcel.sha256 ? instanceOf(bytes) : null;
    const request = {
      at: options.now(),
      process: collector.process,
      id: parcel.episodeId,
      sha256,
      claimed: parcel.sha256,
      instance,
      mode: collector.mode,
    };
    collector.onSend?.(request, started);
    const answer = answerFor(
      collector,
      parcel,
      { sha256, instance, content: contentOf(bytes) },
      options.random,
    );
    if (fs.dead) throw new Crash();
    collector.requests.push({ ...request, answer: answer.class });
    return { request, answer };
  }
  return collector;
}

function answerFor(
  c: SimCollector,
  parcel: Parcel,
  body: { sha256: string; instance: string | null; content: string },
  random: () => number,
): Answer {
  const { instance } = body;
  const transient = (said: string, retryAfterMs: number | null = null): Answer => ({
    class: "transient",
    status: 503,
    said,
    retryAfterMs,
  });
  switch (c.mode) {
    case "down":
      return { class: "transient", status: 0, said: "connection refused", retryAfterMs: null };
    case "credentials":
      return {
        class: "credentials",
        status: 403,
        said: "HTTP 403 Forbidden",
        cause: "the collector refused this host's credentials",
      };
    case "clock":
      return {
        class: "clock",
        status: 403,
        said: "HTTP 403 Forbidden: RequestTimeTooSkewed",
        cause: "this host's clock is 20 minutes off",
      };
    case "flaky": {
      const roll = random();
      if (roll < 0.2) return transient("connection reset mid-body");
      if (roll < 0.3) return transient("HTTP 429", 30_000);
      if (roll < 0.5) {
        store(c, parcel, body);
        return { class: "transient", status: 0, said: "timed out after 60 s", retryAfterMs: null };
      }
      break;
    }
  }
  if (instance === null) {
    return {
      class: "repack",
      status: 400,
      said: "HTTP 400: Content-Digest does not match the body",
    };
  }
  const have = c.stored.get(parcel.episodeId);
  if (have) {
    return { class: "duplicate", status: 409, digest: c.mode === "legacy" ? null : have.sha256 };
  }
  if (c.refuses.has(instance)) {
    return {
      class: "refused",
      status: 412,
      said: `HTTP 412 Precondition Failed: commit not allowed (token ${c.secret})`,
      body: `commit not allowed; your authorization was Bearer ${c.secret}`,
    };
  }
  store(c, parcel, body);
  return { class: "stored", status: 201 };
}

function store(
  c: SimCollector,
  parcel: Parcel,
  body: { sha256: string; instance: string | null; content: string },
): void {
  const { instance } = body;
  if (instance === null || c.stored.has(parcel.episodeId) || c.refuses.has(instance)) return;
  c.stored.set(parcel.episodeId, { sha256: body.sha256, instance, content: body.content });
}
