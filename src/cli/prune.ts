/** `cis490-ship prune [--dry-run] [--json]`: remove shipped/ entries older than keep_local_for_days. */
import { formatPrune, pruneShipped } from "../retention/prune.ts";
import { CONFIG_OPTION, configPathOf, DRY_RUN_OPTION, EXIT, JSON_OPTION } from "./args.ts";
import { defineCommand } from "./define_command.ts";
import { loadShipperConfig } from "./_load.ts";

/** The `prune` command. */
export const PRUNE_COMMAND = defineCommand({
  name: "prune",
  summary: "remove shipped/ entries older than retention.keep_local_for_days",
  description: `
Removes shipped/<id>/ entries shipped more than retention.keep_local_for_days ago (the time of
the rename into shipped/, the directory's ctime), and prints the size of each. Each is first
renamed into <data_root>/.cis490-ship.trash/ and removed there, so a crash never leaves a
half-deleted episode in shipped/; the next prune empties the trash. An entry the collector never
confirmed holding (a 409 without a digest) is kept until "cis490-ship confirm". Safe while the
service runs; Ctrl-C stops it between two entries (exit 130).`,
  options: { ...CONFIG_OPTION, ...DRY_RUN_OPTION, ...JSON_OPTION },
  examples: [
    ["cis490-ship prune --dry-run", "what would go, with sizes"],
    ["cis490-ship prune --json | jq '[.pruned[].bytes] | add'"],
  ],
  parse({ values }, env) {
    const configPath = configPathOf(values, env);
    const dryRun = values["dry-run"] === true;
    const json = values.json === true;
    return {
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await pruneShipped(config.dataRoot, {
          keepLocalForDays: config.keepLocalForDays,
          dryRun,
          now: io.now,
          signal: io.signal,
        });
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatPrune(report)) io.stdout(line);
        return EXIT.ok;
      },
    };
  },
});
