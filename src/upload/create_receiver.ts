/**
 * The receiver a config names, the one place production chooses it: an S3 bucket when
 * `receiver.bucket` is set (docs/object-store.md), else the reference collector's HTTP protocol
 * at `receiver.url`. The queue only ever sees a {@linkcode Receiver}.
 */
import type { Config } from "../config/config.ts";
import { collectorReceiver } from "./collector_receiver.ts";
import type { Receiver } from "./receiver.ts";
import { S3Receiver } from "./s3/s3_receiver.ts";
import { s3SettingsOf } from "./s3/settings.ts";
import { Throttle } from "./throttle.ts";

/**
 * The receiver for `config`, with its own connection pool (`upload_concurrency` sockets) and
 * the host's bandwidth cap; `close()` closes the pool.
 * @example
 * ```ts
 * const receiver = createReceiver(config);
 * const answer = await receiver.send(parcel);
 * receiver.close();
 * ```
 */
export function createReceiver(config: Config): Receiver {
  const settings = s3SettingsOf(config);
  if (!settings) return collectorReceiver(config);
  return new S3Receiver(settings, {
    maxSockets: config.uploadConcurrency,
    ...(config.maxBytesPerSecond > 0 && { throttle: new Throttle(config.maxBytesPerSecond) }),
  });
}
