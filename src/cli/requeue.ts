/** `cis490-ship requeue (NAME... | --all) [--dry-run] [--json]`: quarantine/ back to episodes/. */
import { formatRequeue, requeue } from "../queue/requeue.ts";
import {
  CONFIG_OPTION,
  configPathOf,
  DRY_RUN_OPTION,
  EXIT,
  JSON_OPTION,
  namesOrAll,
} from "./args.ts";
import { defineCommand } from "./define_command.ts";
import { loadShipperConfig } from "./_load.ts";

/** The `requeue` command. */
export const REQUEUE_COMMAND = defineCommand({
  name: "requeue",
  summary: "move quarantined episodes back to episodes/ to be shipped again",
  usage: "cis490-ship requeue (NAME... | --all) [--config PATH] [--dry-run] [--json]",
  description: `
Moves quarantine/<name>/ back to episodes/<id>/, where the service ships it again. NAME is the
directory's name in quarantine/ (or the id it goes back under). The id is that name: a directory
renamed in quarantine/ goes back under its new name; quarantine/<id>.2/ (a name clash) goes back
as the <id> its quarantine_reason.json names. quarantine_reason.json is moved out first, to
quarantine/.history/<id>.<time>.json, so it is never packed with the episode. An id already in
episodes/ is refused, never overwritten; a name that is not a valid id is refused with the advice
to rename it. Exits 1 when anything was refused or not found. Safe while the service runs; Ctrl-C
stops it between two moves (exit 130).`,
  options: {
    ...CONFIG_OPTION,
    all: { type: "boolean", doc: "every quarantined episode" },
    ...DRY_RUN_OPTION,
    ...JSON_OPTION,
  },
  positionals: true,
  examples: [
    ["cis490-ship requeue ep-0042 ep-0043"],
    ["cis490-ship requeue --all --dry-run"],
  ],
  parse({ values, positionals }, env) {
    const which = namesOrAll(values.all === true, positionals, "episode ids");
    const configPath = configPathOf(values, env);
    const dryRun = values["dry-run"] === true;
    const json = values.json === true;
    return {
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await requeue(
          config.dataRoot,
          which === "all" ? { all: true } : { ids: which },
          { dryRun, now: io.now, signal: io.signal },
        );
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatRequeue(report)) io.stdout(line);
        return report.refused.length + report.unknown.length > 0 ? EXIT.failure : EXIT.ok;
      },
    };
  },
});
