/** `cis490-ship confirm (NAME... | --all) [--dry-run] [--json]`: unconfirmed shipped episodes. */
import { confirmShipped, formatConfirm } from "../retention/confirm.ts";
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

/** The `confirm` command. */
export const CONFIRM_COMMAND = defineCommand({
  name: "confirm",
  summary: "say the collector holds shipped episodes it never confirmed, so prune may remove them",
  usage: "cis490-ship confirm (NAME... | --all) [--config PATH] [--dry-run] [--json]",
  description: `
A collector that answers 409 without a digest (nginx, other collectors) says it holds an episode
id, not that it holds these bytes: the episode goes to shipped/ marked unconfirmed, status counts
it, and prune keeps it. Once the collector's operator has checked it holds the same bytes (or you
have sent it again under a new id), confirm removes the mark of shipped/<NAME> and prune may
remove it in due course. NAME is its name in shipped/. Exits 1 when a NAME has no mark.`,
  options: {
    ...CONFIG_OPTION,
    all: { type: "boolean", doc: "every unconfirmed episode" },
    ...DRY_RUN_OPTION,
    ...JSON_OPTION,
  },
  positionals: true,
  examples: [
    ["cis490-ship status | grep unconfirmed"],
    ["cis490-ship confirm ep-0042"],
    ["cis490-ship confirm --all --dry-run"],
  ],
  parse({ values, positionals }, env) {
    const which = namesOrAll(values.all === true, positionals, "names");
    const configPath = configPathOf(values, env);
    const dryRun = values["dry-run"] === true;
    const json = values.json === true;
    return {
      run: async (io) => {
        const { config } = await loadShipperConfig(configPath, io);
        const report = await confirmShipped(
          config.dataRoot,
          which === "all" ? { all: true } : { names: which },
          { dryRun, signal: io.signal },
        );
        if (json) io.stdout(JSON.stringify(report, null, 2));
        else for (const line of formatConfirm(report)) io.stdout(line);
        return report.unknown.length > 0 ? EXIT.failure : EXIT.ok;
      },
    };
  },
});
