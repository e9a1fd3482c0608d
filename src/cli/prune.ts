/** `cis490-ship prune [--dry-run]`: remove shipped/ entries older than keep_local_for_days. */
import { formatPrune, pruneShipped } from "../ops/prune.ts";
import { type CliCommand, CONFIG_OPTION, configPathOf, EXIT, parseCommandArgs } from "./args.ts";
import { loadShipperConfig } from "./_load.ts";

/** The `prune` command. */
export const PRUNE_COMMAND: CliCommand = {
  name: "prune",
  summary: "remove shipped/ entries older than retention.keep_local_for_days",
  help: `Usage: cis490-ship prune [--config PATH] [--dry-run]

Removes shipped/<id>/ entries shipped more than retention.keep_local_for_days ago (the time of
the rename into shipped/, the directory's ctime). Each is first renamed into
<data_root>/.cis490-ship.trash/ and removed there, so a crash never leaves a half-deleted episode
in shipped/; the next prune empties the trash. Safe while the daemon runs.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --dry-run       print what would be removed, change nothing

Examples:
  cis490-ship prune --dry-run
  cis490-ship prune
`,
  parse(args, env) {
    const parsed = parseCommandArgs("prune", args, {
      ...CONFIG_OPTION,
      "dry-run": { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const configPath = configPathOf(parsed.values, env);
    const dryRun = parsed.values["dry-run"] === true;
    return {
      logFormat: "text",
      verbose: false,
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await pruneShipped(config.dataRoot, {
          keepLocalForDays: config.keepLocalForDays,
          dryRun,
          now: io.now,
        });
        for (const line of formatPrune(report)) io.stdout(line);
        return EXIT.ok;
      },
    };
  },
};
