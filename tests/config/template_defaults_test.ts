import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { assertEquals } from "../support/assert.ts";
import { loadConfig } from "../../src/config/config.ts";
import { COMPRESSION_FORMAT } from "../../src/protocol/protocol.ts";
import { tempDir } from "../../devkit/fixtures.ts";

const TEMPLATE = fileURLToPath(new URL("../../packaging/lab-host.toml", import.meta.url));

Deno.test("lab-host.toml shows each commented-out key at the value the shipper really uses without it", async () => {
  await using dir = await tempDir();
  const text = await Deno.readTextFile(TEMPLATE);
  const base = `host_id = "h"\n[receiver]\nurl = "http://c"\n`;
  const file = join(dir.path, "lab-host.toml");
  await Deno.writeTextFile(file, base);
  const without = (await loadConfig(file, { env: () => undefined })).config;
  const effective: Record<string, unknown> = {
    "shipper.compression_level": without.compressionLevel ??
      COMPRESSION_FORMAT[without.compression].levels?.default,
    "shipper.scan_interval_s": without.scanIntervalS,
    "shipper.upload_concurrency": without.uploadConcurrency,
    "shipper.stop_grace_s": without.stopGraceS,
    "retention.keep_local_for_days": without.keepLocalForDays,
  };
  let section = "";
  const shown: Record<string, unknown> = {};
  for (const line of text.split("\n")) {
    const header = line.match(/^\[([a-z_]+)\]$/);
    if (header) section = `${header[1]}.`;
    const key = line.match(/^# ([a-z_]+) = (.+)$/);
    if (key && `${section}${key[1]}` in effective) shown[`${section}${key[1]}`] = Number(key[2]);
  }
  assertEquals(shown, effective);
});
