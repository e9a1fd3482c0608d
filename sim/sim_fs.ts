/**
 * An in-memory file system for the queue simulator, implementing the queue's `Fs`. It can fail
 * any operation (ENOSPC, EIO, EACCES, EXDEV), crash the process at any operation, and on a power
 * loss drop everything that was not made durable.
 *
 * Durability model (as ext4 and xfs behave: one metadata journal, committed in order): a file's
 * bytes are durable once it was fsynced (or written with `sync`); the names in every directory
 * (creates, renames, removes) are durable up to the last fsync of anything, because an fsync
 * commits the whole journal, in order. A producer's writes are durable at once (its own fsyncs
 * are not the shipper's business). A power loss brings back the tree of the last commit, each
 * file holding its durable bytes (a file never fsynced is empty: delayed allocation).
 */
import { basename, dirname } from "node:path";
import type { DirEntry, FileStat, Fs, WriteNewOptions } from "../src/fs/fs.ts";

/** Thrown by every operation once the simulated process has crashed. */
export class Crash extends Error {
  constructor() {
    super("simulated crash");
    this.name = "Crash";
  }
}

/** A POSIX error with its code, as Deno's file errors carry one. */
export class SimFsError extends Error {
  constructor(readonly code: string, op: string, path: string) {
    super(`${code}: ${op} "${path}"`);
    this.name = "SimFsError";
  }
}

interface FileNode {
  kind: "file";
  ino: number;
  data: Uint8Array;
  durable: Uint8Array | null;
  mode: number;
  mtime: number;
  ctime: number;
}
interface DirNode {
  kind: "dir";
  ino: number;
  entries: Map<string, Node>;
  mode: number;
  mtime: number;
  ctime: number;
}
interface LinkNode {
  kind: "symlink";
  ino: number;
  target: string;
  mtime: number;
  ctime: number;
}
type Node = FileNode | DirNode | LinkNode;

/** What a fault plan does at one operation. */
export type Fault =
  | { kind: "fail"; code: "ENOSPC" | "EIO" | "EACCES" | "EXDEV" }
  | { kind: "crash"; powerLoss: boolean; applied: boolean };

/** The mutating and syncing operations, which faults and crashes may hit. */
const FAULTABLE = new Set([
  "writeNew",
  "rename",
  "remove",
  "mkdir",
  "syncDir",
  "syncFile",
  "chmod",
]);

/** A simulated file system. */
export class SimFs implements Fs {
  #root: DirNode;
  /**
   * What changed in the directories since the last journal commit, oldest first: a power loss
   * undoes it in reverse (cheaper than copying the tree at every fsync).
   */
  #undo: { dir: DirNode; name: string; prev: Node | undefined }[] = [];
  /** Split paths, by path: the same few paths are looked up again and again. */
  #split = new Map<string, string[]>();
  /** Directory nodes by path, for lookups; cleared when any directory is added, moved or removed. */
  #dirs = new Map<string, DirNode>();
  #ino = 1;
  /** Faultable operations performed by the shipper so far (crash and fault points count these). */
  ops = 0;
  /** Set once the simulated process crashed: every operation throws {@linkcode Crash}. */
  dead = false;
  /** Planned faults, by operation number. */
  faults = new Map<number, Fault>();
  /** Run before the operation with that number (a producer acting mid-pass). */
  hooks = new Map<number, () => void>();
  /** What happened, for a failing history's report. */
  trace: string[] = [];
  /** The clock files are stamped with. */
  now: () => number;
  /** Told after a power loss. */
  onPowerLoss?: () => void;
  /** Paths of files the shipper wrote or renamed into place since the last look. */
  written = new Set<string>();
  /** Told when the journal commits (every name is durable from then on). */
  onCommit?: () => void;
  /** Told of every rename the shipper makes, with the file's bytes. */
  onRenamed?: (from: string, to: string, bytes: Uint8Array | null) => void;

  constructor(now: () => number) {
    this.now = now;
    this.#root = this.#dir(0o755);
  }

  #dir(mode: number): DirNode {
    const t = this.now();
    return { kind: "dir", ino: this.#ino++, entries: new Map(), mode, mtime: t, ctime: t };
  }

  /** Sets or deletes a directory entry, remembering how to undo it. */
  #put(dir: DirNode, name: string, node: Node | undefined): void {
    const prev = dir.entries.get(name);
    if (node?.kind === "dir" || prev?.kind === "dir") this.#dirs.clear();
    this.#undo.push({ dir, name, prev });
    if (node === undefined) dir.entries.delete(name);
    else dir.entries.set(name, node);
  }

  // ---- paths ----

  #parts(path: string): string[] {
    let parts = this.#split.get(path);
    if (!parts) {
      parts = path.split("/").filter((p) => p !== "" && p !== ".");
      if (this.#split.size > 10_000) this.#split.clear();
      this.#split.set(path, parts);
    }
    return parts;
  }

  #lookup(root: DirNode, path: string): Node | null {
    // Lookups are most of the simulator's work, and most go to a few folders: their nodes are
    // cached until a directory is created, moved or removed.
    const slash = path.lastIndexOf("/");
    if (slash > 0 && slash < path.length - 1 && !path.includes("/.") && !path.includes("//")) {
      const parentPath = path.slice(0, slash);
      let parent = this.#dirs.get(parentPath);
      if (parent === undefined) {
        const found = this.#walk(root, parentPath);
        if (found?.kind !== "dir") return null;
        this.#dirs.set(parentPath, found);
        parent = found;
      }
      return parent.entries.get(path.slice(slash + 1)) ?? null;
    }
    return this.#walk(root, path);
  }

  #walk(root: DirNode, path: string): Node | null {
    // Walks the path without splitting it.
    let node: Node = root;
    const n = path.length;
    let i = 0;
    while (i < n) {
      while (i < n && path.charCodeAt(i) === 47) i++;
      if (i >= n) break;
      let j = path.indexOf("/", i);
      if (j < 0) j = n;
      const part = path.slice(i, j);
      i = j;
      if (part === ".") continue;
      if (node.kind !== "dir") return null;
      const next: Node | undefined = node.entries.get(part);
      if (!next) return null;
      node = next;
    }
    return node;
  }

  #parent(root: DirNode, path: string, op: string): { dir: DirNode; name: string } {
    const parent = this.#lookup(root, dirname(path));
    if (!parent) throw new SimFsError("ENOENT", op, path);
    if (parent.kind !== "dir") throw new SimFsError("ENOTDIR", op, path);
    return { dir: parent, name: basename(path) };
  }

  // ---- faults ----

  #enter(op: string, path: string): Fault | undefined {
    if (this.dead) throw new Crash();
    if (!FAULTABLE.has(op)) return undefined;
    const n = ++this.ops;
    this.hooks.get(n)?.();
    const fault = this.faults.get(n);
    if (!fault) return undefined;
    this.trace.push(`op ${n} ${op} ${path}: ${fault.kind === "fail" ? fault.code : "crash"}`);
    if (fault.kind === "fail") throw new SimFsError(fault.code, op, path);
    if (!fault.applied) this.crash(fault.powerLoss);
    return fault;
  }

  /** Runs an operation; a crash fault "after" lets it apply, then kills the process. */
  #run<T>(op: string, path: string, apply: () => T): T {
    const fault = this.#enter(op, path);
    const result = apply();
    if (fault?.kind === "crash") {
      this.crash(fault.powerLoss);
      throw new Crash();
    }
    return result;
  }

  /** Kills the process now; with `powerLoss`, what was not durable is lost. */
  crash(powerLoss: boolean): void {
    if (this.dead) return;
    this.dead = true;
    if (powerLoss) this.powerLoss();
    throw new Crash();
  }

  /** Drops everything not durable (the process is dead already or about to be restarted). */
  powerLoss(): void {
    this.#dirs.clear();
    for (let i = this.#undo.length - 1; i >= 0; i--) {
      const { dir, name, prev } = this.#undo[i]!;
      if (prev === undefined) dir.entries.delete(name);
      else dir.entries.set(name, prev);
    }
    this.#undo = [];
    const materialize = (dir: DirNode) => {
      for (const [name, node] of dir.entries) {
        if (node.kind === "dir") materialize(node);
        else if (node.kind === "file" && node.data !== node.durable) {
          const bytes = node.durable ?? new Uint8Array(0);
          dir.entries.set(name, { ...node, data: bytes, durable: bytes });
        }
      }
    };
    materialize(this.#root);
    this.onPowerLoss?.();
  }

  /** Commits the journal: every name as it is now is durable. */
  #commit(): void {
    this.#undo = [];
    this.onCommit?.();
  }

  /** A new process on the same disk: alive again, operation counts and faults cleared. */
  restart(): void {
    this.dead = false;
    this.faults.clear();
    this.hooks.clear();
  }

  // ---- the producer's side: immediately durable, never faulted ----

  /** Creates or replaces a file as a producer (durable at once). */
  produceFile(path: string, data: Uint8Array | string, mtime = this.now()): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.produceDir(dirname(path));
    const { dir, name } = this.#parent(this.#root, path, "produce");
    const node: FileNode = {
      kind: "file",
      ino: this.#ino++,
      data: bytes,
      durable: bytes,
      mode: 0o644,
      mtime,
      ctime: mtime,
    };
    this.#put(dir, name, node);
    this.#producerTouched(path, node);
  }

  /** Creates a directory and its parents as a producer (durable at once). */
  produceDir(path: string, mode = 0o755): void {
    let node: DirNode = this.#root;
    let sofar = "";
    for (const part of this.#parts(path)) {
      sofar += "/" + part;
      let next = node.entries.get(part);
      if (!next) {
        next = this.#dir(mode);
        this.#put(node, part, next);
        this.#producerTouched(sofar, next);
      }
      if (next.kind !== "dir") throw new SimFsError("ENOTDIR", "produce", path);
      node = next;
    }
  }

  /** Replaces a path with a symlink as a producer (durable at once). */
  produceSymlink(path: string, target: string): void {
    const { dir, name } = this.#parent(this.#root, path, "produce");
    const t = this.now();
    const node: LinkNode = { kind: "symlink", ino: this.#ino++, target, mtime: t, ctime: t };
    this.#put(dir, name, node);
    this.#producerTouched(path, node);
  }

  /** Removes a path as a producer or an operator (durable at once). */
  produceRemove(path: string): void {
    const { dir, name } = this.#parent(this.#root, path, "produce");
    this.#put(dir, name, undefined);
    this.#producerTouched(path, null);
  }

  /** Renames as an operator would with `mv` (durable at once). */
  produceRename(from: string, to: string): boolean {
    const src = this.#parent(this.#root, from, "produce");
    const node = src.dir.entries.get(src.name);
    const dst = this.#parent(this.#root, to, "produce");
    if (!node || dst.dir.entries.has(dst.name)) return false;
    this.#put(src.dir, src.name, undefined);
    this.#put(dst.dir, dst.name, node);
    this.#commit();
    return true;
  }

  #producerTouched(_path: string, node: Node | null): void {
    if (node?.kind === "file") node.durable = node.data;
    this.#commit();
  }

  // ---- reading the tree (checks) ----

  /** The node kind at a path, or null. */
  kindOf(path: string): "file" | "dir" | "symlink" | null {
    return this.#lookup(this.#root, path)?.kind ?? null;
  }

  /** Names in a directory, sorted; [] when it is missing. */
  list(path: string): string[] {
    const node = this.#lookup(this.#root, path);
    return node?.kind === "dir" ? [...node.entries.keys()].sort() : [];
  }

  /** A file's bytes, or null. */
  bytes(path: string): Uint8Array | null {
    const node = this.#lookup(this.#root, path);
    return node?.kind === "file" ? node.data : null;
  }

  /** Every file under a path, with its bytes. */
  *files(path = "/"): Generator<[string, Uint8Array]> {
    const node = this.#lookup(this.#root, path);
    if (!node) return;
    if (node.kind === "file") {
      yield [path, node.data];
      return;
    }
    if (node.kind !== "dir") return;
    for (const name of node.entries.keys()) {
      yield* this.files(`${path === "/" ? "" : path}/${name}`);
    }
  }

  // ---- Fs ----

  readDir(path: string): Promise<DirEntry[]> {
    if (this.dead) return Promise.reject(new Crash());
    const node = this.#lookup(this.#root, path);
    if (!node) return Promise.reject(new SimFsError("ENOENT", "readDir", path));
    if (node.kind !== "dir") return Promise.reject(new SimFsError("ENOTDIR", "readDir", path));
    return Promise.resolve(
      [...node.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, n]) => ({
        name,
        isFile: n.kind === "file",
        isDirectory: n.kind === "dir",
        isSymlink: n.kind === "symlink",
      })),
    );
  }

  lstat(path: string): Promise<FileStat | null> {
    if (this.dead) return Promise.reject(new Crash());
    const node = this.#lookup(this.#root, path);
    if (!node) return Promise.resolve(null);
    return Promise.resolve({
      isFile: node.kind === "file",
      isDirectory: node.kind === "dir",
      isSymlink: node.kind === "symlink",
      size: node.kind === "file" ? node.data.length : 0,
      mtime: node.mtime,
      ctime: node.ctime,
      ino: node.ino,
    });
  }

  readFile(path: string, limit: number): Promise<Uint8Array> {
    if (this.dead) return Promise.reject(new Crash());
    const node = this.#lookup(this.#root, path);
    if (!node) return Promise.reject(new SimFsError("ENOENT", "readFile", path));
    if (node.kind !== "file") return Promise.reject(new TypeError(`Cannot read "${path}"`));
    if (node.data.length > limit) return Promise.reject(new RangeError(`"${path}" too large`));
    return Promise.resolve(node.data);
  }

  writeNew(path: string, data: Uint8Array, options: WriteNewOptions): Promise<void> {
    return this.#async(() =>
      this.#run("writeNew", path, () => {
        const { dir, name } = this.#parent(this.#root, path, "writeNew");
        if (dir.entries.has(name)) throw new SimFsError("EEXIST", "writeNew", path);
        const t = this.now();
        const bytes = data.slice();
        const node: FileNode = {
          kind: "file",
          ino: this.#ino++,
          data: bytes,
          durable: options.sync ? bytes : null,
          mode: options.mode,
          mtime: t,
          ctime: t,
        };
        this.#put(dir, name, node);
        this.written.add(path);
        dir.mtime = t;
        // fsync of a new file commits the journal, its name included.
        if (options.sync) this.#commit();
      })
    );
  }

  rename(from: string, to: string): Promise<void> {
    return this.#async(() =>
      this.#run("rename", from, () => {
        const src = this.#parent(this.#root, from, "rename");
        const node = src.dir.entries.get(src.name);
        if (!node) throw new SimFsError("ENOENT", "rename", from);
        const dst = this.#parent(this.#root, to, "rename");
        const there = dst.dir.entries.get(dst.name);
        if (node.kind === "dir") {
          if (`${to}/`.startsWith(`${from}/`)) throw new SimFsError("EINVAL", "rename", to);
          if (there && there.kind !== "dir") throw new SimFsError("ENOTDIR", "rename", to);
          if (there?.kind === "dir" && there.entries.size > 0) {
            throw new SimFsError("ENOTEMPTY", "rename", to);
          }
        } else if (there?.kind === "dir") {
          throw new SimFsError("EISDIR", "rename", to);
        }
        this.#put(src.dir, src.name, undefined);
        this.#put(dst.dir, dst.name, node);
        if (node.kind === "file") this.written.add(to);
        node.ctime = this.now();
        this.onRenamed?.(from, to, node.kind === "file" ? node.data : null);
      })
    );
  }

  remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    return this.#async(() =>
      this.#run("remove", path, () => {
        const { dir, name } = this.#parent(this.#root, path, "remove");
        const node = dir.entries.get(name);
        if (!node) throw new SimFsError("ENOENT", "remove", path);
        if (node.kind === "dir" && node.entries.size > 0 && !options?.recursive) {
          throw new SimFsError("ENOTEMPTY", "remove", path);
        }
        this.#put(dir, name, undefined);
      })
    );
  }

  mkdir(path: string, options: { recursive: boolean; mode: number }): Promise<void> {
    return this.#async(() =>
      this.#run("mkdir", path, () => {
        const parts = this.#parts(path);
        let node: DirNode = this.#root;
        let sofar = "";
        for (let i = 0; i < parts.length; i++) {
          const part = parts[i]!;
          sofar += "/" + part;
          const next = node.entries.get(part);
          const last = i === parts.length - 1;
          if (next) {
            if (next.kind !== "dir") throw new SimFsError("EEXIST", "mkdir", sofar);
            if (last && !options.recursive) throw new SimFsError("EEXIST", "mkdir", path);
            node = next;
            continue;
          }
          if (!last && !options.recursive) throw new SimFsError("ENOENT", "mkdir", path);
          const created = this.#dir(options.mode);
          this.#put(node, part, created);
          node = created;
        }
      })
    );
  }

  syncDir(path: string): Promise<void> {
    return this.#async(() =>
      this.#run("syncDir", path, () => {
        const node = this.#lookup(this.#root, path);
        if (!node) throw new SimFsError("ENOENT", "syncDir", path);
        this.#commit();
      })
    );
  }

  syncFile(path: string): Promise<void> {
    return this.#async(() =>
      this.#run("syncFile", path, () => {
        const node = this.#lookup(this.#root, path);
        if (!node) throw new SimFsError("ENOENT", "syncFile", path);
        if (node.kind === "file") node.durable = node.data;
        this.#commit();
      })
    );
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.#async(() =>
      this.#run("chmod", path, () => {
        const node = this.#lookup(this.#root, path);
        if (!node) throw new SimFsError("ENOENT", "chmod", path);
        if (node.kind !== "symlink") node.mode = mode;
      })
    );
  }

  #async(fn: () => void): Promise<void> {
    try {
      fn();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
