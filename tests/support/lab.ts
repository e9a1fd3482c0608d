/** A lab host in a temporary directory: data root, config, and `--once` through the real CLI. */
import { join } from "node:path";
import { type CliResult, runCli } from "../../devkit/cli.ts";
import { shipperConfig, type ShipperConfigSpec, writeConfig } from "../../devkit/fixtures.ts";
import { type Layout, layoutOf } from "../../src/queue/layout.ts";
import type { EpisodeState } from "../../src/queue/state.ts";

/** A lab host for one test. */
export interface Lab extends AsyncDisposable {
  root: string;
  dataRoot: string;
  configPath: string;
  layout: Layout;
  /** Runs `cis490-ship --once --config <configPath>`. */
  once(extraEnv?: Record<string, string>): Promise<CliResult>;
  /** Reads an episode's outbox state, or null. */
  state(id: string): Promise<EpisodeState | null>;
}

/** Makes a lab host whose config points at `spec.url`. */
export async function makeLab(spec: Omit<ShipperConfigSpec, "dataRoot">): Promise<Lab> {
  const root = await Deno.makeTempDir({ prefix: "cis490-lab-" });
  const dataRoot = join(root, "data");
  await Deno.mkdir(join(dataRoot, "episodes"), { recursive: true });
  const configPath = await writeConfig(root, shipperConfig({ ...spec, dataRoot }));
  const layout = layoutOf(dataRoot);
  return {
    root,
    dataRoot,
    configPath,
    layout,
    once: (extraEnv = {}) => runCli(["--once", "--config", configPath], { env: extraEnv }),
    state: async (id) => {
      try {
        return JSON.parse(await Deno.readTextFile(join(layout.outbox, `${id}.state.json`)));
      } catch {
        return null;
      }
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}
