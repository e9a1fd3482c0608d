/**
 * One verdict of `cis490-ship check`: the config's judgments (judge_config.ts) and the round trip
 * to the collector (src/upload/judge_probe.ts) both speak it, and the command prints and exits by
 * it.
 */
import type { OutcomeClass } from "../upload/classify.ts";

/** How a step went. */
export type StepVerdict = "ok" | "warn" | "fail" | "skip";

/**
 * What a failed step is, in the outcome classes uploads use (src/upload/classify.ts), plus
 * "config" (a problem of the config itself) and "stopped" (a signal ended the check).
 */
export type StepClass =
  | Exclude<OutcomeClass, "stored" | "duplicate" | "refused">
  | "config"
  | "stopped";

/** One step of `check`. */
export interface CheckStep {
  step: string;
  verdict: StepVerdict;
  /** Set on "fail": what kind of problem, which sets the exit code. */
  class?: StepClass;
  message: string;
}
