/** `cis490-ship quarantine-unstamped [--dry-run] [--json]`: the pre-stamp backlog drain. */
import { drainUnstamped, formatDrain } from "../queue/drain.ts";
import { CONFIG_OPTION, configPathOf, DRY_RUN_OPTION, EXIT, JSON_OPTION } from "./args.ts";
import { defineCommand } from "./define_command.ts";
import { loadShipperConfig } from "./_load.ts";

/** The `quarantine-unstamped` command. */
export const QUARANTINE_UNSTAMPED_COMMAND = defineCommand({
  name: "quarantine-unstamped",
  summary: "quarantine episodes whose meta.json has no 40-hex code_version.commit",
  description: `
Moves every episode in <data_root>/episodes/ whose meta.json lacks a 40-hex code_version.commit
(missing file, unparsable JSON, missing key, wrong shape) to quarantine/<id>/ with a
quarantine_reason.json whose source is "drain". An episode still being written (no done.marker)
is moved only when its meta.json parses and has no valid commit; a missing or unparsable one may
not be written yet. Idempotent; a name taken in quarantine/ gets <id>.2, never overwritten. Safe
while the service runs: each move happens inside the data root's moves section; Ctrl-C stops it
between two moves (exit 130).`,
  options: { ...CONFIG_OPTION, ...DRY_RUN_OPTION, ...JSON_OPTION },
  examples: [
    ["cis490-ship quarantine-unstamped --dry-run"],
    ["cis490-ship quarantine-unstamped --json | jq -r '.quarantined[].episode'"],
  ],
  parse({ values }, env) {
    const configPath = configPathOf(values, env);
    const dryRun = values["dry-run"] === true;
    const json = values.json === true;
    return {
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await drainUnstamped(config.dataRoot, {
          hostId: config.hostId,
          dryRun,
          now: io.now,
          signal: io.signal,
        });
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatDrain(report)) io.stdout(line);
        return EXIT.ok;
      },
    };
  },
});
