import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../support/assert.ts";
import {
  between,
  NEW_KEYS_MARKERS,
  renderConfigTable,
  renderNewKeysList,
  renderTemplate,
  TABLE_MARKERS,
} from "../../src/config/render.ts";

const file = (rel: string) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const HINT = "run: deno run --allow-read --allow-write --allow-run scripts/render_config.ts";

Deno.test("renderConfigTable() is the table docs/config.md shows", async () => {
  const shown = between(await Deno.readTextFile(file("docs/config.md")), TABLE_MARKERS);
  assert(shown !== null, "docs/config.md keeps its markers");
  assertEquals(shown, renderConfigTable(), HINT);
});

Deno.test("renderNewKeysList() is the list README.md shows (as deno fmt wraps it)", async () => {
  const shown = between(await Deno.readTextFile(file("README.md")), NEW_KEYS_MARKERS);
  assert(shown !== null, "README.md keeps its markers");
  const words = (text: string) => text.replace(/\s+/g, " ").trim();
  assertEquals(words(shown), words(renderNewKeysList()), HINT);
});

Deno.test("renderTemplate() is packaging/lab-host.toml", async () => {
  assertEquals(await Deno.readTextFile(file("packaging/lab-host.toml")), renderTemplate(), HINT);
});
