/** `cis490-ship status [--json]`: backlog by state, ages, last success and error, pause, daemon. */
import { readStatusSnapshot } from "../ops/status.ts";
import { buildStatus, formatStatus, type StatusReport } from "../status/status.ts";
import {
  type CliCommand,
  type CommandIo,
  CONFIG_OPTION,
  configPathOf,
  EXIT,
  parseCommandArgs,
} from "./args.ts";
import { loadShipperConfig } from "./_load.ts";

/** Reads the data root of `configPath` and builds the status report. */
export async function statusReport(configPath: string, io: CommandIo): Promise<StatusReport> {
  const { config } = await loadShipperConfig(configPath, io);
  return buildStatus(await readStatusSnapshot(config.dataRoot, config.hostId), io.now());
}

/** The `status` command. */
export const STATUS_COMMAND: CliCommand = {
  name: "status",
  summary: "backlog by state, oldest ages, last success/error, pause, daemon pid",
  help: `Usage: cis490-ship status [--config PATH] [--json]

Counts and sizes the episodes of <data_root> by state, from the disk and the daemon's status
file (<data_root>/.cis490-ship.status.json): incomplete (no done.marker), ready (complete, not
packed), packed (tarball in outbox/, due now), waiting (backing off), shipped, quarantined. Also
the oldest unshipped episode, the next retry, the last success and error, the pause reason, and
whether a daemon holds the data root (with its pid). Safe while the daemon runs: it lists inside
a shared moves section, so every episode is counted exactly once.

Options:
  -c, --config PATH   shipper config (default: $CIS490_CONFIG, else /etc/cis490/lab-host.toml)
      --json          one JSON document (version 1; docs/operations.md describes it)

Examples:
  cis490-ship status
  cis490-ship status --json | jq '.states.waiting.count'
`,
  parse(args, env) {
    const parsed = parseCommandArgs("status", args, {
      ...CONFIG_OPTION,
      json: { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const configPath = configPathOf(parsed.values, env);
    const json = parsed.values.json === true;
    return {
      logFormat: "text",
      verbose: false,
      run: async (io) => {
        const report = await statusReport(configPath, io);
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatStatus(report)) io.stdout(line);
        return EXIT.ok;
      },
    };
  },
};
