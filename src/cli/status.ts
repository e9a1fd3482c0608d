/** `cis490-ship status [--json]`: backlog by state, ages, last success and error, pause, daemon. */
import { readStatusSnapshot } from "../status/snapshot.ts";
import { buildStatus, formatStatus, type StatusReport } from "../status/status.ts";
import { type CommandIo, CONFIG_OPTION, configPathOf, EXIT } from "./args.ts";
import { defineCommand } from "./define_command.ts";
import { loadShipperConfig } from "./_load.ts";

/** Reads the data root of `configPath` and builds the status report. */
export async function statusReport(configPath: string, io: CommandIo): Promise<StatusReport> {
  const { config } = await loadShipperConfig(configPath, io);
  const snapshot = await readStatusSnapshot(config.dataRoot, {
    hostId: config.hostId,
    maxEpisodeBytes: config.maxEpisodeBytes,
    signal: io.signal,
    now: io.now,
  });
  return buildStatus(snapshot, io.now());
}

/** The `status` command. */
export const STATUS_COMMAND = defineCommand({
  name: "status",
  summary: "backlog by state, oldest ages, last success/error, pause, daemon pid",
  description: `
Counts the episodes of <data_root> by state, from the disk and the shipper's status file
(<data_root>/.cis490-ship.status.json, written by the service and by every --once): incomplete
(no done.marker), ready (complete, preflight passes, not packed), rejected (complete, preflight
will quarantine it), packed (tarball in outbox/), waiting (backing off), shipped, quarantined;
bytes of what is in episodes/ (shipped/ and quarantine/ are counted, never walked). Also the
oldest unshipped episode, each waiting episode's last error, shipped episodes the collector never
confirmed, the last success and error, the pause reason, and whether a shipper holds the data
root (with its pid). Creates nothing; safe while the service runs.`,
  options: {
    ...CONFIG_OPTION,
    json: { type: "boolean", doc: "one JSON document (version 2; docs/operations.md)" },
  },
  examples: [
    ["cis490-ship status"],
    ["cis490-ship status --json | jq '.waiting[] | [.episode, .last_error]'"],
  ],
  parse({ values }, env) {
    const configPath = configPathOf(values, env);
    const json = values.json === true;
    return {
      run: async (io) => {
        const report = await statusReport(configPath, io);
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatStatus(report)) io.stdout(line);
        return EXIT.ok;
      },
    };
  },
});
