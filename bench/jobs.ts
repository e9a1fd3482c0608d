/**
 * Every bench job, in the order the table shows them. Adding a job: a file in bench/jobs/ that
 * exports a {@linkcode Job} (its `run` returns rows), one import and one entry here.
 */
import type { Job } from "./context.ts";
import { backlogJob } from "./jobs/backlog.ts";
import { bigJob } from "./jobs/big.ts";
import { episodesJob } from "./jobs/episodes.ts";
import { filesJob } from "./jobs/files.ts";
import { floorJob } from "./jobs/floor.ts";
import { kindsJob } from "./jobs/kinds.ts";
import { packJob } from "./jobs/pack.ts";
import { rssJob } from "./jobs/rss.ts";
import { zstdTextJob } from "./jobs/zstd_text.ts";
import { statusBenchJob } from "./jobs/status_job.ts";
import { overlapJob } from "./jobs/overlap.ts";
import { objectStoreBenchJob } from "./jobs/object_store_job.ts";

/** The jobs `deno task bench` runs (`--only` takes their ids). */
export const JOBS: readonly Job[] = [
  floorJob,
  bigJob("gzip"),
  bigJob("zstd"),
  bigJob("none"),
  overlapJob,
  zstdTextJob,
  kindsJob,
  episodesJob,
  filesJob,
  packJob,
  rssJob,
  backlogJob,
  statusBenchJob,
  objectStoreBenchJob,
];
