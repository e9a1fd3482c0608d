/**
 * The one owner of `outbox/`: every state write and delete, every tarball commit and removal, and
 * the recovery of what a crash left there. Each transition has one durability, written in
 * {@linkcode DURABILITY}; nothing else in the queue touches `outbox/` (invariant 7 in `mod.ts`).
 *
 * It keeps the last state it wrote or read for each episode in memory (held by the service from
 * pass to pass), so a state the disk refused to record still governs this process: an answered
 * episode is never sent again even when its verdict could not be written (invariant 2).
 */
import { join } from "node:path";
import { type Durability, TEMP_SUFFIX, tempPathFor, writeFileAtomic } from "../fs/atomic.ts";
import { type Fs, isNotFound } from "../fs/fs.ts";
import { HASHED_STATE_PREFIX, type Layout, REASON_FILE, STATE_SUFFIX } from "../layout.ts";
import { type Compression, COMPRESSION_FORMAT, COMPRESSIONS } from "../protocol/protocol.ts";
import { type EpisodeState, formatState, type PackedState, parseState } from "./state.ts";
import { quarantineReason } from "./reason.ts";
import { DONE_MARKER } from "../episodes/scan.ts";

/** The state changes the outbox records. */
export type Transition =
  | "packed"
  | "answered"
  | "intent"
  | "dest"
  | "retry"
  | "repack"
  | "local"
  | "resume";

/**
 * How durable each transition is. `full` survives a power loss; `process` survives kill -9 only
 * (a power loss that drops it repeats a step whose repetition is harmless); `file` is fsynced
 * with its directory synced once by {@linkcode Outbox.commitPacked}.
 */
export const DURABILITY: Readonly<Record<Transition, Durability>> = {
  // The tarball and its state are synced together before the first byte is sent.
  packed: "file",
  // Invariant 2: a recorded answer survives a power loss, or the episode could be sent twice.
  answered: "full",
  // Invariant 3: the decision to quarantine, and where to, outlive the rename they precede.
  intent: "full",
  dest: "full",
  // Lost on a power loss: an attempt is repeated sooner, which the receiver answers the same.
  retry: "process",
  repack: "process",
  local: "process",
  // A multipart upload resumes only from progress the disk really holds.
  resume: "full",
};

/**
 * The durability of writing `state` in `transition`: a state that carries an answer, a
 * quarantine decision, a resume point or the description of a tarball that may have been sent
 * is always written `full`, whatever changed — a lighter rewrite (a failed attempt noted on a
 * packed episode) would replace a durable record with one a power loss can empty, and the
 * episode would be packed again, perhaps in another format than the receiver already holds.
 */
export function durabilityOf(transition: Transition, state: EpisodeState): Durability {
  const precious = state.verdict !== undefined || state.intent !== undefined ||
    state.resume !== undefined || (state.packed !== null && transition !== "packed");
  return precious ? "full" : DURABILITY[transition];
}

/** The most a state file may hold: states are small; a larger file is not ours. */
const MAX_STATE_BYTES = 1024 * 1024;

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  fs: Fs;
  /** States kept between passes (the service's memory). @default {a new map} */
  memory?: Map<string, EpisodeState>;
}

/** What {@linkcode Outbox.recover} did. */
export interface Recovered {
  /** Files removed: partial writes, leftovers of episodes that left `episodes/`. */
  removed: string[];
  /** Quarantines whose reason file was written after a crash cut them short. */
  finished: { id: string; dest: string }[];
}

function idOf(name: string): { id: string; kind: "state" | "tarball" } | null {
  if (name.endsWith(STATE_SUFFIX)) {
    return { id: name.slice(0, -STATE_SUFFIX.length), kind: "state" };
  }
  for (const c of COMPRESSIONS) {
    const ext = COMPRESSION_FORMAT[c].extension;
    if (name.endsWith(ext)) return { id: name.slice(0, -ext.length), kind: "tarball" };
  }
  return null;
}

/** The owner of `outbox/`. */
export class Outbox {
  readonly #fs: Fs;
  readonly #states: Map<string, EpisodeState>;
  /** The episode directory each id was last claimed for. */
  readonly #keys = new Map<string, string>();

  constructor(readonly layout: Layout, options: OutboxOptions) {
    this.#fs = options.fs;
    this.#states = options.memory ?? new Map();
  }

  /**
   * The state of an episode: the one this process last wrote, else the disk's; null when there
   * is none (or the file is not a state this version can use).
   * @throws on a read error other than a missing file: an unreadable state must not look absent
   */
  async read(id: string): Promise<EpisodeState | null> {
    const known = this.#states.get(id);
    if (known) return known;
    let bytes: Uint8Array;
    try {
      bytes = await this.#fs.readFile(this.layout.statePath(id), MAX_STATE_BYTES);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    const state = parseState(new TextDecoder().decode(bytes));
    if (state === null || state.episode_id !== id) return null;
    this.#states.set(id, state);
    return state;
  }

  /**
   * The state of the episode directory `key` names (see `EpisodeState.episode_key`): a state
   * left by an earlier episode under the same id is removed, never applied to this one; so is
   * a quarantine decision for an episode already quarantined and put back by hand
   * (`putBack`). States this process writes for the id from now on carry `key`.
   */
  async claim(
    id: string,
    key: string | null,
    putBack: boolean,
  ): Promise<{ state: EpisodeState | null; discarded: EpisodeState | null }> {
    if (key !== null) this.#keys.set(id, key);
    const state = await this.read(id);
    const foreign = state?.episode_key !== undefined && key !== null && state.episode_key !== key;
    if (state === null || !(foreign || (putBack && state.intent))) {
      return { state, discarded: null };
    }
    this.#states.delete(id);
    await this.dropTarballs(id);
    await this.#fs.remove(this.layout.statePath(id)).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
    return { state: null, discarded: state };
  }

  /** Records a new state with its transition's durability. Memory first: see the module doc. */
  async write(transition: Transition, given: EpisodeState): Promise<void> {
    const key = this.#keys.get(given.episode_id);
    const state = key !== undefined && given.episode_key === undefined
      ? { ...given, episode_key: key }
      : given;
    this.#states.set(state.episode_id, state);
    await writeFileAtomic(this.layout.statePath(state.episode_id), formatState(state), {
      durability: durabilityOf(transition, state),
      fs: this.#fs,
    });
  }

  /** Whether the tarball `state` describes is in `outbox/`, whole. */
  async tarballWhole(state: PackedState): Promise<boolean> {
    const info = await this.#fs.lstat(this.tarballPath(state));
    return info?.isFile === true && info.size === state.packed.size;
  }

  /** The tarball a packed state describes. */
  tarballPath(state: PackedState): string {
    return this.layout.tarballPath(state.episode_id, state.packed.compression);
  }

  /** A fresh temporary name for a tarball being packed (removed by recovery if left behind). */
  tempTarballPath(id: string, compression: Compression): string {
    return tempPathFor(this.layout.tarballPath(id, compression));
  }

  /**
   * Commits a packed tarball: its state first, then the tarball renamed into place, then one
   * sync of `outbox/` for both; a tarball in `outbox/` always has the state that describes it.
   */
  async commitPacked(state: PackedState, tempPath: string): Promise<void> {
    await this.write("packed", state);
    await this.#fs.rename(tempPath, this.tarballPath(state));
    await this.#fs.syncDir(this.layout.outbox);
  }

  /**
   * Removes an episode's tarball, keeping its state: the one its known state describes (a
   * tarball of another format has no state and goes with recovery), or every format when no
   * state is known.
   */
  async dropTarballs(id: string): Promise<void> {
    const known = this.#states.get(id)?.packed?.compression;
    for (const compression of known ? [known] : COMPRESSIONS) {
      await this.#fs.remove(this.layout.tarballPath(id, compression)).catch((error) => {
        if (!isNotFound(error)) throw error;
      });
    }
  }

  /** Removes a temporary tarball a failed or aborted pack left. */
  async dropTemp(path: string): Promise<void> {
    await this.#fs.remove(path).catch(() => {});
  }

  /**
   * Forgets episodes whose moves are durable: their states go (their tarballs went before the
   * move), then one sync of `outbox/`. Call only after the directories the moves touched are
   * synced.
   */
  async finish(ids: Iterable<string>): Promise<void> {
    let any = false;
    for (const id of ids) {
      any = true;
      this.#states.delete(id);
      await this.#fs.remove(this.layout.statePath(id)).catch((error) => {
        if (!isNotFound(error)) throw error;
      });
    }
    if (any) await this.#fs.syncDir(this.layout.outbox);
  }

  /** Drops from memory what is known about episodes no longer in `episodes/`. */
  forgetAllBut(present: ReadonlySet<string>): void {
    for (const id of this.#states.keys()) if (!present.has(id)) this.#states.delete(id);
  }

  /** Drops from memory what is known about one episode (it was moved away by someone else). */
  forget(id: string): void {
    this.#states.delete(id);
  }

  /**
   * Makes `outbox/` consistent after a crash, once, at the start of a pass: partial writes go;
   * so do the files of episodes no longer in `episodes/` (shipped or quarantined just before the
   * crash, or moved by an operator), after a quarantine the crash cut short gets its reason file
   * (invariant 3); tarballs without a state go (packed again on demand). Files it does not know
   * are left alone.
   */
  async recover(hostId: string): Promise<Recovered> {
    const fs = this.#fs;
    const result: Recovered = { removed: [], finished: [] };
    const names = (await fs.readDir(this.layout.outbox)).map((e) => e.name);
    const states = new Set(names.map(idOf).filter((x) => x?.kind === "state").map((x) => x!.id));
    const present = new Map<string, boolean>();
    const inEpisodes = async (id: string) => {
      if (!present.has(id)) {
        const info = await fs.lstat(join(this.layout.episodes, id)).catch(() => null);
        present.set(id, info?.isDirectory === true);
      }
      return present.get(id)!;
    };
    for (const name of names) {
      let parsed = idOf(name);
      if (parsed?.kind === "state" && name.startsWith(HASHED_STATE_PREFIX)) {
        // The id of a hashed state is inside it; unreadable, it is as good as stale.
        const id = await this.#idInside(name);
        parsed = id === null ? null : { id, kind: "state" };
        if (id === null) {
          await fs.remove(join(this.layout.outbox, name), { recursive: true });
          result.removed.push(name);
          continue;
        }
      }
      let stale = name.endsWith(TEMP_SUFFIX);
      if (!stale && parsed !== null) {
        const present = await inEpisodes(parsed.id);
        stale = !present || (parsed.kind === "tarball" && !states.has(parsed.id));
        if (!stale && parsed.kind === "tarball") {
          // A tarball of another format than its state describes: left by a state that was
          // lost and repacked; the state's own tarball is the one that may be sent.
          const state = await this.read(parsed.id).catch(() => null);
          const own = state?.packed ? this.tarballPath(state as PackedState) : null;
          stale = own !== null && own !== join(this.layout.outbox, name);
        }
        if (parsed.kind === "state") {
          // A quarantine whose rename happened is finished here, even when a new episode
          // has since taken the id in episodes/ (invariant 3).
          const finished = await this.#finishMovedQuarantine(parsed.id, hostId, present);
          if (finished) result.finished.push({ id: parsed.id, dest: finished });
          if (finished) stale = true;
        }
      }
      if (stale) {
        this.#states.delete(parsed?.id ?? "");
        await fs.remove(join(this.layout.outbox, name), { recursive: true });
        result.removed.push(name);
      }
    }
    // Always: what a crashed process left here (a state, a tarball) may be in the page cache
    // only. It is about to be trusted, perhaps sent; a power loss must not take it back after
    // that, or the episode would be packed again in what may be another format (invariant 7).
    await fs.syncDir(this.layout.outbox);
    return result;
  }

  async #idInside(name: string): Promise<string | null> {
    try {
      const bytes = await this.#fs.readFile(join(this.layout.outbox, name), MAX_STATE_BYTES);
      return parseState(new TextDecoder().decode(bytes))?.episode_id ?? null;
    } catch {
      return null;
    }
  }

  /**
   * An intent whose rename happened before a crash: writes the reason file if it is missing.
   * The directory at the recorded name must be this episode's (same key), or — for a state of
   * 0.2 without a key — the id must have left `episodes/`.
   */
  async #finishMovedQuarantine(
    id: string,
    hostId: string,
    idInEpisodes: boolean,
  ): Promise<string | null> {
    const state = await this.read(id).catch(() => null);
    const intent = state?.intent;
    if (!intent?.dest) return null;
    const dest = join(this.layout.quarantine, intent.dest);
    if (!(await this.#fs.lstat(dest))?.isDirectory) return null;
    const ours = state?.episode_key !== undefined
      ? (await episodeKeyOf(this.#fs, dest)) === state.episode_key
      : !idInEpisodes;
    if (!ours) return null;
    const reasonPath = join(dest, REASON_FILE);
    if (await this.#fs.lstat(reasonPath)) return intent.dest;
    await writeQuarantineReason(this.#fs, this.layout, reasonPath, {
      episodeId: id,
      hostId,
      intent,
    });
    return intent.dest;
  }
}

/**
 * Which episode directory this is: its inode, its marker's inode and time (the marker is not
 * rewritten by a move, so the key survives one); null when either is missing.
 */
export async function episodeKeyOf(fs: Fs, dir: string): Promise<string | null> {
  const d = await fs.lstat(dir);
  const m = d ? await fs.lstat(join(dir, DONE_MARKER)) : null;
  if (!d || !m) return null;
  return `${d.ino}:${m.ino}:${m.mtime}`;
}

/** Writes `quarantine_reason.json` for an intent (its temporary file in `outbox/`). */
export async function writeQuarantineReason(
  fs: Fs,
  layout: Layout,
  path: string,
  input: { episodeId: string; hostId: string; intent: NonNullable<EpisodeState["intent"]> },
): Promise<void> {
  const { intent } = input;
  const record = quarantineReason({
    episodeId: input.episodeId,
    hostId: input.hostId,
    now: Date.parse(intent.at),
    source: intent.source,
    reason: intent.reason,
    commit: intent.commit,
    ...(intent.http_status !== null && { httpStatus: intent.http_status }),
    ...(intent.response_body !== null && { responseBody: intent.response_body }),
  });
  await writeFileAtomic(path, JSON.stringify(record, null, 2) + "\n", {
    tempDir: layout.outbox,
    fs,
  });
}
