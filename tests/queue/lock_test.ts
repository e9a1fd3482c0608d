import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { join } from "node:path";
import { tempDir } from "../../devkit/fixtures.ts";
import {
  LOCK_FILE,
  lockDataRoot,
  LockHeldError,
  lockHolder,
  movesLockPath,
  withMovesLock,
} from "../../src/queue/lock.ts";
import { NotOwnerError } from "../../src/fs/owner.ts";
import { isRoot } from "../support/system_user.ts";

Deno.test("lockDataRoot() names the holder's pid every time two start at once", async () => {
  // Before the moves section, 219 of 300 such races read an empty file: "pid unknown".
  await using tmp = await tempDir();
  const rounds = 200;
  for (let i = 0; i < rounds; i++) {
    const root = join(tmp.path, `r${i}`);
    await Deno.mkdir(root);
    const results = await Promise.allSettled([
      lockDataRoot(join(root, LOCK_FILE), root),
      lockDataRoot(join(root, LOCK_FILE), root),
    ]);
    const refused = results.filter((r) => r.status === "rejected");
    assertEquals(refused.length, 1, `round ${i}: exactly one wins`);
    const error = (refused[0] as PromiseRejectedResult).reason;
    assert(error instanceof LockHeldError);
    assertEquals(error.pid, Deno.pid, `round ${i}: ${error.message}`);
    for (const r of results) if (r.status === "fulfilled") r.value.release();
  }
});

Deno.test("lockDataRoot() is free again once released, and says the data root", async () => {
  await using tmp = await tempDir();
  const lockFile = join(tmp.path, LOCK_FILE);
  const first = await lockDataRoot(lockFile, tmp.path);
  const error = await assertRejects(() => lockDataRoot(lockFile, tmp.path), LockHeldError);
  assertEquals(error.message, `another cis490-ship (pid ${Deno.pid}) holds ${tmp.path}`);
  first.release();
  (await lockDataRoot(lockFile, tmp.path)).release();
});

Deno.test("lockHolder() reports the holder's pid, and null when nobody holds it", async () => {
  await using tmp = await tempDir();
  assertEquals(await withMovesLock(tmp.path, () => lockHolder(tmp.path), { shared: true }), null);
  const lock = await lockDataRoot(join(tmp.path, LOCK_FILE), tmp.path);
  assertEquals(await lockHolder(tmp.path), { pid: Deno.pid });
  lock.release();
  assertEquals(await lockHolder(tmp.path), null, "the stale pid in the file is not a holder");
});

Deno.test("withMovesLock() runs exclusive sections one at a time and shared ones together", async () => {
  await using tmp = await tempDir();
  const events: string[] = [];
  let releaseFirst!: () => void;
  const firstHeld = Promise.withResolvers<void>();
  const first = withMovesLock(tmp.path, async () => {
    events.push("first in");
    firstHeld.resolve();
    await new Promise<void>((r) => (releaseFirst = r));
    events.push("first out");
  });
  await firstHeld.promise;
  const second = withMovesLock(tmp.path, () => void events.push("second in"));
  // Both shared readers get in while each other holds: neither waits for the other.
  const a = Promise.withResolvers<void>();
  const b = Promise.withResolvers<void>();
  const readers = (async () => {
    await first;
    await second;
    await Promise.all([
      withMovesLock(tmp.path, async () => {
        a.resolve();
        await b.promise;
      }, { shared: true }),
      withMovesLock(tmp.path, async () => {
        b.resolve();
        await a.promise;
      }, { shared: true }),
    ]);
  })();
  releaseFirst();
  await readers;
  assertEquals(events, ["first in", "first out", "second in"]);
});

Deno.test("withMovesLock() releases the section when fn throws", async () => {
  await using tmp = await tempDir();
  await assertRejects(() => withMovesLock(tmp.path, () => Promise.reject(new Error("boom"))));
  assertEquals(await withMovesLock(tmp.path, () => 7), 7);
});

Deno.test("withMovesLock() shared never creates the lock file (status creates nothing)", async () => {
  await using tmp = await tempDir();
  assertEquals(await withMovesLock(tmp.path, () => 7, { shared: true }), 7);
  assertEquals(await Deno.lstat(movesLockPath(tmp.path)).then(() => true, () => false), false);
  await withMovesLock(tmp.path, () => {});
  assertEquals(await withMovesLock(tmp.path, () => 8, { shared: true }), 8);
});

Deno.test(
  "withMovesLock() exclusive and lockDataRoot() refuse a caller who does not own the data root, creating nothing",
  {
    ignore: !isRoot,
  },
  async () => {
    await using tmp = await tempDir();
    const root = join(tmp.path, "data");
    await Deno.mkdir(root);
    await Deno.chown(root, 3_999_999, 3_999_999);
    await assertRejects(() => withMovesLock(root, () => {}), NotOwnerError);
    await assertRejects(() => lockDataRoot(join(root, LOCK_FILE), root), NotOwnerError);
    assertEquals(await withMovesLock(root, () => 9, { shared: true }), 9);
    assertEquals([...Deno.readDirSync(root)], []);
  },
);
