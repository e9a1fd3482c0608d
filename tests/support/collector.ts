/** The reference collector as a real CLI process for tests. */
import { join } from "node:path";
import { spawnCli } from "../../devkit/cli.ts";
import { waitForPromise } from "./wait.ts";
import type { Pki } from "../../devkit/pki.ts";

/** A running collector process. */
export interface CollectorProcess extends AsyncDisposable {
  url: string;
  storeDir: string;
  /** Stops it (SIGTERM, or the signal given); returns its exit code and log. */
  stop(signal?: Deno.Signal): Promise<{ code: number; stderr: string }>;
}

/** Writes a collector config in `dir` and starts `cis490-ship collector`. */
export async function startCollectorProcess(
  dir: string,
  pki: Pki,
  extra = "",
  port = 0,
): Promise<CollectorProcess> {
  const storeDir = join(dir, "store");
  const configPath = join(dir, "collector.toml");
  await Deno.writeTextFile(
    configPath,
    `listen = "127.0.0.1:${port}"\nstore_dir = "${storeDir}"\n${extra}\n[tls]\ncert = "${pki.serverCert}"\nkey = "${pki.serverKey}"\nclient_ca = "${pki.ca}"\n`,
  );
  const proc = spawnCli(["collector", "--config", configPath]);
  const line = await waitForPromise("the collector listening", proc.firstLine, { watch: [proc] })
    .catch(async (error) => {
      await proc.stop("SIGKILL");
      throw new Error(`${error.message}: ${await proc.stderr}`);
    });
  const url = line.replace(/^listening on /, "");
  let stopped: Promise<{ code: number; stderr: string }> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") =>
    stopped ??= proc.stop(signal).then(async (status) => ({
      code: status.code,
      stderr: await proc.stderr,
    }));
  return { url, storeDir, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}
