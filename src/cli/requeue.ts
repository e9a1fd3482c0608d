/** `cis490-ship requeue (ID... | --all) [--dry-run]`: quarantined episodes back to episodes/. */
import { formatRequeue, requeue } from "../ops/requeue.ts";
import {
  type CliCommand,
  CONFIG_OPTION,
  configPathOf,
  EXIT,
  parseCommandArgs,
  UsageError,
} from "./args.ts";
import { loadShipperConfig } from "./_load.ts";

/** The `requeue` command. */
export const REQUEUE_COMMAND: CliCommand = {
  name: "requeue",
  summary: "move quarantined episodes back to episodes/ to be shipped again",
  help: `Usage: cis490-ship requeue (ID... | --all) [--config PATH] [--dry-run]

Moves quarantine/<dir>/ back to episodes/<id>/, where the daemon ships it again. The id is the
one its quarantine_reason.json names, so quarantine/<id>.2/ (a name clash) goes back as <id>.
quarantine_reason.json is moved out first, to quarantine/.history/<id>.<time>.json, so it is
never packed with the episode. An id already in episodes/ is refused, never overwritten and
never shipped under another id; an id that is not valid is refused too. Exits 1 when anything
was refused or not found. Safe while the daemon runs.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --all           every quarantined episode
      --dry-run       print the plan, change nothing

Examples:
  cis490-ship requeue ep-0042 ep-0043
  cis490-ship requeue --all --dry-run
`,
  parse(args, env) {
    const parsed = parseCommandArgs("requeue", args, {
      ...CONFIG_OPTION,
      all: { type: "boolean" },
      "dry-run": { type: "boolean" },
    }, true);
    if (parsed === "help") return "help";
    const { values, positionals } = parsed;
    const all = values.all === true;
    if (all && positionals.length > 0) {
      throw new UsageError("give episode ids or --all, not both", "requeue");
    }
    if (!all && positionals.length === 0) {
      throw new UsageError("give episode ids or --all", "requeue");
    }
    const configPath = configPathOf(values, env);
    const dryRun = values["dry-run"] === true;
    return {
      logFormat: "text",
      verbose: false,
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await requeue(
          config.dataRoot,
          all ? { all: true } : { ids: positionals },
          { dryRun, now: io.now },
        );
        for (const line of formatRequeue(report)) io.stdout(line);
        return report.refused.length + report.unknown.length > 0 ? EXIT.failure : EXIT.ok;
      },
    };
  },
};
