/**
 * A folder for the temporary files of the operator commands, inside `data_root` (same file
 * system, so renames stay atomic) and apart from `outbox/`, whose crash recovery in a running
 * daemon removes every temporary file it finds there.
 */
import { OWN } from "../layout.ts";
import { join } from "node:path";
import { TEMP_SUFFIX } from "../fs/atomic.ts";
import type { Layout } from "../queue/layout.ts";

/** Name of the folder under `data_root`. */
export const OPS_TEMP_DIR: string = OWN.opsTemp;

/**
 * Creates the folder and removes what a crashed command left there. Call it inside an exclusive
 * moves section: every command writes its temporary files only inside one.
 */
export async function opsTempDir(layout: Layout): Promise<string> {
  const dir = join(layout.dataRoot, OPS_TEMP_DIR);
  await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(TEMP_SUFFIX)) await Deno.remove(join(dir, e.name)).catch(() => {});
  }
  return dir;
}
