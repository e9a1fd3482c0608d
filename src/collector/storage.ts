/**
 * Atomic storage of uploads: `<store>/<host_id>/<episode_id>.<ext>` plus a JSON sidecar
 * `<episode_id>.<ext>.json`. The commit, each step durable before the next:
 *
 * 1. the body is streamed to a temporary file under `.incoming/`, fsynced, and verified (length
 *    and digest): a mismatch stores nothing;
 * 2. the sidecar is written and fsynced (file and directory) under its final name;
 * 3. the body is linked into place (`link(2)` fails when the name exists, so two racing uploads
 *    cannot both win) and the directory fsynced: only now is the episode stored.
 *
 * So a crash anywhere leaves no object without its sidecar (one that would answer 409 forever
 * without the digest it holds). A sidecar without its object is a commit stopped before step 3:
 * the episode is not stored, and its next upload rewrites it. `.incoming/` is emptied at start.
 * One collector process per store directory: two would race on a sidecar.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fsyncDir, tempPathFor, writeAll, writeJsonAtomic } from "../fs/atomic.ts";
import { encodeBase64 } from "../protocol/_base64.ts";
import { COMPRESSION_FORMAT, COMPRESSIONS } from "../protocol/protocol.ts";
import type { Admitted } from "./gate.ts";

/** Directory under the store for bodies being received. */
export const INCOMING_DIR = ".incoming";

/** What the sidecar `<episode>.<ext>.json` records. */
export interface Sidecar {
  host_id: string;
  episode_id: string;
  sha256: string;
  size: number;
  commit: string;
  content_type: string;
  received_at: string;
  client_certificate_subject: string;
}

/** The durable steps of committing an upload, in the order they happen. */
export type StoreStep = "body-durable" | "sidecar-durable" | "object-visible";

/** Result of {@linkcode storeUpload}. */
export type StoreResult =
  | { kind: "stored"; path: string }
  /** `digest`: base64 SHA-256 of what the store holds under this episode. */
  | { kind: "duplicate"; digest: string }
  | { kind: "mismatch"; detail: string };

/** Where an episode is stored. */
export function storedPath(
  storeDir: string,
  upload: Pick<Admitted, "hostId" | "episodeId" | "compression">,
): string {
  return join(
    storeDir,
    upload.hostId,
    upload.episodeId + COMPRESSION_FORMAT[upload.compression].extension,
  );
}

/** Where the store holds this episode, under any compression's extension, or null. */
export async function findStored(
  storeDir: string,
  upload: Pick<Admitted, "hostId" | "episodeId">,
): Promise<string | null> {
  for (const compression of COMPRESSIONS) {
    const path = storedPath(storeDir, { ...upload, compression });
    if ((await Deno.lstat(path).catch(() => null)) !== null) return path;
  }
  return null;
}

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Base64 SHA-256 of the stored object at `path`: from its sidecar, or, for an object stored
 * without one (by a collector before this order of commit), from its bytes.
 */
export async function storedDigest(path: string): Promise<string> {
  try {
    const sidecar = JSON.parse(await Deno.readTextFile(`${path}.json`)) as Partial<Sidecar>;
    if (typeof sidecar.sha256 === "string" && BASE64_SHA256.test(sidecar.sha256)) {
      return sidecar.sha256;
    }
  } catch { /* no readable sidecar: hash the object */ }
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return encodeBase64(new Uint8Array(hash.digest()));
}

/** Removes leftovers of uploads interrupted by a crash. */
export async function clearIncoming(storeDir: string): Promise<void> {
  await Deno.remove(join(storeDir, INCOMING_DIR), { recursive: true }).catch(() => {});
  await Deno.mkdir(join(storeDir, INCOMING_DIR), { recursive: true });
}

/**
 * Streams `body` to disk, verifies it against the admitted length and digest, and commits it.
 * @throws when the body ends early (client gone); nothing is stored then.
 */
export async function storeUpload(
  storeDir: string,
  upload: Admitted,
  body: AsyncIterable<Uint8Array>,
  meta: {
    clientSubject: string;
    now: number;
    /**
     * Called after each durable step; a throw stops the commit there, as a crash would (tests
     * check that every stop leaves a consistent store). @default {none}
     */
    checkpoint?: (step: StoreStep) => void | Promise<void>;
  },
): Promise<StoreResult> {
  const temp = tempPathFor(`${upload.hostId}.${upload.episodeId}`, join(storeDir, INCOMING_DIR));
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o640 });
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > upload.size) break;
      hash.update(chunk);
      await writeAll(file, chunk);
    }
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  file.close();
  const sha256 = encodeBase64(new Uint8Array(hash.digest()));
  const mismatch = size !== upload.size
    ? `body has ${size > upload.size ? "more than" : "only"} ${
      Math.min(size, upload.size + 1)
    } bytes, Content-Length said ${upload.size}`
    : sha256 !== upload.sha256
    ? `body SHA-256 ${sha256} does not match Content-Digest ${upload.sha256}`
    : null;
  if (mismatch) {
    await Deno.remove(temp);
    return { kind: "mismatch", detail: mismatch };
  }
  await meta.checkpoint?.("body-durable");
  const dest = storedPath(storeDir, upload);
  const hostDir = join(storeDir, upload.hostId);
  await Deno.mkdir(hostDir, { recursive: true });
  const duplicate = async (path: string): Promise<StoreResult> => {
    await Deno.remove(temp);
    return { kind: "duplicate", digest: await storedDigest(path) };
  };
  // Checked again here, where the caller's check may be stale: one episode, one stored copy.
  const existing = await findStored(storeDir, upload);
  if (existing) return await duplicate(existing);
  const sidecar: Sidecar = {
    host_id: upload.hostId,
    episode_id: upload.episodeId,
    sha256,
    size,
    commit: upload.commit,
    content_type: COMPRESSION_FORMAT[upload.compression].contentType,
    received_at: new Date(meta.now).toISOString(),
    client_certificate_subject: meta.clientSubject,
  };
  // Durable before the object is visible; its temporary file goes where a restart clears it.
  await writeJsonAtomic(`${dest}.json`, sidecar, { tempDir: join(storeDir, INCOMING_DIR) });
  await meta.checkpoint?.("sidecar-durable");
  try {
    await Deno.link(temp, dest);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return await duplicate(dest);
    await Deno.remove(temp);
    throw error;
  }
  await fsyncDir(hostDir);
  await meta.checkpoint?.("object-visible");
  await Deno.remove(temp);
  return { kind: "stored", path: dest };
}
