/**
 * An in-process lab host for queue tests: a data root, a loaded config, a fake clock, a scripted
 * fake `put` that counts requests, and a logger that keeps its lines. No network, no sleeping.
 */
import { join } from "node:path";
import { loadConfig } from "../../src/config/config.ts";
import type { Config } from "../../src/config/config.ts";
import { createLogger, type Logger } from "../../src/log/log.ts";
import { type PutRequest, type PutResponse, UploadError } from "../../src/upload/put.ts";
import { type Layout, layoutOf } from "../../src/queue/layout.ts";
import { writeConfig } from "../../devkit/fixtures.ts";
import { collectorReceiver } from "../../src/upload/collector_receiver.ts";
import type { QueueWorld } from "../../src/queue/world.ts";

/** What the fake collector answers: a response, or a thrown network error. */
export type FakeAnswer = { status: number; body?: string; headers?: Record<string, string> } | {
  error: string;
};

/** An in-process lab. */
export interface QueueLab extends AsyncDisposable {
  root: string;
  dataRoot: string;
  layout: Layout;
  config: Config;
  logger: Logger;
  lines: string[];
  /** The fake clock (ms); tests move it. */
  clock: { t: number };
  now: () => number;
  /** Every request the fake put received, in order. */
  requests: { id: string; at: number; size: number }[];
  /** Decides each answer; replace it to change the collector's mood. */
  answer: (id: string, at: number) => FakeAnswer;
  put: (request: PutRequest) => Promise<PutResponse>;
  /**
   * The world of a pass: the fake clock and a collector receiver over `put` (default: the lab's
   * scripted one), plus any other part given.
   */
  world(
    parts?: Partial<QueueWorld> & { put?: (request: PutRequest) => Promise<PutResponse> },
  ): Partial<QueueWorld>;
}

/** Makes an in-process lab with `[shipper]` lines added to the config. */
export async function makeQueueLab(shipper = ""): Promise<QueueLab> {
  const root = await Deno.makeTempDir({ prefix: "cis490-qlab-" });
  const dataRoot = join(root, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  const path = await writeConfig(
    root,
    `host_id = "lab-01"\n[paths]\ndata_root = "${dataRoot}"\n[receiver]\nurl = "https://collector.invalid"\n[shipper]\n${shipper}\n`,
  );
  const { config } = await loadConfig(path, { env: () => undefined });
  const lines: string[] = [];
  const clock = { t: Date.parse("2026-03-01T00:00:00Z") };
  const lab: QueueLab = {
    root,
    dataRoot,
    layout: layoutOf(dataRoot),
    config,
    lines,
    logger: createLogger({ write: (l) => lines.push(l), debug: true, now: () => clock.t }),
    clock,
    now: () => clock.t,
    requests: [],
    answer: () => ({ status: 201 }),
    put: async (request) => {
      await Promise.resolve();
      const id = decodeURIComponent(
        request.url.split("/").at(-1)!.replace(/\.tar(\.gz|\.zst)?$/, ""),
      );
      lab.requests.push({ id, at: clock.t, size: request.size });
      if (request.signal?.aborted) throw new UploadError("aborted", "aborted");
      const a = lab.answer(id, clock.t);
      // What put() throws when no answer came: a network failure, not a local one.
      if ("error" in a) throw new UploadError(a.error, "network");
      return { status: a.status, headers: a.headers ?? {}, body: a.body ?? "" };
    },
    world: ({ put, ...parts } = {}) => ({
      now: lab.now,
      receiver: collectorReceiver(config, { put: put ?? lab.put, now: lab.now }),
      ...parts,
    }),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
  return lab;
}
