/** `cis490-ship quarantine-unstamped [--dry-run] [--json]`: the pre-stamp backlog drain. */
import { drainUnstamped, formatDrain } from "../ops/drain.ts";
import { type CliCommand, CONFIG_OPTION, configPathOf, EXIT, parseCommandArgs } from "./args.ts";
import { loadShipperConfig } from "./_load.ts";

/** The `quarantine-unstamped` command. */
export const QUARANTINE_UNSTAMPED_COMMAND: CliCommand = {
  name: "quarantine-unstamped",
  summary: "quarantine episodes whose meta.json has no 40-hex code_version.commit",
  help: `Usage: cis490-ship quarantine-unstamped [--config PATH] [--dry-run] [--json]

Moves every episode in <data_root>/episodes/ whose meta.json lacks a 40-hex code_version.commit
(missing file, unparsable JSON, missing key, wrong shape) to quarantine/<id>/ with a
quarantine_reason.json whose source is "drain". An episode still being written (no done.marker)
is moved only when its meta.json parses and has no valid commit; a missing or unparsable one may
not be written yet. Idempotent; a name taken in quarantine/ gets <id>.2, never overwritten. Safe
while the daemon runs: each move happens inside the data root's moves section.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --dry-run       print the plan, change nothing
      --json          print the report as JSON (version 1)

Examples:
  cis490-ship quarantine-unstamped --dry-run
  cis490-ship quarantine-unstamped --json | jq -r '.quarantined[].episode'
`,
  parse(args, env) {
    const parsed = parseCommandArgs("quarantine-unstamped", args, {
      ...CONFIG_OPTION,
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const configPath = configPathOf(parsed.values, env);
    const dryRun = parsed.values["dry-run"] === true;
    const json = parsed.values.json === true;
    return {
      logFormat: "text",
      verbose: false,
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await drainUnstamped(config.dataRoot, {
          hostId: config.hostId,
          dryRun,
          now: io.now,
        });
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatDrain(report)) io.stdout(line);
        return EXIT.ok;
      },
    };
  },
};
