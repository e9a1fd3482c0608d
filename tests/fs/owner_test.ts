import { join } from "node:path";
import { assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { NotOwnerError, requireOwner, sudoCommand } from "../../src/fs/owner.ts";
import { isRoot } from "../support/system_user.ts";

Deno.test("sudoCommand() names the owner and quotes what the shell would split", () => {
  assertEquals(
    sudoCommand({ uid: 999, name: "cis490" }, ["requeue", "--all"]),
    "sudo -u cis490 cis490-ship requeue --all",
  );
  assertEquals(
    sudoCommand({ uid: 1234, name: null }, ["--once", "--config", "/etc/my lab/it's.toml"]),
    `sudo -u '#1234' cis490-ship --once --config '/etc/my lab/it'\\''s.toml'`,
  );
});

Deno.test("requireOwner() lets the owner through", async () => {
  await using tmp = await tempDir();
  await requireOwner(tmp.path);
});

Deno.test("requireOwner() refuses anyone else, naming the owner by uid when passwd has none", {
  ignore: !isRoot,
}, async () => {
  await using tmp = await tempDir();
  const dataRoot = join(tmp.path, "data");
  await Deno.mkdir(dataRoot);
  // A uid no account has: the name falls back to sudo's "#uid".
  await Deno.chown(dataRoot, 3_999_999, 3_999_999);
  const error = await assertRejects(() => requireOwner(dataRoot), NotOwnerError);
  assertEquals(error.owner, { uid: 3_999_999, name: null });
  assertEquals(error.callerUid, 0);
  assertMatch(error.message, /^".*\/data" belongs to uid 3999999, not to uid 0: /);
});
