/**
 * Where the collector keeps accepted episodes, behind one interface the server speaks: its own
 * disk (`storage.ts`: a sidecar, then a hard link) or an S3 bucket (`s3_storage.ts`: a
 * conditional PUT), chosen by `storage.backend`. The server's gate, commit check and
 * certificate-bound host check are the same for both.
 */
import type { CollectorConfig } from "./config.ts";
import type { Admitted } from "./gate.ts";
import { S3Storage } from "./s3_storage.ts";
import { clearIncoming, findStored, storedDigest, storeUpload } from "./storage.ts";

/** What storing one upload came to. */
export type StoreOutcome =
  | { kind: "stored"; path: string }
  /** Already held; `digest`: base64 SHA-256 of what is held, null when the store cannot say. */
  | { kind: "duplicate"; digest: string | null }
  /** The body does not match the admitted length or digest: nothing stored. */
  | { kind: "mismatch"; detail: string }
  /** The store did not take it (down, throttling, its key or clock): nothing stored; a 503. */
  | { kind: "unavailable"; detail: string; retryAfterS: number | null };

/** The collector's store of episodes. */
export interface EpisodeStore {
  /** `/srv/cis490/store` or `s3://bucket/prefix at https://rgw:7480`, for the start-up line. */
  readonly describe: string;
  /** Secrets to keep out of the log (the bucket's secret access key). */
  readonly secrets: readonly string[];
  /** Gets the store ready at start (the disk store clears half-received bodies). */
  open(): Promise<void>;
  /**
   * The stored copy of this episode, under any extension, or null.
   * @throws {Error} when the store cannot say (answered 503)
   */
  find(upload: Admitted): Promise<{ digest: string | null } | null>;
  /**
   * Streams `body` into the store, verified against the admitted length and digest.
   * @throws when the body ends early (the client left); nothing is stored then
   */
  store(
    upload: Admitted,
    body: AsyncIterable<Uint8Array>,
    meta: { clientSubject: string; now: number },
  ): Promise<StoreOutcome>;
  /** Closes pooled connections. */
  close(): void;
}

/** Options for {@linkcode createEpisodeStore}. */
export interface EpisodeStoreOptions {
  /** The bucket's signing clock. @default {Date.now} */
  now?: () => number;
}

/**
 * The store `config.storage` names.
 * @example
 * ```ts
 * const store = createEpisodeStore(config);
 * await store.open();
 * ```
 */
export function createEpisodeStore(
  config: Pick<CollectorConfig, "storage">,
  options: EpisodeStoreOptions = {},
): EpisodeStore {
  const storage = config.storage;
  if (storage.backend === "s3") {
    const bucket = new S3Storage(storage.settings, { ...(options.now && { now: options.now }) });
    return {
      describe: bucket.describe,
      secrets: [storage.settings.credentials.secretAccessKey],
      open: () => Promise.resolve(),
      async find(upload) {
        const found = await bucket.findStored(upload);
        return found && { digest: found.sha256 };
      },
      async store(upload, body, meta) {
        const result = await bucket.storeUpload(upload, body, meta);
        return result.kind === "duplicate" ? { kind: "duplicate", digest: result.sha256 } : result;
      },
      close: () => bucket.close(),
    };
  }
  const dir = storage.storeDir;
  return {
    describe: dir,
    secrets: [],
    async open() {
      await Deno.mkdir(dir, { recursive: true });
      await clearIncoming(dir);
    },
    async find(upload) {
      const path = await findStored(dir, upload);
      return path === null ? null : { digest: await storedDigest(path) };
    },
    store: (upload, body, meta) => storeUpload(dir, upload, body, meta),
    close: () => {},
  };
}
