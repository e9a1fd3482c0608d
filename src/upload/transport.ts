/**
 * What every upload of one receiver shares: the keep-alive connection pool (one socket per
 * concurrent upload) and the host's bandwidth cap. Made from the config; closed at exit or when a
 * reloaded config replaces it.
 */
import type { Config } from "../config/config.ts";
import { createReceiverAgent, type ReceiverAgent } from "./agent.ts";
import { Throttle } from "./throttle.ts";

/** The shared parts of every upload to the configured receiver. */
export interface Transport {
  agent: ReceiverAgent;
  throttle?: Throttle;
  close(): void;
}

/** Creates the transport for `config`'s receiver. */
export function createTransport(
  config: Pick<Config, "receiver" | "tls" | "uploadConcurrency" | "maxBytesPerSecond">,
): Transport {
  const agent = createReceiverAgent({
    tls: config.tls,
    verifyTls: config.receiver.verifyTls,
    maxSockets: config.uploadConcurrency,
  });
  const throttle = config.maxBytesPerSecond > 0
    ? new Throttle(config.maxBytesPerSecond)
    : undefined;
  return { agent, ...(throttle && { throttle }), close: () => agent.close() };
}
