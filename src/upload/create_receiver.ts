/**
 * The receiver a config names: the reference collector's HTTP protocol (`receiver.url`), the one
 * place production chooses it; the queue only ever sees a {@linkcode Receiver}.
 */
import type { Config } from "../config/config.ts";
import { putReceiver } from "./_put_receiver.ts";
import type { Receiver } from "./receiver.ts";

/** The receiver for `config`, with its own connection pool; close it when done. */
export function createReceiver(config: Config): Receiver {
  return putReceiver(config);
}
