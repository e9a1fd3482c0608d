/** Loads the shipper config for a command: warnings logged, token redacted, data root checked. */
import { type Config, ConfigError, configuredSecrets, loadConfig } from "../config/config.ts";
import type { CommandIo } from "./args.ts";

/** Options for {@linkcode loadShipperConfig}. */
export interface LoadOptions {
  /** Print the config's warnings. @default {true} */
  warnings?: boolean;
}

/**
 * Loads the config and checks `data_root` is an existing directory.
 * @throws {ConfigError}
 */
export async function loadShipperConfig(
  configPath: string,
  io: CommandIo,
  options: LoadOptions = {},
): Promise<{ config: Config; warnings: string[] }> {
  const loaded = await loadConfig(configPath, { env: io.env, now: io.now });
  const info = await Deno.stat(loaded.config.dataRoot).catch(() => null);
  if (!info?.isDirectory) {
    throw new ConfigError(
      configPath,
      "paths.data_root",
      `"${loaded.config.dataRoot}" is not an existing directory`,
    );
  }
  for (const secret of configuredSecrets(loaded.config)) io.logger.redact(secret);
  if (options.warnings ?? true) { for (const warning of loaded.warnings) io.logger.warn(warning); }
  return loaded;
}
