/**
 * A receiver for in-process queue tests: it reads each tarball it is sent (so tests see the
 * bytes that would have travelled), keeps what it "stored" by episode id, and answers what the
 * test's script says — by default like a collector that dedupes by digest.
 */
import { createHash } from "node:crypto";
import type { Answer, Parcel, Receiver, SendOptions } from "../../src/upload/receiver.ts";
import { encodeBase64 } from "../../src/protocol/_base64.ts";

/** One send as the receiver saw it. */
export interface Sent {
  id: string;
  /** Base64 SHA-256 of the bytes actually read from the tarball. */
  sha256: string;
  /** The digest the parcel claimed. */
  claimed: string;
  size: number;
}

/** A scripted receiver and what it saw. */
export interface ScriptedReceiver extends Receiver {
  sent: Sent[];
  /** Digest stored per episode id. */
  stored: Map<string, string>;
  /** Decides the answer; the default stores once and answers 409 with the stored digest. */
  script: (sent: Sent, index: number) => Answer;
  discarded: { id: string; resume: unknown }[];
}

/** Hash of a file, as the receiver reads it. */
export async function sha256Of(path: string): Promise<string> {
  return encodeBase64(
    new Uint8Array(createHash("sha256").update(await Deno.readFile(path)).digest()),
  );
}

/** Makes a scripted receiver. */
export function scriptedReceiver(script?: ScriptedReceiver["script"]): ScriptedReceiver {
  const receiver: ScriptedReceiver = {
    describe: "scripted",
    sent: [],
    stored: new Map(),
    discarded: [],
    script: script ?? ((s) => {
      const have = receiver.stored.get(s.id);
      if (have !== undefined) return { class: "duplicate", status: 409, digest: have };
      receiver.stored.set(s.id, s.sha256);
      return { class: "stored", status: 201 };
    }),
    async send(parcel: Parcel, options: SendOptions = {}): Promise<Answer> {
      if (options.signal?.aborted) return { class: "aborted" };
      const sent: Sent = {
        id: parcel.episodeId,
        sha256: await sha256Of(parcel.path),
        claimed: parcel.sha256,
        size: parcel.size,
      };
      receiver.sent.push(sent);
      return receiver.script(sent, receiver.sent.length - 1);
    },
    discard(parcel: Parcel, resume: unknown) {
      receiver.discarded.push({ id: parcel.episodeId, resume });
      return Promise.resolve();
    },
    close() {},
  };
  return receiver;
}
