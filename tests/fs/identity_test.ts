import { join } from "node:path";
import { assertEquals } from "../support/assert.ts";
import { tempDir } from "../../devkit/fixtures.ts";
import { accountName, nameInDatabase, parseIdentity } from "../../src/fs/identity.ts";
import { PERMISSION_FLAGS } from "../../src/permissions.ts";

Deno.test("parseIdentity() reads find's '%U %G' and nothing else", () => {
  assertEquals(parseIdentity("999 998"), { uid: 999, gid: 998 });
  assertEquals(parseIdentity("0 0\n"), { uid: 0, gid: 0 });
  assertEquals(parseIdentity("root root"), null);
  assertEquals(parseIdentity(""), null);
});

Deno.test("nameInDatabase() finds the name of an id in passwd or group text", () => {
  const passwd =
    "root:x:0:0:root:/root:/bin/bash\ncis490:x:999:999::/nonexistent:/usr/sbin/nologin\n";
  assertEquals(nameInDatabase(passwd, 999), "cis490");
  assertEquals(nameInDatabase(passwd, 0), "root");
  assertEquals(nameInDatabase(passwd, 99), null);
  assertEquals(nameInDatabase("cis490:x:999:\n", 999), "cis490");
});

Deno.test("accountName() reads the file it is given; null when it is missing", async () => {
  await using tmp = await tempDir();
  const group = join(tmp.path, "group");
  await Deno.writeTextFile(group, "staff:x:50:\n");
  assertEquals(await accountName(50, { database: "group", path: group }), "staff");
  assertEquals(await accountName(50, { path: join(tmp.path, "absent") }), null);
});

Deno.test("processIdentity() knows our uid and gid under the binary's flags, where Deno.uid() cannot", async () => {
  await using tmp = await tempDir();
  const script = join(tmp.path, "who.ts");
  const identity = new URL("../../src/fs/identity.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { processIdentity } from "${identity}";\n` +
      `let direct = "refused";\ntry { direct = String(Deno.uid()); } catch { /* no --allow-sys */ }\n` +
      `console.log(JSON.stringify({ direct, found: await processIdentity() }));\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMISSION_FLAGS, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  assertEquals(out.code, 0, d.decode(out.stderr));
  assertEquals(JSON.parse(d.decode(out.stdout)), {
    direct: "refused",
    found: { uid: Deno.uid(), gid: Deno.gid() },
  });
});
