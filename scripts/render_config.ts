/**
 * Rewrites what is rendered from the config key table (src/config/keys.ts): the key table in
 * docs/config.md and README.md (between their markers) and packaging/lab-host.toml. Tests hold
 * each equal to the table; run this after changing a key:
 *
 *   deno run --allow-read --allow-write --allow-run scripts/render_config.ts
 */
import { fileURLToPath } from "node:url";
import {
  NEW_KEYS_MARKERS,
  renderConfigTable,
  renderNewKeysList,
  renderTemplate,
  replaceBetween,
  TABLE_MARKERS,
} from "../src/config/render.ts";

const path = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));

if (import.meta.main) {
  const doc = path("docs/config.md");
  await Deno.writeTextFile(
    doc,
    replaceBetween(await Deno.readTextFile(doc), { ...TABLE_MARKERS, body: renderConfigTable() }),
  );
  const readme = path("README.md");
  await Deno.writeTextFile(
    readme,
    replaceBetween(await Deno.readTextFile(readme), {
      ...NEW_KEYS_MARKERS,
      body: renderNewKeysList(),
    }),
  );
  await Deno.writeTextFile(path("packaging/lab-host.toml"), renderTemplate());
  // deno fmt wraps the README's prose; the test compares the list with whitespace collapsed.
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", readme, doc] }).output();
  if (!fmt.success) throw new Error("deno fmt failed");
}
