/** One shipper per `data_root`: an exclusive lock that the kernel drops when the process dies. */

/** Another process holds the data root. */
export class LockHeldError extends Error {
  constructor(readonly pid: number | null, dataRoot: string) {
    super(`another cis490-ship (pid ${pid ?? "unknown"}) holds ${dataRoot}`);
    this.name = "LockHeldError";
  }
}

/** A held lock; closing the file releases it. */
export interface DataRootLock {
  release(): void;
}

/**
 * Takes the exclusive lock on `lockFile` without waiting and writes our pid into it.
 * @throws {LockHeldError} when another process holds it.
 */
export async function lockDataRoot(lockFile: string, dataRoot: string): Promise<DataRootLock> {
  const file = await Deno.open(lockFile, { read: true, write: true, create: true, mode: 0o644 });
  if (!(await file.tryLock(true))) {
    file.close();
    const text = await Deno.readTextFile(lockFile).catch(() => "");
    const pid = Number.parseInt(text, 10);
    throw new LockHeldError(Number.isFinite(pid) ? pid : null, dataRoot);
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return { release: () => file.close() };
}
