/**
 * The receiver a config names: the reference collector's HTTP protocol (`receiver.url`), the one
 * place production chooses it; the queue only ever sees a {@linkcode Receiver}.
 */
import type { Config } from "../config/config.ts";
import { collectorReceiver } from "./collector_receiver.ts";
import type { Receiver } from "./receiver.ts";

/** The receiver for `config`, with its own connection pool; close it when done. */
export function createReceiver(config: Config): Receiver {
  return collectorReceiver(config);
}
