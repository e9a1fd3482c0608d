/**
 * The reference collector's protocol as a {@linkcode Receiver}: one PUT (`put.ts`) and its
 * answer sorted into the outcome table's classes (`classify.ts`).
 */
import type { Config } from "../config/config.ts";
import { describeError } from "../log/log.ts";
import { episodeRequest } from "../protocol/request.ts";
import { classifyAnswer, describeAnswer, type FailureKind, parseRetryAfter } from "./classify.ts";
import { put, type PutRequest, type PutResponse, UploadError } from "./put.ts";
import type { Answer, Parcel, Receiver, SendOptions } from "./receiver.ts";
import { createTransport, type Transport } from "./transport.ts";
import { scrubSecrets } from "./scrub.ts";

/** Options for {@linkcode putReceiver}. */
export interface PutReceiverOptions {
  /** The HTTP client. @default {put} */
  put?: (request: PutRequest) => Promise<PutResponse>;
  /** Connection pool and bandwidth cap. @default {one made from the config} */
  transport?: Transport;
  /** @default {Date.now} */
  now?: () => number;
}

/** What an HTTP answer (or the failure to get one) means, in the outcome table's classes. */
export function answerOf(
  result: PutResponse | { error: string; kind?: FailureKind },
  ctx: { now: number; secrets?: readonly string[] },
): Answer {
  const now = ctx.now;
  const scrub = (text: string) => scrubSecrets(text, ctx.secrets ?? []);
  if ("error" in result) {
    if (result.kind === "aborted") return { class: "aborted" };
    const said = scrub(result.error);
    if (result.kind === "credentials") {
      return { class: "credentials", status: 0, said, cause: said };
    }
    return { class: "transient", status: 0, said, retryAfterMs: null };
  }
  const { status } = result;
  // Scrubbed before anything is cut short: a secret cut by "…" would no longer match.
  const body = scrub(result.body);
  const said = describeAnswer(status, body);
  const { class: cls, cause } = classifyAnswer(result);
  switch (cls) {
    case "stored":
      return { class: "stored", status };
    case "duplicate":
      return { class: "duplicate", status, digest: null };
    case "refused":
      return { class: "refused", status, said, body };
    case "credentials":
    case "misconfigured":
      return { class: cls, status, said, cause };
    case "transient":
      return {
        class: "transient",
        status,
        said,
        retryAfterMs: parseRetryAfter(result.headers["retry-after"], now),
      };
  }
}

/** The collector receiver for `config`. */
export function putReceiver(config: Config, options: PutReceiverOptions = {}): Receiver {
  const client = options.put ?? put;
  const now = options.now ?? Date.now;
  let transport = options.transport;
  const { receiver } = config;
  const secrets = receiver.bearerToken !== undefined ? [receiver.bearerToken] : [];
  return {
    describe: receiver.url,
    async send(parcel: Parcel, sendOptions: SendOptions = {}): Promise<Answer> {
      if (!options.put) transport ??= createTransport(config);
      const request = episodeRequest({
        receiverUrl: receiver.url,
        hostId: parcel.hostId,
        episodeId: parcel.episodeId,
        compression: parcel.compression,
        sha256: parcel.sha256,
        commit: parcel.commit,
        ...(receiver.bearerToken !== undefined && { bearerToken: receiver.bearerToken }),
      });
      try {
        const response = await client({
          ...request,
          bodyPath: parcel.path,
          size: parcel.size,
          timeoutMs: config.requestTimeoutS * 1000,
          tls: config.tls,
          verifyTls: receiver.verifyTls,
          ...(sendOptions.signal && { signal: sendOptions.signal }),
          ...(transport && { agent: transport.agent }),
          ...(transport?.throttle && { throttle: transport.throttle }),
        });
        return answerOf(response, { now: now(), secrets });
      } catch (error) {
        if (sendOptions.signal?.aborted) return { class: "aborted" };
        return answerOf({
          error: describeError(error),
          ...(error instanceof UploadError && { kind: error.kind }),
        }, { now: now(), secrets });
      }
    },
    close() {
      transport?.close();
    },
  };
}
