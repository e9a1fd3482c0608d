import { assert, assertEquals } from "../support/assert.ts";
import { CONFIG_KEYS, configKey } from "../../src/config/keys.ts";
import { defaultText, renderConfigTable } from "../../src/config/render.ts";
import { numberProblem } from "../../src/config/_reader.ts";
import { loadConfig } from "../../src/config/config.ts";
import { tempDir } from "../../devkit/fixtures.ts";

Deno.test("renderConfigTable() has one row per key, marking additions _new_", () => {
  const rows = renderConfigTable().trimEnd().split("\n").slice(2);
  assertEquals(rows.length, CONFIG_KEYS.length);
  for (const [i, key] of CONFIG_KEYS.entries()) {
    assert(rows[i]?.startsWith(`| \`${key.name}\`${key.isNew ? " _new_" : ""} `), rows[i]);
  }
});

Deno.test("CONFIG_KEYS names are unique and carry a doc, a type and a default", () => {
  assertEquals(new Set(CONFIG_KEYS.map((k) => k.name)).size, CONFIG_KEYS.length);
  for (const key of CONFIG_KEYS) {
    assert(key.doc && defaultText(key) && key.type, key.name);
    assert(!key.doc.includes("\n"), `${key.name}: one-line doc`);
  }
  // The seed's keys (docs/config.md), which must keep their names.
  assertEquals(
    CONFIG_KEYS.filter((k) => !k.isNew).map((k) => k.name),
    [
      "host_id",
      "paths.data_root",
      "receiver.url",
      "receiver.ca_bundle",
      "receiver.client_cert",
      "receiver.client_key",
      "receiver.bearer_token",
      "receiver.verify_tls",
      "shipper.scan_interval_s",
      "shipper.request_timeout_s",
      "shipper.backoff_seconds",
      "retention.keep_local_for_days",
    ],
  );
});

Deno.test("CONFIG_KEYS defaults lie inside their own ranges", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/lab-host.toml`;
  await Deno.writeTextFile(file, `host_id = "h"\n[receiver]\nurl = "https://c"\n`);
  const { config } = await loadConfig(file, { env: () => undefined, cwd: dir.path });
  const values: Record<string, number | number[]> = {
    "shipper.scan_interval_s": config.scanIntervalS,
    "shipper.request_timeout_s": config.requestTimeoutS,
    "shipper.backoff_seconds": config.backoffSeconds,
    "shipper.max_episode_bytes": config.maxEpisodeBytes,
    "shipper.upload_concurrency": config.uploadConcurrency,
    "shipper.pack_ahead": config.packAhead,
    "shipper.max_bytes_per_second": config.maxBytesPerSecond,
    "shipper.stop_grace_s": config.stopGraceS,
    "retention.keep_local_for_days": config.keepLocalForDays,
    // Only a config with a bucket carries them; a collector's config holds none.
    "receiver.multipart_part_bytes": configKey("receiver.multipart_part_bytes").default as number,
    "receiver.multipart_threshold_bytes": configKey("receiver.multipart_threshold_bytes")
      .default as number,
  };
  const ranged = CONFIG_KEYS.filter((k) => k.numberRange).map((k) => k.name);
  assertEquals(ranged.sort(), Object.keys(values).sort());
  for (const [name, value] of Object.entries(values)) {
    const range = configKey(name).numberRange;
    assert(range);
    for (const v of [value].flat()) assertEquals(numberProblem(v, range), null, name);
  }
});

Deno.test("configKey() throws for a key nobody declared", () => {
  let thrown: unknown;
  try {
    configKey("shipper.nope");
  } catch (error) {
    thrown = error;
  }
  assert(thrown instanceof RangeError);
  assertEquals(thrown.message, 'Unknown config key "shipper.nope"');
});

Deno.test("numberProblem() refuses nan, inf, fractions for integers and the excluded minimum", () => {
  const seconds = { min: 0, minExclusive: true, max: 86400 };
  assertEquals(numberProblem(86400, seconds), null);
  assertEquals(numberProblem(1e-9, seconds), null);
  for (const v of [0, NaN, Infinity, -Infinity, 86400.5]) assert(numberProblem(v, seconds), `${v}`);
  const cap = { min: 1024, max: 2 ** 53 - 1, integer: true, zeroAllowed: true };
  assertEquals(numberProblem(0, cap), null);
  assertEquals(numberProblem(1024, cap), null);
  for (const v of [1, 1023, 1024.5, -1]) assert(numberProblem(v, cap), `${v}`);
});
