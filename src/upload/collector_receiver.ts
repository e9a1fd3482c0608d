/**
 * The reference collector's protocol (docs/protocol.md) as a {@linkcode Receiver}: one mutual-TLS PUT per
 * parcel through the shared connection pool, its answer sorted into the outcome table's classes.
 * Every answer and every network or TLS failure is an {@linkcode Answer}; only a tarball that
 * cannot be read throws.
 */
import { type Config, tokenKeyOf } from "../config/config.ts";
import { episodeRequest } from "../protocol/request.ts";
import { failureAnswer, responseAnswer } from "./classify.ts";
import { put, type PutRequest, type PutResponse, UploadError } from "./put.ts";
import type { Answer, Parcel, Receiver, SendOptions } from "./receiver.ts";
import { createTransport, type Transport } from "./transport.ts";

/** The parts of the shipper's configuration a collector receiver is made from. */
export type CollectorReceiverConfig = Pick<
  Config,
  "receiver" | "tls" | "requestTimeoutS" | "uploadConcurrency" | "maxBytesPerSecond"
>;

/** Options for {@linkcode collectorReceiver}. */
export interface CollectorReceiverOptions {
  /**
   * The connection pool and bandwidth cap every upload shares; `close()` closes it.
   * @default {createTransport(config)}
   */
  transport?: Transport;
  /** The HTTP client (tests count or script requests with it). @default {put} */
  put?: (request: PutRequest) => Promise<PutResponse>;
  /** Clock for `Retry-After` dates and our certificate's end date. @default {Date.now} */
  now?: () => number;
}

/**
 * A receiver that PUTs each parcel to `config.receiver.url` (the reference collector, nginx, or
 * any server speaking that protocol).
 * @example
 * ```ts
 * const receiver = collectorReceiver(config);
 * const answer = await receiver.send(parcel, { signal, onProgress: (n) => bar.update(n) });
 * receiver.close();
 * ```
 */
export function collectorReceiver(
  config: CollectorReceiverConfig,
  options: CollectorReceiverOptions = {},
): Receiver {
  const transport = options.transport ?? createTransport(config);
  const send = options.put ?? put;
  const now = options.now ?? Date.now;
  const { receiver, tls } = config;
  const secrets = receiver.bearerToken !== undefined ? [receiver.bearerToken] : [];
  const context = () => ({
    now: now(),
    secrets,
    tokenKey: tokenKeyOf(receiver),
    ...(tls.clientCertNotAfter !== undefined && { clientCertNotAfter: tls.clientCertNotAfter }),
  });
  return {
    describe: receiver.url,
    noun: "collector",
    async send(parcel: Parcel, sendOptions: SendOptions = {}): Promise<Answer> {
      const { signal, onProgress } = sendOptions;
      if (signal?.aborted) return { class: "aborted" };
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
        const response = await send({
          ...request,
          bodyPath: parcel.path,
          size: parcel.size,
          timeoutMs: config.requestTimeoutS * 1000,
          tls,
          verifyTls: receiver.verifyTls,
          agent: transport.agent,
          ...(transport.throttle && { throttle: transport.throttle }),
          ...(signal && { signal }),
          ...(onProgress && { onProgress }),
        });
        return responseAnswer(response, context());
      } catch (error) {
        // Anything but an UploadError is local (the tarball cannot be read): the caller's.
        if (!(error instanceof UploadError)) throw error;
        if (signal?.aborted) return { class: "aborted" };
        const detail = error.cause instanceof Error ? error.cause.message : "";
        return failureAnswer({ kind: error.kind, cause: error.message, detail }, context());
      }
    },
    close: () => transport.close(),
  };
}
